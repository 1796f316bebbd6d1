//! Kiln's database schema: one migration per table, in dependency order, then
//! one per later change (never an edit of a migration that has shipped).
//!
//! Every migration uses portable sea-query builders (and, to fill a new column
//! from existing rows, SQL that both read alike), so the same files run up and
//! down on SQLite (the embedded default) and PostgreSQL. Secrets are
//! stored only as hashes (`*_hash` columns); child rows cascade on delete of
//! their user or file. `migration/tests/up_down_up.rs` proves up → down → up on
//! both backends.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_users;
mod m20261128_000002_create_sessions;
mod m20261128_000003_create_oauth_accounts;
mod m20261128_000004_create_api_tokens;
mod m20261128_000005_create_revoked_tokens;
mod m20261128_000006_create_files;
mod m20261128_000007_create_file_variants;
mod m20261128_000008_create_processing_jobs;
mod m20261128_000009_create_password_resets;
mod m20261128_000010_create_email_verifications;
mod m20261201_000011_add_users_token_generation;
mod m20261201_000012_add_users_disabled_at;
mod m20261203_000013_add_file_variants_sha256;
mod m20261203_000014_add_files_thumbhash;
mod m20261203_000015_create_file_shares;
mod m20261204_000016_create_transforms;
mod m20261204_000017_add_users_quota;
mod m20261204_000018_add_files_dedup;
mod m20261205_000019_create_uploads;
mod m20261205_000020_create_webhooks;

/// Runs Kiln's migrations; `up` applies them in this order, `down` in reverse.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_users::Migration),
            Box::new(m20261128_000002_create_sessions::Migration),
            Box::new(m20261128_000003_create_oauth_accounts::Migration),
            Box::new(m20261128_000004_create_api_tokens::Migration),
            Box::new(m20261128_000005_create_revoked_tokens::Migration),
            Box::new(m20261128_000006_create_files::Migration),
            Box::new(m20261128_000007_create_file_variants::Migration),
            Box::new(m20261128_000008_create_processing_jobs::Migration),
            Box::new(m20261128_000009_create_password_resets::Migration),
            Box::new(m20261128_000010_create_email_verifications::Migration),
            Box::new(m20261201_000011_add_users_token_generation::Migration),
            Box::new(m20261201_000012_add_users_disabled_at::Migration),
            Box::new(m20261203_000013_add_file_variants_sha256::Migration),
            Box::new(m20261203_000014_add_files_thumbhash::Migration),
            Box::new(m20261203_000015_create_file_shares::Migration),
            Box::new(m20261204_000016_create_transforms::Migration),
            Box::new(m20261204_000017_add_users_quota::Migration),
            Box::new(m20261204_000018_add_files_dedup::Migration),
            Box::new(m20261205_000019_create_uploads::Migration),
            Box::new(m20261205_000020_create_webhooks::Migration),
        ]
    }
}
