//! `kiln user create|list|set-role|set-quota|disable|enable`: the accounts an
//! operator manages by hand.
//!
//! - `create` makes an account with the rules registration applies (address,
//!   name, password strength), its address counted as verified: the operator
//!   vouches for it, and no mail goes out. The password comes on standard
//!   input, never as an argument that `ps` and shell history would keep.
//! - `set-role` makes an administrator. There is no page for it on purpose: an
//!   administrator sees every user's failed jobs, so becoming one takes access
//!   to the server and its configuration.
//! - `set-quota` sets an account's own limits in place of `DEFAULT_QUOTA_*`,
//!   lifts them (`--unlimited`) or returns it to the defaults (`--default`);
//!   `list` shows each account's usage against its limits.
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
use crate::actors::catalog::admin::{
    ListUsers, QuotaLimit, SetQuota, SetUserDisabled, SetUserRole,
};
use crate::config::Config;
use crate::domain::quota::{Usage, human_size};
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
    /// Sets how much an account may store (originals and variants), in place
    /// of DEFAULT_QUOTA_BYTES and DEFAULT_QUOTA_FILES. A limit not named is
    /// kept. Uploads and variants that would pass it are refused; what is
    /// stored already stays.
    #[command(group(clap::ArgGroup::new("quota").required(true).multiple(true)
        .args(["bytes", "files", "unlimited", "default"])))]
    SetQuota {
        /// The account's e-mail address.
        email: String,
        /// Bytes it may store: 10GiB, 500MB, 1048576.
        #[arg(long, value_parser = parse_quota_bytes)]
        bytes: Option<u64>,
        /// Files it may have.
        #[arg(long)]
        files: Option<u64>,
        /// No limit at all, whatever the defaults.
        #[arg(long, conflicts_with_all = ["bytes", "files", "default"])]
        unlimited: bool,
        /// The configured defaults again, for every limit not named.
        #[arg(long)]
        default: bool,
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
        UserAction::SetQuota {
            email,
            bytes,
            files,
            unlimited,
            default,
        } => {
            let limit = |own: Option<u64>| match (own, default) {
                (Some(own), _) => QuotaLimit::Own(own),
                (None, true) => QuotaLimit::Default,
                (None, false) => QuotaLimit::Keep,
            };
            let quota = SetQuota {
                request_id: RequestId::generate(),
                email: parse_email(&email)?.as_str().to_string(),
                unlimited,
                bytes: limit(bytes),
                files: limit(files),
            };
            set_quota(&catalog, quota).await
        }
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
    let rows: Vec<[String; 9]> = users
        .into_iter()
        .map(|(user, usage)| {
            [
                user.id.to_string(),
                user.email,
                user.name,
                role_of(user.is_admin).to_string(),
                yes_no(user.email_verified),
                user.disabled_at.map_or_else(|| "no".to_string(), when),
                when(user.created_at),
                stored_of(&usage),
                files_of(&usage),
            ]
        })
        .collect();
    print_table(
        [
            "ID", "EMAIL", "NAME", "ROLE", "VERIFIED", "DISABLED", "CREATED", "STORED", "FILES",
        ],
        &rows,
    );
    Ok(())
}

/// "12 MB / 100 MB", or "12 MB / -" without a limit.
fn stored_of(usage: &Usage) -> String {
    let quota = usage
        .quota_bytes
        .map_or_else(|| "-".to_string(), human_size);
    format!("{} / {quota}", human_size(usage.bytes))
}

/// "3 / 10", or "3 / -" without a limit.
fn files_of(usage: &Usage) -> String {
    let quota = usage
        .quota_files
        .map_or_else(|| "-".to_string(), |q| q.to_string());
    format!("{} / {quota}", usage.files)
}

/// A size as `--bytes` takes it: 10GiB, 500MB, 1048576.
fn parse_quota_bytes(raw: &str) -> Result<u64, String> {
    raw.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|err| format!("{raw:?} is not a size like 10GiB or 1048576: {err}"))
}

async fn set_quota(catalog: &Addr<Catalog>, quota: SetQuota) -> anyhow::Result<()> {
    let email = quota.email.clone();
    let (user, usage) = ask(catalog, quota)
        .await?
        .with_context(|| format!("no account uses {email}"))?;
    tracing::info!(user_id = %user.id, quota_bytes = ?usage.quota_bytes, quota_files = ?usage.quota_files, "quota set from the command line");
    println!(
        "{} may store {} in {}; it stores {} in {} files",
        user.email,
        usage
            .quota_bytes
            .map_or_else(|| "any amount".to_string(), human_size),
        usage.quota_files.map_or_else(
            || "any number of files".to_string(),
            |q| format!("{q} files")
        ),
        human_size(usage.bytes),
        usage.files,
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
