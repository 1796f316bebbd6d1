//! `kiln serve`, `kiln api` and `kiln worker`: the server's roles, and the
//! composition root that starts one ([`Application`]).

use crate::config::Config;
use crate::startup::{Application, Role};

#[derive(Debug, clap::Args, Default)]
pub struct RunArgs {
    /// Do not apply pending migrations at start (overrides AUTO_MIGRATE).
    #[arg(long)]
    pub no_migrate: bool,
}

/// Builds the application for `role` and serves until a signal stops it.
pub async fn run(role: Role, args: RunArgs, mut config: Config) -> anyhow::Result<()> {
    crate::isolation::memory::return_freed_memory();
    if args.no_migrate {
        config.auto_migrate = false;
    }
    Application::build(config, role)
        .await?
        .run_until_stopped()
        .await
}
