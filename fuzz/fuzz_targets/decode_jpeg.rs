//! The JPEG (full and DCT-scaled through libjpeg) decoder path every image processor takes.
#![no_main]

use kiln::processing::MediaKind;
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if kiln::fuzzing::decode(MediaKind::Jpeg, data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
