//! A PDF job in the processor child's job loop, and its reply as the worker reads it.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if kiln::fuzzing::pdf_child(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
