//! Real servers a test starts for itself, so it can stop, flush, cut or kill
//! them without disturbing other tests: a private Redis, a private
//! S3-compatible server (s3s-fs), a private SMTP server (aiosmtpd), a private
//! Prometheus, a TCP proxy that can be cut, and a page on another origin.
//! Each runs on a loopback port of its own and is stopped when dropped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::fixtures::free_port;
use super::mail::Inbox;
use super::wait::wait_for;

/// Whether something accepts connections on loopback `port`.
async fn answers(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A server's process on a loopback port of its own, which a test can stop
/// and start again on that port; stopped when dropped.
struct ServerProcess {
    port: u16,
    child: Option<Child>,
}

impl ServerProcess {
    fn new() -> Self {
        Self::on(free_port())
    }

    fn on(port: u16) -> Self {
        Self { port, child: None }
    }

    /// Runs `command` as the server, its stderr into `log` if given, and
    /// waits until it answers (failing with the log should it exit first).
    async fn run(&mut self, mut command: Command, what: &str, log: Option<&Path>) {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("{what} does not run: {error}"));
        self.child = Some(child);
        let port = self.port;
        wait_for(Duration::from_secs(20), async || {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "{what} exited ({exited:?}):\n{}",
                log.and_then(|path| std::fs::read_to_string(path).ok())
                    .unwrap_or_default()
            );
            match answers(port).await {
                true => Ok(()),
                false => Err(format!("{what} does not answer on port {port}")),
            }
        })
        .await;
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `redis-server` of this test's own, on a port of its own.
pub struct PrivateRedis {
    server: ServerProcess,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut redis = Self {
            server: ServerProcess::new(),
        };
        redis.resume().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.server.port)
    }

    /// Starts the server again on the same port (empty: it keeps nothing).
    pub async fn resume(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.server.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        self.server.run(command, "redis-server", None).await;
    }

    pub fn stop(&mut self) {
        self.server.stop();
    }

    fn cli(&self, args: &[&str]) -> Command {
        let mut command = Command::new("redis-cli");
        command
            .args(["-p", &self.server.port.to_string()])
            .args(args);
        command
    }

    /// Its connections now, as `CLIENT LIST` shows them.
    pub fn clients(&self) -> Vec<RedisClient> {
        let output = self.cli(&["CLIENT", "LIST"]).output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| {
                let field = |name: &str| {
                    line.split(' ')
                        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                        .unwrap_or_default()
                        .to_string()
                };
                RedisClient {
                    command: field("cmd"),
                    idle: Duration::from_secs(field("idle").parse().unwrap()),
                    blocked: field("flags").contains('b'),
                }
            })
            .collect()
    }

    /// Runs one command with `redis-cli`; returns what it printed, trimmed.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.cli(args).output().unwrap();
        assert!(output.status.success(), "redis-cli {args:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    pub fn flush_all(&self) {
        let status = self
            .cli(&["FLUSHALL"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// One connection to a [`PrivateRedis`].
#[derive(Debug)]
pub struct RedisClient {
    /// The last command it sent (`xreadgroup`, `client|list` ...).
    pub command: String,
    /// How long since it last sent one, in whole seconds.
    pub idle: Duration,
    /// Whether it waits in a blocking command.
    pub blocked: bool,
}

pub const S3_ACCESS_KEY: &str = "private-key";
pub const S3_SECRET_KEY: &str = "private-secret";
pub const S3_BUCKET: &str = "private-bucket";

/// An s3s-fs server of this test's own (installed by `scripts/test.sh`).
pub struct PrivateS3 {
    server: ServerProcess,
    dir: tempfile::TempDir,
}

fn s3s_fs_binary() -> PathBuf {
    if let Ok(path) = std::env::var("KILN_S3_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    let installed = home.join("bin/s3s-fs");
    if installed.exists() {
        installed
    } else {
        PathBuf::from("s3s-fs")
    }
}

impl PrivateS3 {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(S3_BUCKET)).unwrap();
        let mut s3 = Self {
            server: ServerProcess::new(),
            dir,
        };
        s3.resume().await;
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// The app settings that point storage at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        settings(&[
            ("MINIO_ENDPOINT", &self.endpoint()),
            ("MINIO_ACCESS_KEY", S3_ACCESS_KEY),
            ("MINIO_SECRET_KEY", S3_SECRET_KEY),
            ("MINIO_BUCKET", S3_BUCKET),
        ])
    }

    /// Starts the server again on the same port, with the objects it had.
    pub async fn resume(&mut self) {
        let mut command = Command::new(s3s_fs_binary());
        command
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.server.port.to_string(),
            ])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.dir.path());
        self.server
            .run(command, "s3s-fs (scripts/s3-server.sh install)", None)
            .await;
    }

    pub fn stop(&mut self) {
        self.server.stop();
    }
}

/// The Python with the tests' packages (aiosmtpd, tuspy) that
/// `scripts/test.sh` installs (in `target/test-venv`), or `KILN_TEST_PYTHON`.
pub fn test_python() -> PathBuf {
    if let Ok(path) = std::env::var("KILN_TEST_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// An aiosmtpd server of this test's own on loopback, keeping every message it
/// receives as a file in a maildir, read through [`Inbox`].
pub struct PrivateSmtp {
    server: ServerProcess,
    pub inbox: Inbox,
    /// Holds the maildir and the server's log.
    _dir: tempfile::TempDir,
}

impl PrivateSmtp {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts on `port`, which the app may have been told about before.
    pub async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let mut command = Command::new(test_python());
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir);
        let mut server = ServerProcess::on(port);
        let what = "aiosmtpd (scripts/test.sh installs it, or set KILN_TEST_PYTHON to a \
                    Python that has it)";
        server
            .run(command, what, Some(&dir.path().join("aiosmtpd.log")))
            .await;
        Self {
            server,
            inbox: Inbox::new(maildir.join("new")),
            _dir: dir,
        }
    }

    /// The app settings that send mail to this server.
    pub fn env(&self) -> Vec<(String, String)> {
        settings(&[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", &self.server.port.to_string()),
            ("SMTP_TLS", "none"),
        ])
    }
}

/// A TCP proxy on a port of its own to `target`, which a test can cut (every
/// connection dropped, new ones refused) and restore: a backend going away
/// and coming back on the network, without stopping the shared server.
pub struct CuttableProxy {
    pub port: u16,
    target: String,
    accept: Option<tokio::task::JoinHandle<()>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableProxy {
    pub async fn start(target: &str) -> Self {
        let mut proxy = Self {
            port: free_port(),
            target: target.to_string(),
            accept: None,
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.restore().await;
        proxy
    }

    pub async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the proxy's port is free again");
        let target = self.target.clone();
        let connections = self.connections.clone();
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().unwrap().push(forward);
            }
        }));
    }

    pub fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// A Prometheus server of this test's own (Debian's `prometheus`, installed
/// by `scripts/test.sh`), scraping loopback `targets` every second.
pub struct PrivatePrometheus {
    server: ServerProcess,
    client: reqwest::Client,
}

impl PrivatePrometheus {
    /// Starts it with its configuration and data in `dir`.
    pub async fn start(dir: &Path, targets: &[u16]) -> Self {
        let mut server = ServerProcess::new();
        let targets = targets
            .iter()
            .map(|port| format!("'127.0.0.1:{port}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: kiln\n    static_configs:\n      - targets: [{targets}]\n"
            ),
        )
        .unwrap();
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", server.port));
        let what = "prometheus (scripts/test.sh installs Debian's prometheus)";
        server
            .run(command, what, Some(&dir.join("prometheus.log")))
            .await;
        Self {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// The single value `query` evaluates to now, if it has exactly one.
    pub async fn value(&self, query: &str) -> Option<f64> {
        let mut url = url::Url::parse(&format!(
            "http://127.0.0.1:{}/api/v1/query",
            self.server.port
        ))
        .unwrap();
        url.query_pairs_mut().append_pair("query", query);
        let response = self.client.get(url).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        let result = body["data"]["result"].as_array()?;
        match result.as_slice() {
            [only] => only["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits until `query` evaluates to `expected` (scrapes arrive each second).
    pub async fn assert_eventually(&self, query: &str, expected: f64) {
        wait_for(Duration::from_secs(30), || async {
            match self.value(query).await {
                Some(value) if value == expected => Ok(()),
                value => Err(format!("{query} is {value:?}, not {expected}")),
            }
        })
        .await;
    }
}

/// Serves `html` as the only page of a site of its own on loopback (another
/// origin than Kiln's), for as long as the test runs; returns the page's URL.
pub fn serve_page(html: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}/")
}

/// A webhook endpoint of this test's own on loopback
/// (`support/webhook_receiver.py`): it checks each delivery's signature with
/// the `standardwebhooks` library and records what it received.
pub struct WebhookReceiver {
    server: ServerProcess,
    dir: tempfile::TempDir,
}

/// How a [`WebhookReceiver`] answers.
#[derive(Default)]
pub struct Answers {
    /// Requests answered 500 before it answers 204.
    pub fail_first: usize,
    /// How long it waits before each answer.
    pub delay: Duration,
    /// The status of its answers after those (204 when unset).
    pub status: Option<u16>,
}

impl WebhookReceiver {
    pub async fn start(answers: Answers) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/support/webhook_receiver.py");
        let mut server = ServerProcess::new();
        let mut command = Command::new(test_python());
        command
            .arg(script)
            .arg(server.port.to_string())
            .arg(dir.path().join("deliveries.jsonl"))
            .arg(dir.path().join("secret"))
            .args(["--fail-first", &answers.fail_first.to_string()])
            .args(["--delay", &answers.delay.as_secs_f64().to_string()])
            .args(["--answer", &answers.status.unwrap_or(204).to_string()]);
        let what = "the webhook receiver (it needs standardwebhooks, which scripts/test.sh \
                    installs into target/test-venv)";
        server
            .run(command, what, Some(&dir.path().join("receiver.log")))
            .await;
        Self { server, dir }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/kiln", self.server.port)
    }

    /// The endpoint's signing secret, as Kiln showed it once.
    pub fn set_secret(&self, secret: &str) {
        std::fs::write(self.dir.path().join("secret"), secret).unwrap();
    }

    /// Every request received so far, oldest first: `{path, id, timestamp,
    /// verified, error, status, body}`.
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("deliveries.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Waits until `done` holds for what was received, and returns that.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        wait_for(Duration::from_secs(30), async || {
            let received = self.received();
            match done(&received) {
                true => Ok(received),
                false => Err(format!("{what}; received so far: {received:?}")),
            }
        })
        .await
    }
}
