//! OAuth 2 sign-in with Google and GitHub: each provider's endpoints and
//! scopes, the authorize URL (with `state` and a PKCE S256 challenge), the code
//! exchange, and who the provider says signed in.
//!
//! Unlike the rest of `auth` this part does I/O: it speaks HTTP to the
//! provider's token and userinfo endpoints, with one reqwest client whose
//! redirects are off (a token endpoint that redirects is misconfigured, and
//! following it would carry the code and verifier elsewhere). The `oauth2`
//! crate builds and parses the standard requests; it gets that client through
//! `send` instead of its own reqwest feature, which would link a second HTTP
//! stack.
//!
//! What the browser must hold between the redirect out and the callback (the
//! state and the PKCE verifier) is sealed into a cookie by [`flow`]. Which
//! account an [`Identity`] opens is the Catalog's decision: matched by the
//! provider's user id, and by address only when the provider vouches for it.

pub mod flow;

use std::sync::LazyLock;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::config::{OAuthConfig, OAuthProviderConfig};
use crate::domain::Email;

/// A provider Kiln can sign in with. Its [`id`](Provider::id) appears in URLs
/// (`/auth/{id}/start`) and in the `oauth_accounts.provider` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    #[serde(rename = "google")]
    Google,
    #[serde(rename = "github")]
    GitHub,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Google, Provider::GitHub];

    pub fn id(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
        }
    }

    /// The name people know it by, for buttons and messages.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::GitHub => "GitHub",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|provider| provider.id() == id)
    }

    /// Its settings, when Kiln is configured for it.
    pub fn settings(self, config: &OAuthConfig) -> Option<&OAuthProviderConfig> {
        match self {
            Provider::Google => config.google.as_ref(),
            Provider::GitHub => config.github.as_ref(),
        }
    }

    /// The providers Kiln is configured for, in display order.
    pub fn configured(config: &OAuthConfig) -> impl Iterator<Item = Provider> + '_ {
        Self::ALL
            .into_iter()
            .filter(|provider| provider.settings(config).is_some())
    }

    /// Enough to learn a stable id, a name and the address with its
    /// verification; nothing else of the account.
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Provider::Google => &["openid", "email", "profile"],
            Provider::GitHub => &["read:user", "user:email"],
        }
    }
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: Provider,
    /// The provider's stable id of the account (Google's `sub`, GitHub's `id`).
    pub provider_user_id: String,
    /// Normalised like a registered address; `None` when the provider gave none
    /// (or one Kiln would not accept).
    pub email: Option<String>,
    /// The provider vouches that the account owns `email`.
    pub email_verified: bool,
    /// A display name, within the bounds of a registered one.
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("the HTTP client for OAuth providers cannot be built: {0}")]
    Client(String),
    #[error("the provider did not exchange the code for a token")]
    Exchange(#[source] RequestTokenError<reqwest::Error, BasicErrorResponse>),
    #[error("the provider cannot be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the provider answered {status} at {url}")]
    Status {
        url: Url,
        status: reqwest::StatusCode,
    },
    #[error("the provider's answer at {url} is not what was expected")]
    Malformed {
        url: Url,
        #[source]
        source: serde_json::Error,
    },
}

/// Longest a display name from a provider may be, as for a registered one.
const MAX_NAME_CHARS: usize = 100;

/// The client for every provider request: no redirects, bounded waits, and a
/// User-Agent (GitHub's API refuses requests without one). Built once: it holds
/// the TLS roots and a connection pool.
static HTTP: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| err.to_string())
});

fn http() -> Result<&'static reqwest::Client, OAuthError> {
    HTTP.as_ref().map_err(|err| OAuthError::Client(err.clone()))
}

/// What `oauth2` calls to make a request (in place of its own reqwest 0.12
/// support): one request over `client`, answered with the whole body.
async fn send(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let response = client.execute(request.try_into()?).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut answer = oauth2::http::Response::new(response.bytes().await?.to_vec());
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn client(settings: &OAuthProviderConfig, redirect_uri: &Url) -> Client {
    BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            settings.client_secret.expose_secret().to_string(),
        ))
        // Both providers take the credentials as form fields; GitHub documents
        // only that way.
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::from_url(settings.auth_url.clone()))
        .set_token_uri(TokenUrl::from_url(settings.token_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()))
}

/// Where to send the browser, and the secrets to keep until it comes back.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub url: Url,
    /// Must come back unchanged with the code (it ties the callback to this
    /// browser's flow).
    pub state: String,
    /// Proves at the exchange that whoever redeems the code started the flow.
    pub pkce_verifier: String,
}

/// Starts a sign-in: the provider's authorize URL with a fresh `state` and a
/// PKCE S256 challenge, and the secrets the callback needs.
pub fn authorization(
    provider: Provider,
    settings: &OAuthProviderConfig,
    redirect_uri: &Url,
) -> Authorization {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client(settings, redirect_uri)
        .authorize_url(CsrfToken::new_random)
        .add_scopes(provider.scopes().iter().map(|s| Scope::new(s.to_string())))
        .set_pkce_challenge(challenge)
        .url();
    Authorization {
        url,
        state: state.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    }
}

/// Finishes a sign-in: exchanges `code` (with the PKCE verifier) for an access
/// token and asks the provider who it belongs to.
pub async fn sign_in(
    provider: Provider,
    settings: &OAuthProviderConfig,
    redirect_uri: &Url,
    code: String,
    pkce_verifier: String,
) -> Result<Identity, OAuthError> {
    let http = http()?;
    let token = client(settings, redirect_uri)
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
        .request_async(&|request| send(http, request))
        .await
        .map_err(OAuthError::Exchange)?;
    let access_token = token.access_token().secret();
    match provider {
        Provider::Google => {
            let info: GoogleUserinfo = get_json(http, &settings.userinfo_url, access_token).await?;
            Ok(identity(
                provider,
                info.sub,
                info.email,
                info.email_verified,
                info.name,
            ))
        }
        Provider::GitHub => {
            let user: GitHubUser = get_json(http, &settings.userinfo_url, access_token).await?;
            let primary = match &settings.emails_url {
                Some(url) => get_json::<Vec<GitHubEmail>>(http, url, access_token)
                    .await?
                    .into_iter()
                    .find(|address| address.primary),
                None => None,
            };
            let (email, verified) = match primary {
                Some(address) => (Some(address.email), address.verified),
                None => (None, false),
            };
            Ok(identity(
                provider,
                user.id.to_string(),
                email,
                verified,
                user.name.or(Some(user.login)),
            ))
        }
    }
}

/// An identity with its address and name held to Kiln's rules: an address Kiln
/// would not accept counts as none (and so cannot be verified).
fn identity(
    provider: Provider,
    provider_user_id: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
) -> Identity {
    let email = email.and_then(|raw| Email::parse(&raw).ok());
    Identity {
        provider,
        provider_user_id,
        email_verified: email_verified && email.is_some(),
        email: email.map(|email| email.as_str().to_string()),
        name: name.and_then(|raw| clean_name(&raw)),
    }
}

fn clean_name(raw: &str) -> Option<String> {
    let name: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    access_token: &str,
) -> Result<T, OAuthError> {
    let response = http
        .get(url.clone())
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(OAuthError::Unreachable)?;
    if !response.status().is_success() {
        return Err(OAuthError::Status {
            url: url.clone(),
            status: response.status(),
        });
    }
    let body = response.bytes().await.map_err(OAuthError::Unreachable)?;
    serde_json::from_slice(&body).map_err(|source| OAuthError::Malformed {
        url: url.clone(),
        source,
    })
}

/// Google's OpenID Connect userinfo.
#[derive(Deserialize)]
struct GoogleUserinfo {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
    name: Option<String>,
}

/// GitHub's `/user`.
#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

/// One entry of GitHub's `/user/emails`.
#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// `true`, or the string `"true"` some OpenID providers send instead.
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(deserializer)? {
        Some(Flag::Bool(flag)) => flag,
        Some(Flag::Text(text)) => text.eq_ignore_ascii_case("true"),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::{Digest, Sha256};

    fn settings() -> OAuthProviderConfig {
        OAuthProviderConfig {
            client_id: "client-1".into(),
            client_secret: "secret-1".to_string().into(),
            auth_url: Url::parse("https://provider.test/authorize?prompt=consent").unwrap(),
            token_url: Url::parse("https://provider.test/token").unwrap(),
            userinfo_url: Url::parse("https://provider.test/userinfo").unwrap(),
            emails_url: None,
        }
    }

    fn query(url: &Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    #[test]
    fn the_authorize_url_carries_state_and_an_s256_challenge_of_the_verifier() {
        let redirect = Url::parse("https://kiln.test/auth/google/callback").unwrap();
        let auth = authorization(Provider::Google, &settings(), &redirect);
        let url = &auth.url;
        assert_eq!(url.host_str(), Some("provider.test"));
        assert_eq!(url.path(), "/authorize");
        // The configured URL's own parameters stay.
        assert_eq!(query(url, "prompt").as_deref(), Some("consent"));
        assert_eq!(query(url, "response_type").as_deref(), Some("code"));
        assert_eq!(query(url, "client_id").as_deref(), Some("client-1"));
        assert_eq!(
            query(url, "redirect_uri").as_deref(),
            Some(redirect.as_str())
        );
        assert_eq!(query(url, "scope").as_deref(), Some("openid email profile"));
        assert_eq!(query(url, "state"), Some(auth.state.clone()));
        assert_eq!(query(url, "code_challenge_method").as_deref(), Some("S256"));
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(auth.pkce_verifier.as_bytes()));
        assert_eq!(query(url, "code_challenge"), Some(expected));
        assert!(query(url, "client_secret").is_none());
        assert!(auth.state.len() >= 16 && auth.pkce_verifier.len() >= 43);
    }

    #[test]
    fn every_authorization_has_its_own_state_and_verifier() {
        let redirect = Url::parse("https://kiln.test/auth/github/callback").unwrap();
        let one = authorization(Provider::GitHub, &settings(), &redirect);
        let two = authorization(Provider::GitHub, &settings(), &redirect);
        assert_ne!(one.state, two.state);
        assert_ne!(one.pkce_verifier, two.pkce_verifier);
        assert_eq!(
            query(&one.url, "scope").as_deref(),
            Some("read:user user:email")
        );
    }

    #[test]
    fn providers_round_trip_through_their_ids() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.id()), Some(provider));
        }
        assert_eq!(Provider::parse("Google"), None);
        assert_eq!(Provider::parse("gitlab"), None);
    }

    #[test]
    fn an_identity_keeps_only_addresses_and_names_kiln_accepts() {
        let found = identity(
            Provider::Google,
            "42".into(),
            Some(" Ada@Example.COM ".into()),
            true,
            Some("  Ada\u{7}  Lovelace ".into()),
        );
        assert_eq!(found.email.as_deref(), Some("ada@example.com"));
        assert!(found.email_verified);
        assert_eq!(found.name.as_deref(), Some("Ada  Lovelace"));

        let odd = identity(
            Provider::GitHub,
            "7".into(),
            Some("not-an-address".into()),
            true,
            Some("   ".into()),
        );
        assert_eq!(
            (odd.email, odd.email_verified, odd.name),
            (None, false, None)
        );
    }

    #[test]
    fn email_verified_may_be_a_string() {
        let info: GoogleUserinfo =
            serde_json::from_str(r#"{"sub":"1","email":"a@b.test","email_verified":"true"}"#)
                .unwrap();
        assert!(info.email_verified);
        let info: GoogleUserinfo = serde_json::from_str(r#"{"sub":"1"}"#).unwrap();
        assert!(!info.email_verified);
    }
}
