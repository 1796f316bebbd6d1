//! The processors and options fields of an upload, and the process endpoint's options.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if kiln::fuzzing::options(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
