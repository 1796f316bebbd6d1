//! A real browser for the web UI's tests: headless Chromium driven through
//! chromedriver, both from Debian (`chromium`, `chromium-driver`), which
//! `scripts/test.sh` installs.
//!
//! `Browser::start()` launches a private chromedriver on a free loopback port and
//! opens one headless session on it. The helpers take CSS selectors and never
//! return errors: when something is missing they panic with the selector, the
//! page's URL, an excerpt of its source and a screenshot of it
//! (`target/test-screenshots/FAILED-<test>.png`), so a failing UI test says what
//! the page looked like.
//!
//! ```ignore
//! let app = spawn_app().await;
//! let browser = Browser::start().await;
//! browser.goto(&format!("{}/login", app.address)).await;
//! browser.fill("input[name=email]", "ada@example.com").await;
//! browser.submit("form#login").await;
//! browser.wait_for_text("h1", "Your files", Browser::WAIT).await;
//! browser.screenshot("files").await;
//! browser.close().await;
//! ```
//!
//! Waits poll with `tokio::time::sleep`, bounded: the app under test may share
//! the test's runtime, so nothing here blocks a thread while waiting, and
//! nothing sleeps a fixed time hoping the page is ready.
//!
//! Limits, and why:
//! - At most `MAX_BROWSERS` browsers exist at once, process-wide: the tests of this
//!   binary run in parallel on two cores, and each Chromium is half a dozen
//!   processes and a few hundred MB.
//! - Every request to anything but loopback goes to a dead proxy: nothing outside
//!   this machine may be contacted, and a page that needs the internet should fail
//!   here, not quietly work.
//! - chromedriver runs in a process group of its own that is killed whole on drop,
//!   so a test that panics leaves no Chromium behind.
//! - Downloads go, without asking, to a directory of the session's own
//!   (`wait_for_download` finds them there).

use std::fmt::Display;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::fixtures::{fixture_path, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How many browsers may exist at once in this test binary.
const MAX_BROWSERS: usize = 2;
static BROWSERS: Semaphore = Semaphore::const_new(MAX_BROWSERS);
/// How long chromedriver may take to answer after it is started.
const DRIVER_START: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
/// The viewport every browser starts with.
const VIEWPORT: (u32, u32) = (1280, 900);

/// A Chrome DevTools Protocol command, sent through chromedriver's
/// `goog/cdp/execute` (what WebDriver itself cannot do, such as failing requests).
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl DevTools {
    fn new(command: &'static str, params: Value) -> Self {
        Self { command, params }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// One headless Chromium session, its chromedriver, and a permit to exist.
pub struct Browser {
    client: Client,
    driver: Driver,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// A reasonable default for the `timeout` of the `wait_for*` helpers.
    pub const WAIT: Duration = Duration::from_secs(10);

    /// Starts chromedriver and opens a headless Chromium session with a 1280×900
    /// viewport, en-US. Waits first while `MAX_BROWSERS` other browsers are open.
    pub async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need Debian's chromium and \
                 chromium-driver (scripts/test.sh installs them)"
            );
        }
        let permit = BROWSERS
            .acquire()
            .await
            .expect("the browser semaphore is never closed");
        let driver = Driver::start().await;
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(driver.profile.path(), driver.downloads.path()))
            .connect(&driver.url())
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "chromedriver could not open a Chromium session: {error}\n\
                     chromedriver log (last lines):\n{}",
                    driver.log_tail()
                )
            });
        let browser = Browser {
            client,
            driver,
            _permit: permit,
        };
        browser.set_window_size(VIEWPORT.0, VIEWPORT.1).await;
        browser
    }

    /// The fantoccini client, for whatever the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) {
        let result = self.client.goto(url).await;
        self.ok(result, || format!("goto {url}")).await;
    }

    /// The URL of the page now shown.
    pub async fn current_url(&self) -> String {
        let result = self.client.current_url().await;
        self.ok(result, || "current_url".to_string())
            .await
            .to_string()
    }

    /// The first element matching `css`, now (no waiting).
    pub async fn find(&self, css: &str) -> Element {
        let result = self.client.find(Locator::Css(css)).await;
        self.ok(result, || format!("find `{css}`")).await
    }

    /// Whether some element matches `css` now.
    pub async fn is_present(&self, css: &str) -> bool {
        let result = self.client.find_all(Locator::Css(css)).await;
        !self
            .ok(result, || format!("is_present `{css}`"))
            .await
            .is_empty()
    }

    /// Replaces the value of the input or textarea matching `css` with `text`,
    /// typed key by key.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        let result = match element.clear().await {
            Ok(()) => element.send_keys(text).await,
            Err(error) => Err(error),
        };
        self.ok(result, || format!("fill `{css}`")).await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        let result = element.click().await;
        self.ok(result, || format!("click `{css}`")).await;
    }

    /// Submits the form matching `form_css` as a person would: by clicking its
    /// first submit button, or, if it has none, with `form.requestSubmit()` (which
    /// still runs validation and submit handlers). Does not wait for the next page.
    pub async fn submit(&self, form_css: &str) {
        let what = || format!("submit `{form_css}`");
        let form = self.find(form_css).await;
        let buttons = form
            .find_all(Locator::Css(
                "button:not([type]), button[type=submit], input[type=submit], input[type=image]",
            ))
            .await;
        let buttons = self.ok(buttons, what).await;
        match buttons.first() {
            Some(button) => {
                let result = button.click().await;
                self.ok(result, what).await;
            }
            None => {
                let form = serde_json::to_value(&form).expect("an element serialises");
                let result = self
                    .client
                    .execute("arguments[0].requestSubmit()", vec![form])
                    .await;
                self.ok(result, what).await;
            }
        }
    }

    /// The rendered text of the element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.find(css).await;
        let result = element.text().await;
        self.ok(result, || format!("text_of `{css}`")).await
    }

    /// Polls `probe` until it gives `Ok` and returns that value; after
    /// `timeout`, fails as [`Browser::ok`] does, with `what`, the probe's last
    /// `Err` (what it saw instead) and the state of the page.
    async fn poll<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl AsyncFnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match probe().await {
                Ok(value) => return value,
                Err(seen) if Instant::now() >= deadline => {
                    let why = format!("not within {timeout:?}: {seen}");
                    panic!("{}", self.failure(what, why).await);
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Polls until an element matches `css` (present in the DOM, not necessarily
    /// visible) and returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let what = format!("wait_for `{css}`");
        self.poll(&what, timeout, async || {
            let found = self.client.find_all(Locator::Css(css)).await;
            let found = self.ok(found, || what.clone()).await;
            found
                .into_iter()
                .next()
                .ok_or_else(|| "no element matched".to_string())
        })
        .await
    }

    /// Polls until the first element matching `css` has text containing `needle`;
    /// returns that text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let what = format!("wait_for_text `{css}` containing {needle:?}");
        self.poll(&what, timeout, async || {
            let found = self.client.find_all(Locator::Css(css)).await;
            let Some(element) = self.ok(found, || what.clone()).await.into_iter().next() else {
                return Err("no element matched".to_string());
            };
            let text = element.text().await;
            let text = self.ok(text, || what.clone()).await;
            match text.contains(needle) {
                true => Ok(text),
                false => Err(format!("its text was {text:?}")),
            }
        })
        .await
    }

    /// Polls until the current URL contains `needle` (after a submit or a
    /// redirect); returns the URL.
    pub async fn wait_for_url(&self, needle: &str, timeout: Duration) -> String {
        let what = format!("wait_for_url containing {needle:?}");
        self.poll(&what, timeout, async || {
            let url = self.current_url().await;
            match url.contains(needle) {
                true => Ok(url),
                false => Err(format!("the URL is {url}")),
            }
        })
        .await
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        let result = self.client.find_all(Locator::Css(css)).await;
        self.ok(result, || format!("count `{css}`")).await.len()
    }

    /// Polls until at least `n` elements match `css`.
    pub async fn wait_for_count(&self, css: &str, n: usize, timeout: Duration) {
        let what = format!("wait_for_count `{css}` reaching {n}");
        self.poll(&what, timeout, async || match self.count(css).await {
            seen if seen >= n => Ok(()),
            seen => Err(format!("only {seen} matched")),
        })
        .await
    }

    /// Polls until no element matches `css` (a form the browser left, say).
    pub async fn wait_until_gone(&self, css: &str, timeout: Duration) {
        let what = format!("wait_until_gone `{css}`");
        self.poll(&what, timeout, async || match self.is_present(css).await {
            true => Err("it is still there".to_string()),
            false => Ok(()),
        })
        .await
    }

    /// Polls until no animation or transition that ends is running (a
    /// spinner's endless one may go on), so a screenshot shows the page at rest.
    pub async fn wait_for_animations(&self, timeout: Duration) {
        const RUNNING: &str = "return document.getAnimations().filter(a => \
            a.playState === 'running' && a.effect && \
            a.effect.getComputedTiming().endTime !== Infinity).length";
        self.poll("wait_for_animations", timeout, async || {
            match self.execute(RUNNING).await {
                running if running == json!(0) => Ok(()),
                running => Err(format!("{running} still running")),
            }
        })
        .await
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        let result = self.client.execute(script, vec![]).await;
        self.ok(result, || format!("script {script:?}")).await
    }

    /// Makes the browser fail every request whose URL matches one of `patterns`
    /// (`*` is a wildcard), as if the network dropped it; `&[]` lets all through
    /// again. Through Chromium's DevTools (`Network.setBlockedURLs`).
    pub async fn block_requests(&self, patterns: &[&str]) {
        for command in [
            DevTools::new("Network.enable", json!({})),
            DevTools::new("Network.setBlockedURLs", json!({ "urls": patterns })),
        ] {
            let what = format!("{command:?}");
            let result = self.client.issue_cmd(command).await;
            self.ok(result, || what).await;
        }
    }

    /// Makes the browser send request bodies at most `bytes_per_second` (`None`:
    /// as fast as it can), as on a slow uplink, so an upload on loopback takes
    /// long enough to be interrupted. Through `Network.emulateNetworkConditions`.
    pub async fn throttle_uploads(&self, bytes_per_second: Option<u64>) {
        let upload_throughput = bytes_per_second.map_or(-1.0, |rate| rate as f64);
        let conditions = json!({
            "offline": false,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": upload_throughput,
        });
        for command in [
            DevTools::new("Network.enable", json!({})),
            DevTools::new("Network.emulateNetworkConditions", conditions),
        ] {
            let what = format!("{command:?}");
            let result = self.client.issue_cmd(command).await;
            self.ok(result, || what).await;
        }
    }

    /// Empties the browser's HTTP cache, as if it had never visited anything.
    pub async fn clear_cache(&self) {
        let command = DevTools::new("Network.clearBrowserCache", json!({}));
        let what = format!("{command:?}");
        let result = self.client.issue_cmd(command).await;
        self.ok(result, || what).await;
    }

    /// Runs `script` until what it returns passes `accept`, and returns that;
    /// fails after `timeout` with the last value seen.
    pub async fn wait_for_value(
        &self,
        script: &str,
        timeout: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        self.poll(&format!("script {script:?}"), timeout, async || {
            let value = self.execute(script).await;
            if accept(&value) {
                Ok(value)
            } else {
                Err(format!("it returned {value}"))
            }
        })
        .await
    }

    /// Scrolls back up, so a screenshot shows the page from its top.
    pub async fn scroll_to_top(&self) {
        self.execute("window.scrollTo(0, 0)").await;
    }

    /// Puts the fixtures named (`small.jpg`) into the `<input type=file>`
    /// matching `css` (several need its `multiple` attribute).
    pub async fn upload(&self, css: &str, fixtures: &[&str]) {
        assert!(!fixtures.is_empty(), "upload into `{css}`: no files given");
        let paths: Vec<String> = fixtures.iter().map(|name| fixture_path(name)).collect();
        self.choose_files(css, &paths).await;
    }

    /// Puts the files at `paths` into the `<input type=file>` matching `css`.
    pub async fn choose_files(&self, css: &str, paths: &[String]) {
        let element = self.find(css).await;
        // chromedriver takes several files as one newline-separated string.
        let result = element.send_keys(&paths.join("\n")).await;
        self.ok(result, || format!("upload {paths:?} into `{css}`"))
            .await;
    }

    /// Makes the page's viewport `width`×`height` CSS pixels, e.g. 390×844 for a
    /// phone-sized screenshot. (The window is larger by its frame, which headless
    /// Chromium still counts: the window is resized twice to correct for it.)
    pub async fn set_window_size(&self, width: u32, height: u32) {
        let what = || format!("set_window_size {width}x{height}");
        let (mut outer_width, mut outer_height) = (width, height);
        for _ in 0..2 {
            let result = self.client.set_window_size(outer_width, outer_height).await;
            self.ok(result, what).await;
            let viewport = self
                .client
                .execute("return [window.innerWidth, window.innerHeight]", vec![])
                .await;
            let viewport = self.ok(viewport, what).await;
            let (Some(inner_width), Some(inner_height)) =
                (viewport[0].as_u64(), viewport[1].as_u64())
            else {
                panic!(
                    "browser: {} failed: the viewport size read {viewport}",
                    what()
                );
            };
            if (inner_width, inner_height) == (u64::from(width), u64::from(height)) {
                return;
            }
            outer_width =
                (u64::from(outer_width) + u64::from(width)).saturating_sub(inner_width) as u32;
            outer_height =
                (u64::from(outer_height) + u64::from(height)).saturating_sub(inner_height) as u32;
        }
        let failure = self
            .failure(&what(), "the viewport did not take that size")
            .await;
        panic!("{failure}");
    }

    /// Polls until the browser has saved a download named `name` (complete,
    /// not a `.crdownload`) and returns its bytes.
    pub async fn wait_for_download(&self, name: &str, timeout: Duration) -> Vec<u8> {
        let downloads = self.driver.downloads.path();
        self.poll(
            &format!("wait_for_download {name:?}"),
            timeout,
            async || {
                let saved: Vec<String> = std::fs::read_dir(downloads)
                    .map(|entries| {
                        entries
                            .filter_map(Result::ok)
                            .map(|entry| entry.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                // Chromium reserves the final name with an empty file and
                // writes to `.crdownload` until the download is complete.
                let in_progress = saved.iter().any(|file| file.ends_with(".crdownload"));
                match std::fs::read(downloads.join(name)) {
                    Ok(bytes) if !in_progress && !bytes.is_empty() => Ok(bytes),
                    _ => Err(format!("the downloads are {saved:?}")),
                }
            },
        )
        .await
    }

    /// Saves the visible part of the page as `target/test-screenshots/<name>.png`
    /// and returns that path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await;
        let png = self.ok(png, || format!("screenshot {name}")).await;
        save_screenshot(name, &png)
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn close(self) {
        let Browser {
            client,
            driver,
            _permit,
        } = self;
        if let Err(error) = client.close().await {
            panic!("browser: closing the session failed: {error}");
        }
        drop(driver);
    }

    /// Unwraps `result`, or panics with `what` and the state of the page.
    async fn ok<T, E: Display>(&self, result: Result<T, E>, what: impl FnOnce() -> String) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{}", self.failure(&what(), error).await),
        }
    }

    /// The panic message for a failed step: what failed and why, where the
    /// browser was, a screenshot and the start of the page's body.
    async fn failure(&self, what: &str, why: impl Display) -> String {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => format!("(unknown: {error})"),
        };
        let screenshot = match self.client.screenshot().await {
            Ok(png) => save_screenshot(&format!("FAILED-{}", test_name()), &png)
                .display()
                .to_string(),
            Err(error) => format!("(none: {error})"),
        };
        let source = match self.client.source().await {
            Ok(source) => excerpt(&source),
            Err(error) => format!("(unavailable: {error})"),
        };
        format!(
            "browser: {what} failed: {why}\n  url: {url}\n  screenshot: {screenshot}\n  \
             page source (excerpt):\n{source}"
        )
    }
}

/// The session's capabilities: headless Chromium from Debian, en-US, a private
/// profile, downloads saved to `downloads` without asking, no traffic beyond
/// loopback, and bounded page loads.
fn capabilities(profile: &Path, downloads: &Path) -> Capabilities {
    let capabilities = json!({
        "pageLoadStrategy": "normal",
        "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                // Root (CI) cannot use Chromium's sandbox.
                "--no-sandbox",
                "--disable-gpu",
                // /dev/shm is small in containers; Chromium then crashes tabs.
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--window-size=1280,900",
                "--lang=en-US",
                // Loopback bypasses a proxy implicitly; everything else hits a
                // port nothing listens on.
                "--proxy-server=http://127.0.0.1:9",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "intl.accept_languages": "en-US",
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a json! object literal"),
    }
}

/// Writes a PNG under `target/test-screenshots/` and returns its path.
fn save_screenshot(name: &str, png: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-screenshots");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    let file_name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    let path = dir.join(format!("{file_name}.png"));
    std::fs::write(&path, png)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    path
}

/// libtest names each test's thread after the test.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed-test")
        .to_string()
}

/// The start of the page's `<body>`, enough to see what was shown instead.
fn excerpt(source: &str) -> String {
    const LIMIT: usize = 3_000;
    let body = source
        .find("<body")
        .map_or(source, |start| &source[start..]);
    let mut excerpt: String = body.chars().take(LIMIT).collect();
    if excerpt.len() < body.len() {
        excerpt.push_str("\n… (cut)");
    }
    excerpt
}

/// A chromedriver on a loopback port, with scratch directories for its log,
/// Chromium's profile and its downloads. Dropping it kills its whole process
/// group.
struct Driver {
    child: Child,
    port: u16,
    scratch: tempfile::TempDir,
    profile: tempfile::TempDir,
    downloads: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        // The free port can be taken between our probe and chromedriver's bind;
        // then it exits, and we try another.
        for _ in 0..3 {
            let port = free_port();
            let scratch = tempfile::tempdir().expect("a temporary directory");
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    scratch.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own group, so that Drop can kill Chromium with it.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}"));
            let mut driver = Driver {
                child,
                port,
                profile: tempfile::tempdir().expect("a temporary directory"),
                downloads: tempfile::tempdir().expect("a temporary directory"),
                scratch,
            };
            if driver.answers_within(DRIVER_START).await {
                return driver;
            }
            eprintln!(
                "chromedriver on port {port} did not start; its log:\n{}",
                driver.log_tail()
            );
        }
        panic!("chromedriver did not start in three tries (see the logs above)");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls chromedriver's `/status` until it says it is ready, or it exits.
    async fn answers_within(&mut self, timeout: Duration) -> bool {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a reqwest client");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_exit)) = self.child.try_wait() {
                return false;
            }
            if let Ok(response) = http.get(format!("{}/status", self.url())).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == json!(true)
            {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        false
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.scratch.path().join("chromedriver.log"))
            .unwrap_or_else(|error| format!("(no log: {error})"));
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
