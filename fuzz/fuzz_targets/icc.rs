//! ICC profile conversion to sRGB, as the decoders apply a file's profile.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::icc(data);
});
