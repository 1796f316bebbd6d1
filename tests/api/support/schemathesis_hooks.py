"""Schemathesis hooks for Kiln's API run (tests/api/openapi.rs).

tus chunks are `application/offset+octet-stream`: bytes, sent as schemathesis
sends `application/octet-stream`.
"""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
