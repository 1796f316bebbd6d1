//! What account mail says: a subject a person understands, plain text, and an
//! HTML alternative, rendered from `templates/mail/` (compiled into the binary).
//! Links are built from `BASE_URL`, never from a request's Host header, so a
//! forged Host cannot point a reset link at someone else's server.
//!
//! Anyone can register any address, so a mail to an address its account has
//! not verified may reach a stranger: it then carries only Kiln's own words,
//! never the account's name or other text someone typed, which would let
//! anybody send their message (a link, say) from Kiln's address.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use secrecy::ExposeSecret;
use url::Url;
use uuid::Uuid;

use super::MailerError;
use super::messages::{SendLinkMail, SendWebhookDisabledMail};
use crate::auth::link_token::LinkPurpose;

pub(super) struct Composer {
    from: Mailbox,
    base_url: Url,
    templates: tera::Tera,
}

/// What differs between the kinds of mail.
struct Wording {
    subject: &'static str,
    /// The web page the link opens, under `BASE_URL`.
    page: &'static str,
}

fn wording(purpose: LinkPurpose) -> Wording {
    match purpose {
        LinkPurpose::VerifyEmail => Wording {
            subject: "Confirm your e-mail address for Kiln",
            page: "verify-email",
        },
        LinkPurpose::ResetPassword => Wording {
            subject: "Reset your Kiln password",
            page: "reset-password",
        },
    }
}

/// `{base}/{page}`, keeping any path `base` has (Kiln behind a prefix).
fn page_url(base: &Url, page: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    // Only URLs that cannot be a base (`mailto:`) refuse segments; BASE_URL is
    // http(s), checked by the configuration.
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(page);
    }
    url
}

/// `{base}/{page}?token=…`.
fn link(base: &Url, page: &str, token: &str) -> Url {
    let mut url = page_url(base, page);
    url.query_pairs_mut().append_pair("token", token);
    url
}

/// "1 hour", "24 hours", "3 days": a duration, for people, in its largest
/// whole unit (days only from two of them).
fn spoken(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let (count, unit) = match secs {
        _ if secs >= 2 * 86_400 => (secs / 86_400, "day"),
        3600.. => (secs / 3600, "hour"),
        60.. => (secs / 60, "minute"),
        _ => (secs, "second"),
    };
    match count {
        1 => format!("1 {unit}"),
        _ => format!("{count} {unit}s"),
    }
}

/// Longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// Plain text sent as it is (7bit) when it can be, so the link stays one line
/// that can be clicked even in a raw `.eml` file; quoted-printable otherwise.
fn text_body(text: String) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let plain = crlf.is_ascii()
        && !crlf.contains('\0')
        && crlf
            .split("\r\n")
            .all(|line| line.len() <= MAX_LINE && !line.contains('\r'));
    if plain {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}

impl Composer {
    pub(super) fn new(from: Mailbox, base_url: Url) -> Result<Self, tera::Error> {
        let mut templates = tera::Tera::default();
        templates.add_raw_templates([
            (
                "mail/layout.html",
                include_str!("../../../templates/mail/layout.html"),
            ),
            (
                "mail/verify_email.txt",
                include_str!("../../../templates/mail/verify_email.txt"),
            ),
            (
                "mail/verify_email.html",
                include_str!("../../../templates/mail/verify_email.html"),
            ),
            (
                "mail/reset_password.txt",
                include_str!("../../../templates/mail/reset_password.txt"),
            ),
            (
                "mail/reset_password.html",
                include_str!("../../../templates/mail/reset_password.html"),
            ),
            (
                "mail/webhook_disabled.txt",
                include_str!("../../../templates/mail/webhook_disabled.txt"),
            ),
            (
                "mail/webhook_disabled.html",
                include_str!("../../../templates/mail/webhook_disabled.html"),
            ),
        ])?;
        Ok(Self {
            from,
            base_url,
            templates,
        })
    }

    pub(super) fn compose(&self, mail: &SendLinkMail) -> Result<Message, MailerError> {
        let wording = wording(mail.purpose);
        let link = link(&self.base_url, wording.page, mail.token.expose_secret());
        let mut context = tera::Context::new();
        // The templates greet by name only when there is one to use.
        let name = mail.address_verified.then_some(mail.name.as_str());
        context.insert("subject", wording.subject);
        context.insert("name", &name);
        context.insert("email", &mail.email);
        context.insert("link", link.as_str());
        context.insert("valid_for", &spoken(mail.purpose.ttl()));
        context.insert("site", self.base_url.host_str().unwrap_or("Kiln"));
        let render = |extension: &str| {
            let name = format!("mail/{}.{extension}", mail.purpose.as_str());
            self.templates
                .render(&name, &context)
                .map_err(MailerError::Template)
        };
        let to = Mailbox::new(
            name.map(str::to_string),
            mail.email.parse().map_err(MailerError::Recipient)?,
        );
        self.message(to, wording.subject, render("txt")?, render("html")?)
    }

    /// The mail telling an endpoint's owner that Kiln disabled it.
    pub(super) fn compose_webhook_disabled(
        &self,
        mail: &SendWebhookDisabledMail,
    ) -> Result<Message, MailerError> {
        let subject = "Your Kiln webhook endpoint was disabled";
        let mut context = tera::Context::new();
        context.insert("subject", subject);
        context.insert("url", &mail.url);
        context.insert("gave_up_after", &spoken(mail.gave_up_after));
        context.insert("settings", page_url(&self.base_url, "settings").as_str());
        context.insert("site", self.base_url.host_str().unwrap_or("Kiln"));
        let render = |extension: &str| {
            self.templates
                .render(&format!("mail/webhook_disabled.{extension}"), &context)
                .map_err(MailerError::Template)
        };
        let to = Mailbox::new(None, mail.email.parse().map_err(MailerError::Recipient)?);
        self.message(to, subject, render("txt")?, render("html")?)
    }

    /// A message from Kiln to `to`, in plain text with an HTML alternative.
    fn message(
        &self,
        to: Mailbox,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<Message, MailerError> {
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!(
                "<{}@{}>",
                Uuid::new_v4().simple(),
                self.from.email.domain()
            )))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text_body(text)),
                    )
                    .singlepart(SinglePart::html(html)),
            )
            .map_err(MailerError::Build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::RequestId;

    fn composer(base: &str) -> Composer {
        Composer::new(
            "Kiln <kiln@example.com>".parse().unwrap(),
            Url::parse(base).unwrap(),
        )
        .unwrap()
    }

    fn mail(purpose: LinkPurpose, name: &str) -> SendLinkMail {
        SendLinkMail {
            request_id: RequestId::generate(),
            user_id: Uuid::new_v4(),
            email: "ada@example.com".into(),
            name: name.into(),
            address_verified: true,
            purpose,
            token: "tok_en-0123456789abcdefghijklmnopqrstuvwxyzAB"
                .to_string()
                .into(),
        }
    }

    #[test]
    fn links_keep_the_base_urls_path_and_carry_the_token() {
        let expected = "https://kiln.example.com/app/reset-password?token=abc";
        for base in [
            "https://kiln.example.com/app",
            "https://kiln.example.com/app/",
        ] {
            let url = link(&Url::parse(base).unwrap(), "reset-password", "abc");
            assert_eq!(url.as_str(), expected);
        }
        let root = link(
            &Url::parse("http://127.0.0.1:8080").unwrap(),
            "verify-email",
            "abc",
        );
        assert_eq!(
            root.as_str(),
            "http://127.0.0.1:8080/verify-email?token=abc"
        );
    }

    #[test]
    fn a_reset_mail_has_a_clear_subject_and_the_link_on_one_plain_line() {
        let message = composer("https://kiln.example.com/app")
            .compose(&mail(LinkPurpose::ResetPassword, "Ada Lovelace"))
            .unwrap();
        let raw = message.formatted();
        let parsed = mailparse::parse_mail(&raw).unwrap();
        let header = |name: &str| {
            parsed
                .headers
                .iter()
                .find(|h| h.get_key() == name)
                .unwrap()
                .get_value()
        };
        assert_eq!(header("Subject"), "Reset your Kiln password");
        assert_eq!(header("To"), "\"Ada Lovelace\" <ada@example.com>");
        assert_eq!(header("From"), "Kiln <kiln@example.com>");
        assert!(header("Message-ID").ends_with("@example.com>"));

        let link = "https://kiln.example.com/app/reset-password?token=tok_en-0123456789abcdefghijklmnopqrstuvwxyzAB";
        let text = parsed.subparts[0].get_body().unwrap();
        assert!(text.contains("Hello Ada Lovelace,"));
        assert!(text.lines().any(|line| line == link), "{text}");
        assert!(text.contains("for 1 hour"));
        // Unencoded, so the link can be clicked in the raw .eml as well.
        assert!(String::from_utf8_lossy(&raw).contains(link));
        let html = parsed.subparts[1].get_body().unwrap();
        assert!(html.contains("Choose a new password"));
        assert!(
            html.contains("reset-password?token=tok_en-0123456789abcdefghijklmnopqrstuvwxyzAB")
        );
    }

    #[test]
    fn a_mail_to_a_verified_address_escapes_the_name_in_html_and_survives_non_ascii() {
        let message = composer("http://127.0.0.1:8080")
            .compose(&mail(LinkPurpose::ResetPassword, "Zoë <b>"))
            .unwrap();
        let raw = message.formatted();
        let parsed = mailparse::parse_mail(&raw).unwrap();
        let text = parsed.subparts[0].get_body().unwrap();
        assert!(text.contains("Hello Zoë <b>,"));
        assert!(text.contains("http://127.0.0.1:8080/reset-password?token="));
        let html = parsed.subparts[1].get_body().unwrap();
        assert!(html.contains("Zoë &lt;b&gt;"));
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn a_mail_to_an_unverified_address_carries_no_text_the_account_chose() {
        let name = "Claim your prize at https://prize.example/win";
        for purpose in [LinkPurpose::VerifyEmail, LinkPurpose::ResetPassword] {
            let message = composer("http://127.0.0.1:8080")
                .compose(&SendLinkMail {
                    address_verified: false,
                    ..mail(purpose, name)
                })
                .unwrap();
            let raw = String::from_utf8(message.formatted()).unwrap();
            assert!(!raw.contains("prize"), "{raw}");
            let parsed = mailparse::parse_mail(raw.as_bytes()).unwrap();
            let text = parsed.subparts[0].get_body().unwrap();
            assert!(text.starts_with("Hello,"), "{text}");
            assert!(text.contains("http://127.0.0.1:8080/"));
        }
    }
}
