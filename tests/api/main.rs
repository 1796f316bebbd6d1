//! Kiln's integration tests: one binary that starts the real application on
//! port 0 for each test. `KILN_TEST_MODE=services` runs the same tests against
//! PostgreSQL, Redis and an S3-compatible server (see `scripts/test.sh`).
//!
//! `support/` is the harness (its `mod.rs` maps it); every other module here
//! is a set of tests named as sentences.

mod support;

mod accounts;
mod browser_flows;
mod browser_smoke;
mod chaos;
mod cli;
mod cli_admin;
mod cli_users;
mod content_safety;
mod dedup;
mod delivery;
mod event_streams;
mod http_basics;
mod migrate_backend;
mod oauth;
mod observability;
mod openapi;
mod outcomes;
mod pipeline;
mod process;
mod processor_isolation;
mod prometheus;
mod quotas;
mod recovery;
mod resumable;
mod retries;
mod shares;
mod storage;
mod tokens;
mod transforms;
mod watermark;
mod web_accounts;
mod web_admin;
mod web_files;
mod web_settings;
mod webhooks;
