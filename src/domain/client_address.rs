//! Which address a request comes from, as the rate limits count it.
//!
//! The socket's peer is the client, unless the peer is one of the operator's
//! `TRUSTED_PROXIES`: then the client is the right-most `X-Forwarded-For`
//! entry that is not itself a trusted proxy. Each proxy appends the address it
//! was reached from, so everything right of that entry was written by proxies
//! the operator trusts, and everything left of it by the client, who may write
//! anything. A peer that is not trusted gets its header ignored entirely.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The networks whose requests may name the client in `X-Forwarded-For`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of CIDR networks (`10.0.0.0/8`) or single
    /// addresses (`192.0.2.7`, `::1`).
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("{entry:?} is not a network like 10.0.0.0/8 or an address")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: `peer` (the socket's), or, when `peer` is a
    /// trusted proxy, the right-most entry of the `X-Forwarded-For` values
    /// (in the order the headers came) that is not a trusted proxy. An entry
    /// that is not an address ends the walk at the last trusted hop: Kiln will
    /// not count a client under a name the client chose.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        for entry in entries.into_iter().rev() {
            let Some(hop) = parse_hop(entry.trim()) else {
                break;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port
/// (`192.0.2.7:5120`, `[2001:db8::1]:5120`), as some proxies write them.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

/// The name a client address is counted under: the address itself for IPv4,
/// its /64 network for IPv6, where one subscriber is usually given a whole
/// /64 and could otherwise step to a fresh address for every attempt.
pub fn counted_as(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match IpNet::new(IpAddr::V6(v6), 64) {
            Ok(net) => net.trunc().to_string(),
            // 64 is a valid IPv6 prefix length.
            Err(_) => v6.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn networks_and_single_addresses_are_accepted_and_nonsense_is_not() {
        let parsed = proxies(" 10.0.0.0/8, 192.0.2.7 ,::1,, fd00::/8 ");
        assert_eq!(parsed.0.len(), 4);
        assert!(parsed.trusts(ip("10.20.30.40")));
        assert!(parsed.trusts(ip("192.0.2.7")));
        assert!(!parsed.trusts(ip("192.0.2.8")));
        assert!(parsed.trusts(ip("::1")));
        assert_eq!(proxies(""), TrustedProxies::default());
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8; 10.1.0.0/16"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("198.51.100.2"), ["203.0.113.9"]),
            ip("198.51.100.2")
        );
        let other = proxies("10.0.0.0/8");
        assert_eq!(
            other.client_address(ip("198.51.100.2"), ["203.0.113.9"]),
            ip("198.51.100.2"),
            "a peer outside the trusted networks is the client"
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let trusted = proxies("10.0.0.0/8");
        let peer = ip("10.0.0.2");
        assert_eq!(
            trusted.client_address(peer, ["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // The client wrote the left entries; the proxies appended the right ones.
        assert_eq!(
            trusted.client_address(peer, ["1.2.3.4, 203.0.113.9, 10.0.0.7"]),
            ip("203.0.113.9")
        );
        // Several headers read as one list, in order.
        assert_eq!(
            trusted.client_address(peer, ["1.2.3.4", "203.0.113.9", "10.0.0.7"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_forged_or_missing_entry_never_names_the_client() {
        let trusted = proxies("10.0.0.0/8");
        let peer = ip("10.0.0.2");
        assert_eq!(trusted.client_address(peer, []), peer, "no header");
        assert_eq!(
            trusted.client_address(peer, ["nonsense, 10.0.0.7"]),
            ip("10.0.0.7"),
            "garbage left of a trusted hop stops at that hop"
        );
        assert_eq!(trusted.client_address(peer, ["203.0.113.9, unknown"]), peer);
        assert_eq!(
            trusted.client_address(peer, ["10.0.0.9, 10.0.0.7"]),
            ip("10.0.0.9"),
            "a client inside the trusted network is the left-most entry"
        );
    }

    #[test]
    fn ports_and_mapped_addresses_are_read_as_plain_addresses() {
        let trusted = proxies("127.0.0.1/32");
        assert_eq!(
            trusted.client_address(ip("::ffff:127.0.0.1"), ["203.0.113.9:5120"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client_address(ip("127.0.0.1"), ["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            trusted.client_address(ip("127.0.0.1"), ["::ffff:198.51.100.2"]),
            ip("198.51.100.2")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_network() {
        assert_eq!(counted_as(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(
            counted_as(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            counted_as(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            counted_as(ip("2001:db8:1:2::1")),
            counted_as(ip("2001:db8:1:3::1"))
        );
    }
}
