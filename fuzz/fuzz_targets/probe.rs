//! The header probe: width and height before any decode (Ingest).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::probe(data);
});
