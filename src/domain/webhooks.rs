//! Webhooks' rules: which events there are, what an endpoint's URL may be,
//! how a delivery is signed (Standard Webhooks), how long a failed one waits
//! before the next attempt, and which addresses Kiln refuses to send to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

/// What Kiln tells an endpoint about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Every job of a file ended and the file is ready.
    FileReady,
    /// A file's jobs ended and one of them died: the file failed.
    FileFailed,
    /// A job used up its attempts.
    JobDead,
    /// Sent when the owner asks for it, to try an endpoint out.
    Test,
}

impl EventType {
    /// The events an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 3] = [Self::FileReady, Self::FileFailed, Self::JobDead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileReady => "file.ready",
            Self::FileFailed => "file.failed",
            Self::JobDead => "job.dead",
            Self::Test => "webhook.test",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::FileReady, Self::FileFailed, Self::JobDead, Self::Test]
            .into_iter()
            .find(|event| event.as_str() == raw)
    }
}

/// The events of an endpoint, as given: at least one, each subscribable, none
/// twice. Kept as a comma list.
pub fn parse_subscriptions(events: &[String]) -> Result<String, String> {
    if events.is_empty() {
        return Err("events must name at least one event".into());
    }
    let mut chosen: Vec<&'static str> = Vec::new();
    for raw in events {
        let event = EventType::parse(raw)
            .filter(|event| EventType::SUBSCRIBABLE.contains(event))
            .ok_or_else(|| {
                format!("{raw:?} is not an event; events are file.ready, file.failed and job.dead")
            })?;
        if !chosen.contains(&event.as_str()) {
            chosen.push(event.as_str());
        }
    }
    Ok(chosen.join(","))
}

/// The events of a comma list, as stored.
pub fn subscriptions(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|event| !event.is_empty())
        .map(str::to_string)
        .collect()
}

/// Longest endpoint URL.
const MAX_URL_LEN: usize = 2048;

/// An endpoint's URL: absolute http or https, with a host, no credentials, at
/// most [`MAX_URL_LEN`] bytes.
pub fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let refusal = || "url must be an absolute http or https URL with a host".to_string();
    if raw.len() > MAX_URL_LEN {
        return Err(format!("url must be at most {MAX_URL_LEN} bytes"));
    }
    let url = Url::parse(raw.trim()).map_err(|_| refusal())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refusal());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry a user name or password".into());
    }
    Ok(url)
}

/// The prefix of a signing secret, as Standard Webhooks writes them.
const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// `webhook-signature` for a delivery: `v1,` and the base64 HMAC-SHA256, keyed
/// with the secret's bytes, of `id.timestamp.body`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    // A secret Kiln made always decodes; anything else signs with its text.
    let key = STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// How long a delivery that failed `attempts` times waits for the next
/// attempt: `first`, doubling each time, at most `longest`.
pub fn retry_delay(attempts: u32, first: Duration, longest: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    first.saturating_mul(1 << doublings).min(longest)
}

/// The address a URL names by number rather than by host name.
pub fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Whether Kiln may send to `address`: not loopback, private, link-local
/// (where cloud metadata services answer), shared (CGNAT), unique-local,
/// multicast, unspecified, broadcast, reserved or documentation space; an
/// IPv4 address inside IPv6 is judged as IPv4.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10
    let this_network = a == 0; // 0.0.0.0/8
    let reserved = a >= 240; // 240.0.0.0/4 and broadcast
    let protocol_assignments = a == 192 && b == 0 && c == 0; // 192.0.0.0/24
    let benchmarking = a == 198 && (b & 0xfe) == 18; // 198.18.0.0/15
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || this_network
        || reserved
        || protocol_assignments
        || benchmarking)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00; // fc00::/7
    let link_local = (first & 0xffc0) == 0xfe80; // fe80::/10
    let site_local = (first & 0xffc0) == 0xfec0; // fec0::/10, deprecated
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8; // 2001:db8::/32
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation)
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = ip.segments();
    let low = || {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    };
    match segments {
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(low()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_one_the_standard_webhooks_spec_gives_for_its_example() {
        // The example of the Standard Webhooks specification's signature section.
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn only_public_addresses_are_allowed() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!is_public(ip), "{refused} must be refused");
        }
        for allowed in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert!(is_public(ip), "{allowed} must be allowed");
        }
    }

    #[test]
    fn retries_double_from_the_first_delay_up_to_the_longest() {
        let (first, longest) = (Duration::from_secs(5), Duration::from_secs(3600));
        assert_eq!(retry_delay(1, first, longest), Duration::from_secs(5));
        assert_eq!(retry_delay(2, first, longest), Duration::from_secs(10));
        assert_eq!(retry_delay(5, first, longest), Duration::from_secs(80));
        assert_eq!(retry_delay(20, first, longest), longest);
        assert_eq!(retry_delay(u32::MAX, first, longest), longest);
    }

    #[test]
    fn subscriptions_are_known_events_each_once() {
        let given = ["job.dead", "file.ready", "job.dead"].map(String::from);
        assert_eq!(parse_subscriptions(&given).unwrap(), "job.dead,file.ready");
        assert!(parse_subscriptions(&[]).is_err());
        assert!(parse_subscriptions(&["webhook.test".into()]).is_err());
        assert!(parse_subscriptions(&["file.deleted".into()]).is_err());
    }

    #[test]
    fn endpoints_are_absolute_http_urls_without_credentials() {
        assert!(parse_endpoint("https://hooks.example.com/kiln").is_ok());
        assert!(parse_endpoint("http://127.0.0.1:9000/").is_ok());
        for refused in [
            "ftp://example.com/",
            "/relative",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(parse_endpoint(refused).is_err(), "{refused}");
        }
    }
}
