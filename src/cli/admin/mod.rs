//! The operator's commands: `kiln user`, `kiln token`, `kiln jobs`, `kiln
//! files` and `kiln storage`. They work on the configured database and object
//! store with no server running, so an operator can act on a stopped or a
//! busy installation alike.
//!
//! Like every other part of Kiln they hold no pool and no store handle: each
//! command starts a Catalog (and, when it touches objects, a Storage; for an
//! account's use cases, an Accounts actor) of its own and sends them the same
//! typed messages the HTTP handlers send, so the same rules apply. A running
//! Kiln sees the changes on its next query; jobs reach its workers through its
//! reconciler, since the command line has no transport.
//!
//! Exit codes: 0 done, 1 failed (or, for `storage verify`, problems remain),
//! 2 bad arguments or configuration.

pub mod jobs;
pub mod progress;
pub mod purge;
pub mod storage;
pub mod tokens;
pub mod users;

use std::time::Duration;

use actix::{Actor, Addr, SyncArbiter};
use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actors::Asks;
use crate::actors::accounts::{self, Accounts};
use crate::actors::catalog::User;
use crate::actors::catalog::accounts::FindLoginCandidate;
use crate::actors::catalog::admin::ScanFiles;
use crate::actors::catalog::files::{FileCursor, FileDetails};
use crate::actors::catalog::{self, Catalog};
use crate::actors::credentials::Credentials;
use crate::actors::ingest::Ingest;
use crate::actors::limiter::Limiter;
use crate::actors::mailer::Mailer;
use crate::actors::storage::Storage;
use crate::config::Config;
use crate::domain::Email;
use crate::telemetry::RequestId;

/// Longest a command waits for one actor's reply: long enough for any one
/// step of a command, short enough that a wedged actor ends the command.
const ACTOR_WAIT: Duration = Duration::from_secs(3600);

/// Sends `msg` and waits for the actor's reply, its error (or the mailbox's)
/// becoming the command's.
pub async fn ask<M, To: Asks<M>>(addr: &To, msg: M) -> anyhow::Result<To::Value>
where
    To::Error: std::error::Error + Send + Sync + 'static,
{
    addr.ask_within(msg, ACTOR_WAIT).await
}

/// Files in upload order, a page at a time: what `kiln files purge` and `kiln
/// storage verify` walk. Each page starts after the last file of the one
/// before, so files added meanwhile do not shift it.
pub struct FileScan {
    catalog: Addr<Catalog>,
    created_before: Option<DateTime<Utc>>,
    owner: Option<Uuid>,
    after: Option<FileCursor>,
}

impl FileScan {
    /// Files read per page.
    const PAGE: u64 = 100;

    /// Every file, or those uploaded before `created_before` and owned by `owner`.
    pub fn new(
        catalog: Addr<Catalog>,
        created_before: Option<DateTime<Utc>>,
        owner: Option<Uuid>,
    ) -> Self {
        Self {
            catalog,
            created_before,
            owner,
            after: None,
        }
    }

    /// The next page; empty once every file has been read.
    pub async fn next_page(&mut self) -> anyhow::Result<Vec<FileDetails>> {
        let scan = ScanFiles {
            request_id: RequestId::generate(),
            created_before: self.created_before,
            owner: self.owner,
            after: self.after.clone(),
            limit: Self::PAGE,
        };
        let page = ask(&self.catalog, scan).await?;
        if let Some(last) = page.last() {
            self.after = Some(FileCursor {
                created_at: last.file.created_at,
                id: last.file.id,
            });
        }
        Ok(page)
    }
}

/// Opens the configured database on a Catalog of the command's own.
pub async fn open_catalog(config: &Config) -> anyhow::Result<Addr<Catalog>> {
    let db = catalog::connect(&config.database)
        .await
        .context("cannot open the database (DATABASE_URL, DATA_DIR)")?;
    Ok(Catalog::new(db, config.quotas).start())
}

/// An Accounts actor of the command's own, over `catalog`, so an account made
/// or given a token here follows the server's rules. Its Limiter counts in
/// memory (the operator is not rate-limited); its Mailer is the configured one.
pub fn open_accounts(config: &Config, catalog: Addr<Catalog>) -> anyhow::Result<Addr<Accounts>> {
    // Argon2 runs on a thread of its own, as it does in the server.
    let credentials = SyncArbiter::start(1, Credentials::default);
    let limiter = Limiter::new(None, config.rate_limits).start();
    let mailer = Mailer::new(&config.mail, config.public_url(config.port))
        .context("cannot set up mail (SMTP_HOST, SMTP_TLS)")?
        .start();
    let accounts = Accounts::new(accounts::Peers {
        catalog,
        credentials,
        limiter,
        mailer,
        session_max_age: config.sessions.max_age,
        oauth: config.oauth.clone(),
    });
    Ok(accounts.start())
}

/// An Ingest actor of the command's own, over `catalog` and `storage`: the
/// rules a file's use cases keep are the server's. It has no transport, so
/// jobs it queues wait for a running Kiln's reconciler.
pub fn open_ingest(
    config: &Config,
    catalog: Addr<Catalog>,
    storage: Addr<Storage>,
) -> Addr<Ingest> {
    Ingest::new(
        storage,
        catalog,
        None,
        config.max_upload_size,
        config.extra_allowed_types.clone(),
        config.presign_ttl,
    )
    .start()
}

/// Opens the configured object store on a Storage of the command's own.
pub fn open_storage(config: &Config) -> anyhow::Result<Addr<Storage>> {
    // The command line hands out no download links; a random key keeps any
    // link it could sign useless everywhere else.
    let storage = Storage::open(
        &config.storage,
        config.public_url(config.port),
        rand::random(),
    )
    .context("cannot open object storage (MINIO_* / DATA_DIR)")?;
    Ok(storage.start())
}

/// An address as registration stores it (trimmed, lower-case), or why it is
/// not one.
pub fn parse_email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).map_err(|message| anyhow!(message))
}

/// The account with `email`.
pub async fn find_account(catalog: &Addr<Catalog>, email: &str) -> anyhow::Result<User> {
    let email = parse_email(email)?;
    let candidate = ask(
        catalog,
        FindLoginCandidate {
            request_id: RequestId::generate(),
            email: email.as_str().to_string(),
        },
    )
    .await?;
    match candidate {
        Some(candidate) => Ok(candidate.user),
        None => bail!("no account uses {email}"),
    }
}

/// A number of days as `30d` (or `30`), for `--older-than` and `--expires-in`.
pub fn parse_days(raw: &str) -> Result<u32, String> {
    let digits = raw.strip_suffix('d').unwrap_or(raw);
    match digits.parse::<u32>() {
        Ok(days) if days > 0 => Ok(days),
        _ => Err(format!("{raw:?} is not a number of days like 30d")),
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
}

/// A timestamp in a table: UTC to the minute.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::parse_days;

    #[test]
    fn days_are_written_with_or_without_a_d() {
        assert_eq!(parse_days("30d"), Ok(30));
        assert_eq!(parse_days("7"), Ok(7));
        for bad in ["0d", "-1d", "30h", "d", ""] {
            assert!(parse_days(bad).is_err(), "{bad:?}");
        }
    }
}
