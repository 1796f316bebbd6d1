//! Small real files the tests upload, made by `scripts/make_fixtures.py`
//! into `tests/fixtures/`, and loopback ports for the servers tests start.

use std::net::TcpListener;

/// Where fixture `name` lives, as the command line takes it.
pub fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The bytes of fixture `name`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
}

/// Fixture `name` asking the processor child that reads it for `fault`
/// (`nap-300`, `crash`, ...; `src/isolation/faults.rs`), which a debug build's
/// child obeys when Kiln runs with `KILN_TEST_FAULTS=1`. The bytes after the
/// image's end leave it a valid image.
pub fn fixture_with_fault(name: &str, fault: &str) -> Vec<u8> {
    let mut bytes = fixture(name);
    bytes.extend_from_slice(format!("kiln-test-fault:{fault}").as_bytes());
    bytes
}

/// A loopback port that was free a moment ago. A server that may lose it to
/// someone else between this probe and its own bind says so by not starting.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}
