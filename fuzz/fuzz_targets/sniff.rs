//! Type sniffing of an upload's first bytes (Ingest).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::sniff(data);
});
