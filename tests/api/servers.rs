//! Real servers a test starts for itself, so it can stop, flush or kill them
//! without disturbing other tests: a private Redis, a private S3-compatible
//! server (s3s-fs), a private SMTP server (aiosmtpd), and `kiln` processes.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::wait_until;
use crate::mail::Inbox;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16) {
    wait_until(Duration::from_secs(20), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A `redis-server` of this test's own, on a port of its own.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.resume().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port (empty: it keeps nothing).
    pub async fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }

    pub fn flush_all(&self) {
        let status = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "FLUSHALL"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub const S3_ACCESS_KEY: &str = "private-key";
pub const S3_SECRET_KEY: &str = "private-secret";
pub const S3_BUCKET: &str = "private-bucket";

/// An s3s-fs server of this test's own (installed by `scripts/test.sh`).
pub struct PrivateS3 {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
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
            port: free_port(),
            dir,
            child: None,
        };
        s3.resume().await;
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The app variables that point storage at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MINIO_ENDPOINT", self.endpoint()),
            ("MINIO_ACCESS_KEY", S3_ACCESS_KEY.into()),
            ("MINIO_SECRET_KEY", S3_SECRET_KEY.into()),
            ("MINIO_BUCKET", S3_BUCKET.into()),
        ]
    }

    pub async fn resume(&mut self) {
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs runs (scripts/s3-server.sh install)");
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Python with aiosmtpd that `scripts/test.sh` installs (in
/// `target/test-venv`), or `KILN_TEST_PYTHON`.
fn python_with_aiosmtpd() -> PathBuf {
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
    pub port: u16,
    pub inbox: Inbox,
    /// Holds the maildir and the server's log.
    _dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateSmtp {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts on `port`, which the app may have been told about before.
    pub async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let log_path = dir.path().join("aiosmtpd.log");
        let child = Command::new(python_with_aiosmtpd())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("python3 runs");
        let mut smtp = Self {
            port,
            inbox: Inbox::new(maildir.join("new")),
            _dir: dir,
            child: Some(child),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            let exited = smtp.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && tokio::time::Instant::now() < deadline,
                "aiosmtpd did not start ({exited:?}; scripts/test.sh installs it, or set \
                 KILN_TEST_PYTHON to a Python that has it):\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        smtp
    }

    /// The app variables that send mail to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SMTP_HOST", "127.0.0.1".into()),
            ("SMTP_PORT", self.port.to_string()),
            ("SMTP_TLS", "none".into()),
        ]
    }
}

impl Drop for PrivateSmtp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }
}

/// A `kiln` process whose stderr (its log) is collected as it runs.
pub struct KilnProcess {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl KilnProcess {
    /// Starts `kiln <role>` in `dir` with exactly `env` (plus PATH and a free PORT).
    pub fn spawn(role: &[&str], dir: &Path, env: &[(String, String)]) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(role)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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

    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.log().contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "kiln did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The process is gone, so its stderr is at end-of-file and the reader ends.
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (code, self.log())
    }
}

impl Drop for KilnProcess {
    fn drop(&mut self) {
        kill(&mut self.child);
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
