//! The upload form reader of POST /api/upload (first line: the Content-Type).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::http::api::fuzz_upload_form(data);
});
