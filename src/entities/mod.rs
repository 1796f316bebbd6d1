//! sea-orm entities for Kiln's tables.
//!
//! They mirror the migrations in `migration/` column for column: one module per
//! table, named after it, and a `prelude` that re-exports each `Entity` under
//! the table's name in CamelCase. Status columns stay `String` here; the typed
//! states live in the domain layer. The schema itself is owned by the
//! migrations, so change a table there first and then follow it here.

pub mod prelude;

pub mod api_tokens;
pub mod email_verifications;
pub mod file_shares;
pub mod file_variants;
pub mod files;
pub mod oauth_accounts;
pub mod password_resets;
pub mod processing_jobs;
pub mod revoked_tokens;
pub mod sessions;
pub mod transforms;
pub mod uploads;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;
