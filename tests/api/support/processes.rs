//! [`KilnProcess`]: the real `kiln` binary running apart from the test, as an
//! operator starts it (`serve`, `api`, `worker`), with its log collected as it
//! runs, so a test can signal it, kill it, or read what it said.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::app::Env;
use super::fixtures::free_port;
use super::wait::wait_for;

/// A `kiln` process whose stderr (its log) is collected as it runs.
pub struct KilnProcess {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl KilnProcess {
    /// Starts `kiln <role>` in `dir` with exactly `env` (plus PATH and a free PORT).
    pub fn spawn(role: &[&str], dir: &Path, env: &Env) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(role)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kiln starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self {
            child,
            port,
            log,
            reader: Some(reader),
        }
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log says `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        wait_for(Duration::from_secs(60), || async {
            let log = self.log();
            match log.contains(needle) {
                true => Ok(()),
                false => Err(format!("no {needle:?} in the log:\n{log}")),
            }
        })
        .await;
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; returns its exit code and log.
    pub async fn wait_for_exit(mut self) -> (Option<i32>, String) {
        let code = wait_for(Duration::from_secs(40), || {
            let exited = self.child.try_wait().unwrap();
            let log = self.log();
            async move {
                exited
                    .map(|status| status.code())
                    .ok_or(format!("kiln did not exit:\n{log}"))
            }
        })
        .await;
        // The process is gone, so its stderr is at end-of-file and the reader ends.
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (code, self.log())
    }
}

impl Drop for KilnProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every line of a `LOG_FORMAT=json` log, parsed: each must be one JSON object.
pub fn json_lines(log: &str) -> Vec<serde_json::Map<String, Value>> {
    log.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            _ => panic!("not one JSON object: {line}"),
        })
        .collect()
}
