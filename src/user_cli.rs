//! `kiln user set-role <email> admin|user`: who is an administrator. There is
//! no page for it on purpose: an administrator sees every user's failed jobs,
//! so becoming one takes access to the server and its configuration.
//!
//! Like `kiln migrate` it opens the configured database directly, with no
//! server running; the query itself is the Catalog's, on a Catalog of its own.

use actix::Actor;
use anyhow::{Context as _, anyhow, bail};

use crate::actors::catalog::messages::SetUserRole;
use crate::actors::catalog::{self, Catalog};
use crate::cli::{UserAction, UserRole};
use crate::config::Config;
use crate::domain::Email;
use crate::telemetry::RequestId;

pub async fn run(config: &Config, action: UserAction) -> anyhow::Result<()> {
    match action {
        UserAction::SetRole { email, role } => set_role(config, &email, role).await,
    }
}

async fn set_role(config: &Config, email: &str, role: UserRole) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|message| anyhow!(message))?;
    let db = catalog::connect(&config.database)
        .await
        .context("cannot open the database")?;
    let catalog = Catalog::new(db).start();
    let user = catalog
        .send(SetUserRole {
            request_id: RequestId::generate(),
            email: email.as_str().to_string(),
            is_admin: role == UserRole::Admin,
        })
        .await?
        .context("cannot change the account")?;
    let Some(user) = user else {
        bail!("no account uses {email}");
    };
    tracing::info!(user_id = %user.id, is_admin = user.is_admin, "role set from the command line");
    match user.is_admin {
        true => println!("{} is now an administrator", user.email),
        false => println!("{} is now a regular user", user.email),
    }
    Ok(())
}
