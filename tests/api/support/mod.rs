//! The test harness: what the test modules share, one module per concern.
//! Test modules hold tests and the few helpers only they need; anything two
//! modules need lives here, once.
//!
//! Kiln under test
//! - [`app`]: `spawn_app()` / `spawn_app_with(settings)`, the real app in this
//!   process on port 0 with a database, storage prefix and Redis namespace of
//!   its own; [`TestApp`](app::TestApp), with its database and the mail it
//!   writes to disk; `app_env()`, the same settings for a process started
//!   apart; the shared constants (`PASSWORD`, ...).
//! - [`actors`]: what a test sets up through the app's actors (files and jobs
//!   recorded, claimed, held or failed; objects stored; an administrator made).
//! - [`processes`]: [`KilnProcess`](processes::KilnProcess), the `kiln` binary
//!   running apart (`serve`, `api`, `worker`) with its log.
//! - [`cluster`]: [`Cluster`](cluster::Cluster), an api and workers as
//!   separate processes, for the chaos, observability and Prometheus tests.
//! - [`cli`]: `kiln(args)`, the one runner of the binary to completion (the
//!   admin commands, `migrate`, `process`).
//!
//! Talking to it
//! - [`api`]: [`Api`](api::Api), one helper per JSON route or user step
//!   (sign up, upload, wait until processed, read a job, download);
//!   `error_code()`, `retry_after()`.
//! - [`web`]: [`WebClient`](web::WebClient), the cookie-holding client of the
//!   web pages over HTTP (forms with CSRF, the pages' scripted API calls).
//! - [`browser`]: [`Browser`](browser::Browser), headless Chromium.
//! - [`events`]: [`EventStream`](events::EventStream), server-sent events.
//! - [`mail`]: the mail Kiln sent ([`Inbox`](mail::Inbox)).
//!
//! Around it
//! - [`servers`]: private Redis, S3 (s3s-fs), SMTP (aiosmtpd) and Prometheus
//!   servers, a TCP proxy that can be cut, a page on another origin.
//! - [`oauth_provider`]: a Google- and GitHub-like OAuth provider on loopback.
//! - [`fixtures`]: `fixture()`, `fixture_path()` and `free_port()`.
//! - [`wait`]: `wait_for()` / `wait_until()`, every bounded wait (no test
//!   sleeps a fixed time).

pub mod actors;
pub mod api;
pub mod app;
pub mod browser;
pub mod cli;
pub mod cluster;
pub mod events;
pub mod fixtures;
pub mod mail;
pub mod oauth_provider;
pub mod processes;
pub mod servers;
pub mod wait;
pub mod web;
