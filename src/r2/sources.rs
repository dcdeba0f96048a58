//! Where a DAG is fetched from: the HTTP(S) origins its pins named, then the configured
//! trustless gateways. libp2p-only origins cannot be reached from a Worker and are skipped.

/// The base URL of an origin multiaddr that speaks HTTP: `/dns4/h/tcp/443/https`,
/// `/ip4/a/tcp/8080/http`, `/dns/h/tcp/443/tls/http` (a trailing `/p2p/…` is allowed).
pub fn origin_url(multiaddr: &str) -> Option<String> {
    let parts: Vec<&str> = multiaddr.strip_prefix('/')?.split('/').collect();
    let [host_proto, host, "tcp", port, rest @ ..] = parts.as_slice() else {
        return None;
    };
    let port: u16 = port.parse().ok()?;
    let host = match *host_proto {
        "dns" | "dns4" | "dns6" if is_hostname(host) => host.to_string(),
        "ip4" if host.parse::<std::net::Ipv4Addr>().is_ok() => host.to_string(),
        "ip6" if host.parse::<std::net::Ipv6Addr>().is_ok() => format!("[{host}]"),
        _ => return None,
    };
    let (scheme, rest) = match rest {
        ["https", rest @ ..] | ["tls", "http", rest @ ..] => ("https", rest),
        ["http", rest @ ..] => ("http", rest),
        _ => return None,
    };
    if !matches!(rest, [] | ["p2p", _]) {
        return None;
    }
    let default = if scheme == "https" { 443 } else { 80 };
    Some(if port == default {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    })
}

fn is_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The sources of one step, starting at a different one each try so that a source that keeps
/// failing does not hold the DAG back.
pub fn rotated(origins: &[String], gateways: &[String], tries: u32) -> Vec<String> {
    let mut all: Vec<String> = origins.iter().chain(gateways).cloned().collect();
    all.dedup();
    if !all.is_empty() {
        let k = tries as usize % all.len();
        all.rotate_left(k);
    }
    all
}

/// `GATEWAYS`: comma-separated `http(s)://` base URLs, without paths or queries.
pub fn parse_gateways(s: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = s
        .split(',')
        .map(|g| g.trim().trim_end_matches('/').to_owned())
        .filter(|g| !g.is_empty())
        .collect();
    if list.is_empty() || list.len() > 10 {
        return Err("GATEWAYS must list 1 to 10 gateway URLs".into());
    }
    for (i, g) in list.iter().enumerate() {
        let rest = g
            .strip_prefix("https://")
            .or_else(|| g.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            !r.is_empty()
                && !r.contains(['/', '?', '#', '@'])
                && r.chars().all(|c| c.is_ascii_graphic())
        });
        if !ok {
            return Err(format!(
                "GATEWAYS entry {} is not an http(s) base URL without a path",
                i + 1
            ));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_origins_become_urls_and_libp2p_ones_are_skipped() {
        let cases = [
            (
                "/dns4/ipfs.example.com/tcp/443/https",
                Some("https://ipfs.example.com"),
            ),
            (
                "/dns/example.org/tcp/8443/tls/http/p2p/QmX",
                Some("https://example.org:8443"),
            ),
            (
                "/ip4/127.0.0.1/tcp/9090/http",
                Some("http://127.0.0.1:9090"),
            ),
            ("/ip6/::1/tcp/80/http", Some("http://[::1]")),
            ("/ip4/1.2.3.4/tcp/4001/p2p/QmX", None),
            ("/dns4/x.com/tcp/443/wss/p2p/QmX", None),
            ("/ip4/1.2.3.4/udp/4001/quic-v1", None),
            ("/dns4/a b/tcp/443/https", None),
            ("/ip4/999.1.1.1/tcp/80/http", None),
            ("/dns4/x.com/tcp/99999/https", None),
        ];
        for (m, want) in cases {
            assert_eq!(origin_url(m).as_deref(), want, "{m}");
        }
    }

    #[test]
    fn gateways_parse_and_rotate() {
        let g = parse_gateways(" https://a.example/ ,http://127.0.0.1:8080").unwrap();
        assert_eq!(g, ["https://a.example", "http://127.0.0.1:8080"]);
        assert!(parse_gateways("").is_err());
        assert!(parse_gateways("ftp://x").is_err());
        assert!(parse_gateways("https://x/ipfs").is_err());
        assert!(parse_gateways("https://u:p@x").is_err());
        let o = vec!["http://o".to_owned()];
        assert_eq!(rotated(&o, &g, 0)[0], "http://o");
        assert_eq!(rotated(&o, &g, 1)[0], "https://a.example");
        assert_eq!(rotated(&o, &g, 3)[0], "http://o");
    }
}
