//! `kiln user create|list|set-role|disable|enable`: the accounts an operator
//! manages by hand.
//!
//! - `create` makes an account with the rules registration applies (address,
//!   name, password strength), its address counted as verified: the operator
//!   vouches for it, and no mail goes out. The password comes on standard
//!   input, never as an argument that `ps` and shell history would keep.
//! - `set-role` makes an administrator. There is no page for it on purpose: an
//!   administrator sees every user's failed jobs, so becoming one takes access
//!   to the server and its configuration.
//! - `disable` stops every way into the account at once (password, OAuth, its
//!   API tokens, access tokens and web sessions are refused with 403) and keeps
//!   everything it owns; `enable` lets it in again.

use std::io::{IsTerminal, Read};

use actix::Addr;
use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::{ask, open_accounts, open_catalog, parse_email, print_table, when};
use crate::actors::accounts::CreateAccount;
use crate::actors::catalog::Catalog;
use crate::actors::catalog::admin::{ListUsers, SetUserDisabled, SetUserRole};
use crate::config::Config;
use crate::telemetry::RequestId;

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Creates an account whose address counts as verified. The password is
    /// read from standard input (`printf %s "$PASSWORD" | kiln user create ...`)
    /// and must pass the same rules as at registration.
    Create {
        /// The account's e-mail address.
        email: String,
        /// Its display name (defaults to the address's local part).
        #[arg(long)]
        name: Option<String>,
        /// Makes it an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Lists every account.
    List,
    /// Makes an account an administrator, who sees and retries every user's
    /// failed jobs in the web UI, or a regular user again.
    SetRole {
        /// The account's e-mail address.
        email: String,
        #[arg(value_enum)]
        role: UserRole,
    },
    /// Refuses every sign-in, token and session of an account until it is
    /// enabled again; its files and settings are kept.
    Disable {
        /// The account's e-mail address.
        email: String,
    },
    /// Lets a disabled account in again.
    Enable {
        /// The account's e-mail address.
        email: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserRole {
    Admin,
    User,
}

pub async fn run(config: &Config, action: UserAction) -> anyhow::Result<()> {
    let catalog = open_catalog(config).await?;
    match action {
        UserAction::Create { email, name, admin } => {
            create(config, catalog, &email, name.as_deref(), admin).await
        }
        UserAction::List => list(&catalog).await,
        UserAction::SetRole { email, role } => set_role(&catalog, &email, role).await,
        UserAction::Disable { email } => set_disabled(&catalog, &email, true).await,
        UserAction::Enable { email } => set_disabled(&catalog, &email, false).await,
    }
}

/// The password piped in on standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!(
            "pipe the password in on standard input, e.g. printf %s \"$PASSWORD\" | kiln user create ..."
        );
    }
    let mut password = String::new();
    stdin
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.strip_suffix('\n').unwrap_or(&password);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_string())
}

async fn create(
    config: &Config,
    catalog: Addr<Catalog>,
    email: &str,
    name: Option<&str>,
    admin: bool,
) -> anyhow::Result<()> {
    let password = password_from_stdin()?;
    let name = name.unwrap_or_else(|| email.trim().split('@').next().unwrap_or_default());
    let accounts = open_accounts(config, catalog)?;
    let create = CreateAccount {
        request_id: RequestId::generate(),
        email: email.to_string(),
        password: password.into(),
        name: name.to_string(),
        is_admin: admin,
    };
    let user = ask(&accounts, create).await?;
    tracing::info!(user_id = %user.id, is_admin = user.is_admin, "account created from the command line");
    let role = match user.is_admin {
        true => "an administrator",
        false => "a regular user",
    };
    println!(
        "created {} ({}), {role}; the address counts as verified and no mail was sent",
        user.email, user.id
    );
    Ok(())
}

async fn list(catalog: &Addr<Catalog>) -> anyhow::Result<()> {
    let users = ask(
        catalog,
        ListUsers {
            request_id: RequestId::generate(),
        },
    )
    .await?;
    let yes_no = |yes: bool| if yes { "yes" } else { "no" }.to_string();
    let rows: Vec<[String; 7]> = users
        .into_iter()
        .map(|user| {
            [
                user.id.to_string(),
                user.email,
                user.name,
                role_of(user.is_admin).to_string(),
                yes_no(user.email_verified),
                user.disabled_at.map_or_else(|| "no".to_string(), when),
                when(user.created_at),
            ]
        })
        .collect();
    print_table(
        [
            "ID", "EMAIL", "NAME", "ROLE", "VERIFIED", "DISABLED", "CREATED",
        ],
        &rows,
    );
    Ok(())
}

fn role_of(is_admin: bool) -> &'static str {
    match is_admin {
        true => "admin",
        false => "user",
    }
}

async fn set_role(catalog: &Addr<Catalog>, email: &str, role: UserRole) -> anyhow::Result<()> {
    let email = parse_email(email)?;
    let user = ask(
        catalog,
        SetUserRole {
            request_id: RequestId::generate(),
            email: email.as_str().to_string(),
            is_admin: role == UserRole::Admin,
        },
    )
    .await?
    .with_context(|| format!("no account uses {email}"))?;
    tracing::info!(user_id = %user.id, is_admin = user.is_admin, "role set from the command line");
    match user.is_admin {
        true => println!("{} is now an administrator", user.email),
        false => println!("{} is now a regular user", user.email),
    }
    Ok(())
}

async fn set_disabled(catalog: &Addr<Catalog>, email: &str, disabled: bool) -> anyhow::Result<()> {
    let email = parse_email(email)?;
    let user = ask(
        catalog,
        SetUserDisabled {
            request_id: RequestId::generate(),
            email: email.as_str().to_string(),
            disabled,
        },
    )
    .await?
    .with_context(|| format!("no account uses {email}"))?;
    tracing::info!(user_id = %user.id, disabled, "account disabled or enabled from the command line");
    match user.disabled_at {
        Some(since) => println!(
            "{} is disabled (since {} UTC): its sign-ins, API tokens, access tokens and web \
             sessions are refused until `kiln user enable`",
            user.email,
            when(since)
        ),
        None => println!("{} is enabled: it can sign in again", user.email),
    }
    Ok(())
}
