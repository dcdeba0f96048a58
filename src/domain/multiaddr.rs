//! A strict reading of a multiaddr, for the origins the `upstream` backend passes on to its
//! provider. `Origins::parse` is lenient on purpose (origins are hints; unfamiliar protocols
//! are stored and returned as given); an origin goes upstream only if every component is a
//! protocol we know with a well-formed value and it ends in `/p2p/<peer id>` (without a peer
//! a provider cannot fetch from it anyway). So no provider refuses a pin for the shape of an
//! origin we chose to send.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `s` is a multiaddr every provider can parse, ending in a peer id.
pub fn is_dialable(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('/') else {
        return false;
    };
    let mut parts = rest.split('/');
    let mut last_was_peer = false;
    while let Some(proto) = parts.next() {
        last_was_peer = false;
        let ok = match proto {
            "ip4" => parts.next().is_some_and(|v| v.parse::<Ipv4Addr>().is_ok()),
            "ip6" => parts.next().is_some_and(|v| v.parse::<Ipv6Addr>().is_ok()),
            "dns" | "dns4" | "dns6" | "dnsaddr" => parts.next().is_some_and(is_hostname),
            "tcp" | "udp" => parts.next().is_some_and(is_port),
            "p2p" | "ipfs" => {
                last_was_peer = true;
                parts.next().is_some_and(is_peer_id)
            }
            "quic" | "quic-v1" | "ws" | "wss" | "tls" | "webtransport" | "webrtc-direct"
            | "p2p-circuit" | "http" | "https" => true,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    last_was_peer
}

fn is_port(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u16>().is_ok()
}

fn is_hostname(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A libp2p peer id: a base58btc multihash (`Qm…`, `12D3Koo…`) or a CIDv1 (`bafz…`, `k51…`).
pub fn is_peer_id(s: &str) -> bool {
    let as_base58_multihash = || {
        cid::multibase::Base::Base58Btc
            .decode(s)
            .ok()
            .is_some_and(|bytes| cid::multihash::Multihash::<64>::from_bytes(&bytes).is_ok())
    };
    !s.is_empty() && (as_base58_multihash() || cid::Cid::try_from(s).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

    #[test]
    fn takes_the_addresses_kubo_announces() {
        for a in [
            format!("/ip4/198.51.100.7/tcp/4001/p2p/{PEER}"),
            format!("/ip6/2001:db8::1/udp/4001/quic-v1/p2p/{PEER}"),
            format!("/dns4/node.example.com/tcp/443/wss/p2p/{PEER}"),
            format!("/ip4/192.168.1.5/tcp/4001/p2p/{PEER}"),
            format!("/p2p/{PEER}"),
        ] {
            assert!(is_dialable(&a), "{a}");
        }
    }

    #[test]
    fn refuses_what_a_strict_provider_would() {
        for a in [
            "/ip4/999.1.1.1/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
            "/ip4/1.2.3.4/tcp/70000/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
            "/ip4/1.2.3.4/tcp/4001",
            "/ip4/1.2.3.4/tcp/4001/p2p/not-a-peer",
            "/someday-protocol/xyz/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
            "/dns4/-bad-.com/tcp/1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
            "/ip4/1.2.3.4/tcp//p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
            "ip4/1.2.3.4/tcp/1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
            "/",
        ] {
            assert!(!is_dialable(a), "{a}");
        }
    }
}
