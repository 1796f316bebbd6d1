//! OAuth sign-in settings (`GOOGLE_*`, `GITHUB_*`): each provider's variables,
//! the real endpoints they default to, and the rule that a provider is all set
//! or not set at all.

use secrecy::SecretString;
use url::Url;

use super::env::{ConfigError, Env, parse_http_url};

/// Sign-in through OAuth providers. A provider is offered only when its client
/// id and secret are set; its endpoints default to the real provider's and can
/// point elsewhere (the tests' loopback provider, an enterprise GitHub).
#[derive(Debug, Clone, Default)]
pub struct OAuthConfig {
    /// `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`, `GOOGLE_{AUTH,TOKEN,USERINFO}_URL`.
    pub google: Option<OAuthProviderConfig>,
    /// `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`, `GITHUB_{AUTH,TOKEN,USERINFO,EMAILS}_URL`.
    pub github: Option<OAuthProviderConfig>,
}

#[derive(Debug, Clone)]
pub struct OAuthProviderConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where the browser is sent to sign in and consent.
    pub auth_url: Url,
    /// Where Kiln exchanges the code (and PKCE verifier) for an access token.
    pub token_url: Url,
    /// Who signed in: OpenID userinfo (Google) or `/user` (GitHub).
    pub userinfo_url: Url,
    /// GitHub only: the account's addresses and whether each is verified.
    pub emails_url: Option<Url>,
}

/// Reads both providers' variables.
pub(super) fn read(env: &Env<'_>) -> Result<OAuthConfig, ConfigError> {
    Ok(OAuthConfig {
        google: provider(env, &GOOGLE)?,
        github: provider(env, &GITHUB)?,
    })
}

/// The variables of one OAuth provider and its real endpoints.
struct OAuthVariables {
    client_id: &'static str,
    client_secret: &'static str,
    /// (variable, default) for the authorize, token, userinfo and, for GitHub,
    /// e-mails endpoints.
    auth_url: (&'static str, &'static str),
    token_url: (&'static str, &'static str),
    userinfo_url: (&'static str, &'static str),
    emails_url: Option<(&'static str, &'static str)>,
}

const GOOGLE: OAuthVariables = OAuthVariables {
    client_id: "GOOGLE_CLIENT_ID",
    client_secret: "GOOGLE_CLIENT_SECRET",
    auth_url: (
        "GOOGLE_AUTH_URL",
        "https://accounts.google.com/o/oauth2/v2/auth",
    ),
    token_url: ("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
    userinfo_url: (
        "GOOGLE_USERINFO_URL",
        "https://openidconnect.googleapis.com/v1/userinfo",
    ),
    emails_url: None,
};

const GITHUB: OAuthVariables = OAuthVariables {
    client_id: "GITHUB_CLIENT_ID",
    client_secret: "GITHUB_CLIENT_SECRET",
    auth_url: (
        "GITHUB_AUTH_URL",
        "https://github.com/login/oauth/authorize",
    ),
    token_url: (
        "GITHUB_TOKEN_URL",
        "https://github.com/login/oauth/access_token",
    ),
    userinfo_url: ("GITHUB_USERINFO_URL", "https://api.github.com/user"),
    emails_url: Some(("GITHUB_EMAILS_URL", "https://api.github.com/user/emails")),
};

/// One provider: enabled when its client id and secret are both set. An
/// endpoint set without them is a mistake (the operator expects a button that
/// never shows), so it is refused like a lone id or secret.
fn provider(
    env: &Env<'_>,
    vars: &OAuthVariables,
) -> Result<Option<OAuthProviderConfig>, ConfigError> {
    let url = |(name, default): (&'static str, &'static str)| {
        parse_http_url(name, &env.string(name).unwrap_or_else(|| default.into()))
    };
    match (env.string(vars.client_id), env.string(vars.client_secret)) {
        (Some(client_id), Some(client_secret)) => Ok(Some(OAuthProviderConfig {
            client_id,
            client_secret: client_secret.into(),
            auth_url: url(vars.auth_url)?,
            token_url: url(vars.token_url)?,
            userinfo_url: url(vars.userinfo_url)?,
            emails_url: vars.emails_url.map(url).transpose()?,
        })),
        (Some(_), None) => Err(ConfigError::new(
            vars.client_secret,
            format!("is required when {} is set", vars.client_id),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            vars.client_id,
            format!("is required when {} is set", vars.client_secret),
        )),
        (None, None) => {
            let endpoints = [vars.auth_url, vars.token_url, vars.userinfo_url]
                .into_iter()
                .chain(vars.emails_url);
            match endpoints
                .map(|(name, _)| name)
                .find(|name| env.string(name).is_some())
            {
                Some(name) => Err(ConfigError::new(
                    vars.client_id,
                    format!("is required when {name} is set"),
                )),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;

    #[test]
    fn oauth_providers_are_enabled_by_their_client_id_and_secret() {
        let none = config(&[]).unwrap();
        assert!(none.oauth.google.is_none() && none.oauth.github.is_none());

        let config = config(&[
            ("GOOGLE_CLIENT_ID", "google-id"),
            ("GOOGLE_CLIENT_SECRET", "google-secret-hunter2"),
            ("GITHUB_CLIENT_ID", "github-id"),
            ("GITHUB_CLIENT_SECRET", "github-secret"),
            ("GITHUB_TOKEN_URL", "http://127.0.0.1:9999/token"),
        ])
        .unwrap();
        let google = config.oauth.google.as_ref().unwrap();
        assert_eq!(google.client_id, "google-id");
        assert_eq!(
            google.auth_url.as_str(),
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        assert!(google.emails_url.is_none());
        let github = config.oauth.github.as_ref().unwrap();
        assert_eq!(github.token_url.as_str(), "http://127.0.0.1:9999/token");
        assert_eq!(github.userinfo_url.as_str(), "https://api.github.com/user");
        assert_eq!(
            github.emails_url.as_ref().unwrap().as_str(),
            "https://api.github.com/user/emails"
        );
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn incomplete_or_bad_oauth_settings_name_their_variable() {
        let id = ("GITHUB_CLIENT_ID", "github-id");
        let secret = ("GITHUB_CLIENT_SECRET", "github-secret");
        let ftp = ("GITHUB_AUTH_URL", "ftp://x.test/a");
        let garbage = ("GITHUB_EMAILS_URL", "not a url");
        let lone_url = ("GOOGLE_AUTH_URL", "http://x.test/a");
        for (vars, variable) in [
            (vec![id], "GITHUB_CLIENT_SECRET"),
            (vec![("GOOGLE_CLIENT_SECRET", "s")], "GOOGLE_CLIENT_ID"),
            (vec![lone_url], "GOOGLE_CLIENT_ID"),
            (vec![id, secret, ftp], "GITHUB_AUTH_URL"),
            (vec![id, secret, garbage], "GITHUB_EMAILS_URL"),
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{vars:?}: {err}");
        }
    }
}
