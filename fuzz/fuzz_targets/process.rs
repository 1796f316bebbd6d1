//! A processor job on an image original, end to end.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if kiln::fuzzing::process(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
