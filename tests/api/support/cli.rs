//! [`kiln`]: the one way the tests run the `kiln` binary to completion, as an
//! operator would: outside the checkout (so a developer's `.env` cannot leak
//! in), with exactly the environment given (plus `PATH`), optionally reaching
//! a [`TestApp`]'s database and storage, optionally fed on stdin.
//!
//! ```ignore
//! let printed = kiln(&["user", "list"]).on(&app).stdout();
//! let refused = kiln(&["user", "create", "a@example.com"]).on(&app).stdin("short").run();
//! ```

use std::io::Write;
use std::process::{Command, Output, Stdio};

use kiln::config::StorageBackend;
use secrecy::ExposeSecret;

use super::app::{Env, JWT_SECRET, TestApp};

/// `kiln <args>`, not yet run.
pub struct Kiln {
    args: Vec<String>,
    env: Env,
    stdin: Option<String>,
}

/// `kiln <args>`, with an empty environment until told otherwise.
pub fn kiln(args: &[&str]) -> Kiln {
    Kiln {
        args: args.iter().map(|arg| arg.to_string()).collect(),
        env: Env::new(),
        stdin: None,
    }
}

impl Kiln {
    /// Adds `env` to the environment.
    pub fn envs(mut self, env: &Env) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// Adds one variable to the environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// What the command needs to reach `app`'s database and object store.
    pub fn on(mut self, app: &TestApp) -> Self {
        let config = &app.config;
        self = self
            .env("DATA_DIR", &config.data_dir.display().to_string())
            .env("DATABASE_URL", config.database.url.expose_secret())
            .env("JWT_SECRET", JWT_SECRET)
            .env("STORAGE_PREFIX", &config.storage.key_prefix);
        if let StorageBackend::S3 {
            endpoint,
            access_key,
            secret_key,
            bucket,
            ..
        } = &config.storage.backend
        {
            self = self
                .env("MINIO_ENDPOINT", endpoint.as_ref())
                .env("MINIO_ACCESS_KEY", access_key)
                .env("MINIO_SECRET_KEY", secret_key.expose_secret())
                .env("MINIO_BUCKET", bucket);
        }
        self
    }

    /// Feeds `input` on stdin (a password, say).
    pub fn stdin(mut self, input: &str) -> Self {
        self.stdin = Some(input.to_string());
        self
    }

    /// The command, to run or spawn as the test needs.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kiln"));
        command
            .args(&self.args)
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env);
        command
    }

    /// Runs it to the end; its exit status and output.
    pub fn run(self) -> Output {
        let mut command = self.command();
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let Some(input) = self.stdin else {
            return command.stdin(Stdio::null()).output().expect("kiln runs");
        };
        let mut child = command.stdin(Stdio::piped()).spawn().expect("kiln runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs it, checks it succeeded, and returns what it printed on stdout.
    pub fn stdout(self) -> String {
        let args = self.args.join(" ");
        let output = self.run();
        assert!(
            output.status.success(),
            "kiln {args} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}
