//! Reading the mail Kiln sent, from a directory of message files: the maildir
//! of a [`PrivateSmtp`](super::servers::PrivateSmtp), or `DATA_DIR/mail`, where
//! an app without SMTP settings writes `.eml` files
//! ([`TestApp::inbox`](super::app::TestApp::inbox)).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use mailparse::{MailHeaderMap, ParsedMail};
use url::Url;

use super::wait::wait_for;

/// One received message, parsed.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    pub subject: String,
    /// The text/plain part, decoded.
    pub text: String,
    /// The text/html alternative, decoded.
    pub html: Option<String>,
}

fn body_of(part: &ParsedMail<'_>, mime: &str) -> Option<String> {
    if part.ctype.mimetype == mime {
        return Some(part.get_body().expect("a decodable body"));
    }
    part.subparts.iter().find_map(|sub| body_of(sub, mime))
}

impl ReceivedMail {
    pub fn parse(raw: &[u8]) -> Self {
        let parsed = mailparse::parse_mail(raw).expect("a parseable message");
        let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
        Self {
            to: header("To"),
            subject: header("Subject"),
            text: body_of(&parsed, "text/plain").expect("a text/plain part"),
            html: body_of(&parsed, "text/html"),
        }
    }

    /// Whether the message is addressed to `address`, with a display name
    /// (`"Ada" <ada@example.com>`) or without one.
    pub fn is_to(&self, address: &str) -> bool {
        self.to == address || self.to.ends_with(&format!("<{address}>"))
    }

    /// The link in the text that opens `page` (`verify-email`, `reset-password`).
    pub fn link(&self, page: &str) -> Url {
        self.text
            .split_whitespace()
            .filter_map(|word| Url::parse(word).ok())
            .find(|url| url.path().ends_with(&format!("/{page}")))
            .unwrap_or_else(|| panic!("no {page} link in:\n{}", self.text))
    }

    /// The path and query of the link to `page`, to follow on the app's own
    /// address (`app.url(..)`).
    pub fn link_path(&self, page: &str) -> String {
        let link = self.link(page);
        match link.query() {
            Some(query) => format!("{}?{query}", link.path()),
            None => link.path().to_string(),
        }
    }

    /// The token the link to `page` carries.
    pub fn token(&self, page: &str) -> String {
        let link = self.link(page);
        link.query_pairs()
            .find(|(key, _)| key == "token")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_else(|| panic!("no token in {link}"))
    }
}

/// A directory that messages arrive in, one file each; hands them out in
/// arrival order, each once.
pub struct Inbox {
    dir: PathBuf,
    seen: HashSet<PathBuf>,
}

impl Inbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            seen: HashSet::new(),
        }
    }

    /// Every complete message file there now, oldest first (hidden files are
    /// messages still being written).
    pub fn files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<(SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
            .collect();
        files.sort();
        files.into_iter().map(|(_, path)| path).collect()
    }

    pub fn count(&self) -> usize {
        self.files().len()
    }

    /// Waits (bounded) for a message not handed out yet.
    pub async fn next(&mut self) -> ReceivedMail {
        self.next_within(Duration::from_secs(20)).await
    }

    /// The next message, which must be addressed to `address`.
    pub async fn next_to(&mut self, address: &str) -> ReceivedMail {
        let mail = self.next().await;
        assert!(mail.is_to(address), "mail went to {}", mail.to);
        mail
    }

    pub async fn next_within(&mut self, timeout: Duration) -> ReceivedMail {
        let path = wait_for(timeout, || {
            let new = self.files().into_iter().find(|p| !self.seen.contains(p));
            let dir = self.dir.display().to_string();
            async move { new.ok_or_else(|| format!("no new mail in {dir}")) }
        })
        .await;
        self.seen.insert(path.clone());
        ReceivedMail::parse(&std::fs::read(&path).unwrap())
    }

    /// Every complete message there now, oldest first, whether handed out or not.
    pub fn all(&self) -> Vec<ReceivedMail> {
        self.files()
            .iter()
            .map(|file| ReceivedMail::parse(&std::fs::read(file).unwrap()))
            .collect()
    }
}
