//! The HTTP client deliveries go out with, and one attempt at a delivery.
//!
//! Outbound safety: no redirects are followed; an attempt, connecting
//! included, takes at most `WEBHOOK_TIMEOUT`; at most [`RESPONSE_READ_LIMIT`]
//! bytes of the answer are read. Unless `WEBHOOK_ALLOW_PRIVATE_NETWORKS`, a
//! destination must be a public address ([`is_public`]): a host name is
//! checked by the client's own resolver, after DNS, for every connection it
//! opens (so a name that turns private between two attempts is refused, and
//! the connection goes to exactly the addresses checked), and an address
//! written in the URL is checked before sending.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::Utc;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use secrecy::ExposeSecret;
use url::Url;

use crate::actors::catalog::webhooks::{Attempt, DueDelivery};
use crate::domain::webhooks::{is_public, literal_address, sign};

/// The most of an endpoint's answer that is read (then dropped).
const RESPONSE_READ_LIMIT: usize = 4 * 1024;

/// Why a destination was refused, as the delivery records it.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0} is not a public address")]
pub struct PrivateDestination(IpAddr);

/// Resolves host names with the system's resolver and refuses any that
/// resolves to an address that is not public.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
                return Err(Box::new(PrivateDestination(private.ip())) as _);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Sends deliveries.
#[derive(Debug, Clone)]
pub struct DeliveryClient {
    http: reqwest::Client,
    allow_private_networks: bool,
}

impl DeliveryClient {
    pub fn new(timeout: Duration, allow_private_networks: bool) -> Result<Self, reqwest::Error> {
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("kiln-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private_networks {
            builder = builder.dns_resolver(PublicOnly);
        }
        Ok(Self {
            http: builder.build()?,
            allow_private_networks,
        })
    }

    /// Refuses a URL whose host is an address that is not public.
    fn check_literal(&self, url: &Url) -> Result<(), PrivateDestination> {
        match literal_address(url) {
            Some(address) if !self.allow_private_networks && !is_public(address) => {
                Err(PrivateDestination(address))
            }
            _ => Ok(()),
        }
    }

    /// One attempt at `delivery`: signed now, posted, its answer read up to
    /// the limit.
    pub async fn attempt(&self, delivery: &DueDelivery) -> Attempt {
        let failed = |status_code, error: String| Attempt::Failed { status_code, error };
        let url = match Url::parse(&delivery.url) {
            Ok(url) => url,
            Err(err) => return failed(None, format!("invalid url: {err}")),
        };
        if let Err(refusal) = self.check_literal(&url) {
            return failed(None, refusal.to_string());
        }
        let id = delivery.id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = sign(
            delivery.secret.expose_secret(),
            &id,
            timestamp,
            delivery.payload.as_bytes(),
        );
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            // Without the URL: its path or query may hold the receiver's own
            // credential, which must not reach the log or the deliveries list.
            Err(err) => return failed(None, describe(&err.without_url())),
        };
        let status = response.status();
        let mut read = 0;
        while read < RESPONSE_READ_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        match status.is_success() {
            true => Attempt::Delivered {
                status_code: status.as_u16(),
            },
            false => failed(
                Some(status.as_u16()),
                format!("the endpoint answered {status}"),
            ),
        }
    }
}

/// What went wrong with a request, in a line: the refusal of a private
/// destination when that was it.
fn describe(err: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<PrivateDestination>() {
            return refusal.to_string();
        }
        source = cause.source();
    }
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else {
        crate::error_chain(err)
    }
}
