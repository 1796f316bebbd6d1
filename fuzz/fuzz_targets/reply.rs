//! A processor child's reply, as the worker reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kiln::fuzzing::reply(data));
