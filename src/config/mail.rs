//! Where account mail (verification and password-reset links) goes: an SMTP
//! server (`SMTP_*`), or, by default, `.eml` files under `DATA_DIR/mail`.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use secrecy::SecretString;

use super::env::{ConfigError, Env};

/// Where account mail (verification and password-reset links) goes.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `SMTP_FROM`: the sender every message shows.
    pub from: Mailbox,
    pub transport: MailTransport,
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `SMTP_HOST` is set: mail goes to that server.
    Smtp(SmtpConfig),
    /// The embedded default: each message is written as an `.eml` file here
    /// (`DATA_DIR/mail`) and its path logged, so a newcomer can open it.
    Files { dir: PathBuf },
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// `SMTP_USERNAME` and `SMTP_PASSWORD`, which come as a pair.
    pub credentials: Option<(String, SecretString)>,
}

/// How the SMTP connection is protected (`SMTP_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: only for a relay on loopback or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

const DEFAULT_MAIL_FROM: &str = "Kiln <kiln@localhost>";

/// Reads the mail variables; without `SMTP_HOST`, mail is written under `data_dir`.
pub(super) fn read(env: &Env<'_>, data_dir: &Path) -> Result<MailConfig, ConfigError> {
    let from = env
        .string("SMTP_FROM")
        .unwrap_or_else(|| DEFAULT_MAIL_FROM.into());
    let from = from.parse::<Mailbox>().map_err(|e| {
        ConfigError::new(
            "SMTP_FROM",
            format!("{from:?} is not an address like \"Kiln <kiln@example.com>\": {e}"),
        )
    })?;
    let tls = match env
        .string("SMTP_TLS")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(_) => {
            return Err(ConfigError::new(
                "SMTP_TLS",
                "must be none, starttls or tls",
            ));
        }
    };
    let port = match env.parse::<u16>("SMTP_PORT")? {
        Some(0) => {
            return Err(ConfigError::new(
                "SMTP_PORT",
                "must be a port from 1 to 65535",
            ));
        }
        Some(port) => port,
        None if tls == SmtpTls::Tls => 465,
        None => 587,
    };
    let username = env.string("SMTP_USERNAME");
    let password = env.string("SMTP_PASSWORD");
    let Some(host) = env.string("SMTP_HOST") else {
        // Settings for a server that is not named are a mistake, not a choice of
        // the file fallback: an operator would wait for mail that never leaves.
        for name in ["SMTP_PORT", "SMTP_TLS", "SMTP_USERNAME", "SMTP_PASSWORD"] {
            if env.string(name).is_some() {
                return Err(ConfigError::new(
                    "SMTP_HOST",
                    format!("is required when {name} is set"),
                ));
            }
        }
        return Ok(MailConfig {
            from,
            transport: MailTransport::Files {
                dir: data_dir.join("mail"),
            },
        });
    };
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Some((username, SecretString::from(password))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "SMTP_PASSWORD",
                "is required when SMTP_USERNAME is set",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "SMTP_USERNAME",
                "is required when SMTP_PASSWORD is set",
            ));
        }
    };
    Ok(MailConfig {
        from,
        transport: MailTransport::Smtp(SmtpConfig {
            host,
            port,
            tls,
            credentials,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn without_smtp_host_mail_is_written_under_the_data_dir() {
        let config = config(&[("DATA_DIR", "/srv/kiln")]).unwrap();
        assert_eq!(config.mail.from.to_string(), "Kiln <kiln@localhost>");
        let MailTransport::Files { dir } = config.mail.transport else {
            panic!("expected the file fallback");
        };
        assert_eq!(dir, PathBuf::from("/srv/kiln/mail"));
    }

    #[test]
    fn smtp_defaults_to_starttls_on_587_without_credentials() {
        let config = config(&[("SMTP_HOST", "mail.example.com")]).unwrap();
        let MailTransport::Smtp(smtp) = config.mail.transport else {
            panic!("expected SMTP");
        };
        assert_eq!(smtp.host, "mail.example.com");
        assert_eq!(smtp.port, 587);
        assert_eq!(smtp.tls, SmtpTls::StartTls);
        assert!(smtp.credentials.is_none());
    }

    #[test]
    fn smtp_settings_are_read_whole() {
        let config = config(&[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", "2525"),
            ("SMTP_TLS", "NONE"),
            ("SMTP_USERNAME", "kiln"),
            ("SMTP_PASSWORD", "mail-secret-hunter2"),
            ("SMTP_FROM", "Photos <photos@example.com>"),
        ])
        .unwrap();
        assert_eq!(config.mail.from.email.to_string(), "photos@example.com");
        assert_eq!(config.mail.from.name.as_deref(), Some("Photos"));
        let MailTransport::Smtp(smtp) = &config.mail.transport else {
            panic!("expected SMTP");
        };
        assert_eq!(smtp.port, 2525);
        assert_eq!(smtp.tls, SmtpTls::None);
        let (username, password) = smtp.credentials.as_ref().unwrap();
        assert_eq!(username, "kiln");
        assert_eq!(password.expose_secret(), "mail-secret-hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn implicit_tls_defaults_to_port_465() {
        let config = config(&[("SMTP_HOST", "mail.example.com"), ("SMTP_TLS", "tls")]).unwrap();
        let MailTransport::Smtp(smtp) = config.mail.transport else {
            panic!("expected SMTP");
        };
        assert_eq!((smtp.port, smtp.tls), (465, SmtpTls::Tls));
    }

    #[test]
    fn bad_smtp_settings_name_their_variable() {
        let host = ("SMTP_HOST", "mail.example.com");
        for (vars, variable) in [
            (vec![host, ("SMTP_TLS", "ssl")], "SMTP_TLS"),
            (vec![host, ("SMTP_PORT", "smtp")], "SMTP_PORT"),
            (vec![host, ("SMTP_PORT", "0")], "SMTP_PORT"),
            (vec![host, ("SMTP_PORT", "70000")], "SMTP_PORT"),
            (vec![host, ("SMTP_USERNAME", "kiln")], "SMTP_PASSWORD"),
            (vec![host, ("SMTP_PASSWORD", "secret")], "SMTP_USERNAME"),
            (vec![("SMTP_FROM", "not an address")], "SMTP_FROM"),
            (vec![("SMTP_PORT", "2525")], "SMTP_HOST"),
            (vec![("SMTP_USERNAME", "kiln")], "SMTP_HOST"),
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{vars:?}: {err}");
        }
    }
}
