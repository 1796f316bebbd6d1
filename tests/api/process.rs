//! The `kiln` binary as an operator runs it: JSON logs that tie a request to its
//! id and user, and a clean stop on SIGTERM and SIGINT for each role.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ServiceDatabaseHandle, base_env, wait_until};

/// A `kiln` process whose stderr (its log) is collected as it runs.
struct Running {
    child: Child,
    address: String,
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
    _database: Option<ServiceDatabaseHandle>,
}

async fn start(role: &str, data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Running {
    let (env, database) = base_env(data_dir).await;
    // A free port: bind, read it, release it for kiln.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg(role)
        .current_dir(data_dir)
        .env_clear()
        .envs(&env)
        .env("PORT", port.to_string())
        .envs(extra.iter().copied())
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
    Running {
        child,
        address: format!("http://127.0.0.1:{port}"),
        log,
        reader,
        _database: database,
    }
}

impl Running {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn wait_for_log(&self, needle: &str) {
        wait_until(Duration::from_secs(30), || async {
            self.log().contains(needle)
        })
        .await;
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; returns its exit code and log.
    async fn wait_for_exit(self) -> (Option<i32>, String) {
        let Running {
            mut child,
            log,
            reader,
            _database,
            ..
        } = self;
        let mut code = None;
        wait_until(Duration::from_secs(20), || {
            let exited = child.try_wait().unwrap();
            code = exited.map(|status| status.code());
            async move { exited.is_some() }
        })
        .await;
        // The process is gone, so its stderr is at end-of-file and the reader ends.
        reader.join().unwrap();
        let log = log.lock().unwrap().clone();
        (code.flatten(), log)
    }
}

#[actix_rt::test]
async fn json_logs_carry_the_request_id_and_user_id_and_sigterm_stops_cleanly() {
    let data_dir = tempfile::tempdir().unwrap();
    let kiln = start("serve", data_dir.path(), &[("LOG_FORMAT", "json")]).await;
    kiln.wait_for_log("kiln started").await;
    let client = reqwest::Client::new();

    let register = client
        .post(format!("{}/api/auth/register", kiln.address))
        .json(&json!({ "email": "ops@example.com", "password": PASSWORD, "name": "Ops" }))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::CREATED);
    let user: Value = register.json().await.unwrap();
    let login: Value = client
        .post(format!("{}/api/auth/login", kiln.address))
        .json(&json!({ "email": "ops@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = client
        .get(format!("{}/api/me", kiln.address))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .header("x-request-id", "ops-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    kiln.wait_for_log("ops-trace-1").await;

    kiln.signal("TERM");
    let (code, log) = kiln.wait_for_exit().await;
    assert_eq!(code, Some(0), "{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "request finished" && l["span"]["request_id"] == "ops-trace-1"
        })
        .expect("the request is logged under its id");
    assert_eq!(finished["span"]["user_id"], user["user"]["id"]);
    assert_eq!(finished["fields"]["status"], 200);
    assert!(log.contains("kiln stopped"));
    assert!(!log.contains(PASSWORD), "passwords never reach the log");
}

#[actix_rt::test]
async fn sigint_stops_the_api_and_sigterm_stops_a_worker() {
    let api_dir = tempfile::tempdir().unwrap();
    let api = start("api", api_dir.path(), &[]).await;
    api.wait_for_log("kiln started").await;
    api.signal("INT");
    let (code, log) = api.wait_for_exit().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("kiln stopped"), "{log}");

    let worker_dir = tempfile::tempdir().unwrap();
    let worker = start("worker", worker_dir.path(), &[]).await;
    worker.wait_for_log("kiln started").await;
    let client = reqwest::Client::new();
    assert!(
        client
            .get(format!("{}/healthz", worker.address))
            .send()
            .await
            .is_err(),
        "a worker serves no HTTP"
    );
    worker.signal("TERM");
    let (code, log) = worker.wait_for_exit().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("kiln stopped"), "{log}");
}
