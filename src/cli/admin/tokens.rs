//! `kiln token create <email> --name N [--expires-in 90d]`: an API token for a
//! script or a machine, made by the operator rather than through the owner's
//! settings page.
//!
//! It asks the Accounts actor, so the name and lifetime rules and the stored
//! hash are those of tokens made over the API; unlike the API, it makes tokens
//! for accounts whose address is not verified too (see
//! [`Requester::Operator`]). Only the token goes to standard output, so
//! `TOKEN=$(kiln token create ...)` just works.

use anyhow::bail;
use clap::Subcommand;

use super::{ask, find_account, open_accounts, open_catalog, parse_days};
use crate::actors::accounts::{CreateApiToken, Requester};
use crate::config::Config;
use crate::telemetry::RequestId;

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Makes an API token for an account and prints only the token.
    Create {
        /// The account's e-mail address.
        email: String,
        /// What the token is for; shown in the owner's settings.
        #[arg(long)]
        name: String,
        /// Lifetime in days, e.g. 90d (never expires when left out).
        #[arg(long, value_name = "DAYS", value_parser = parse_days)]
        expires_in: Option<u32>,
    },
}

pub async fn run(config: &Config, action: TokenAction) -> anyhow::Result<()> {
    let TokenAction::Create {
        email,
        name,
        expires_in,
    } = action;
    let catalog = open_catalog(config).await?;
    let user = find_account(&catalog, &email).await?;
    if user.is_disabled() {
        bail!("{} is disabled; `kiln user enable` it first", user.email);
    }
    let accounts = open_accounts(config, catalog)?;
    let create = CreateApiToken {
        request_id: RequestId::generate(),
        requester: Requester::Operator,
        user_id: user.id,
        name,
        expires_in_days: expires_in.map(i64::from),
    };
    let created = ask(&accounts, create).await?;
    println!("{}", created.secret);
    Ok(())
}
