//! `Pin.origins`: provider hints. They are best-effort, so an origin is refused only when it
//! cannot be a multiaddr at all; private addresses and unfamiliar protocols are kept.

pub const MAX_ORIGINS: usize = 20;
pub const MAX_ORIGIN_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origins(Vec<String>);

impl Origins {
    pub fn parse(items: Vec<String>) -> Result<Origins, String> {
        if items.len() > MAX_ORIGINS {
            return Err(format!(
                "at most {MAX_ORIGINS} origins, got {}",
                items.len()
            ));
        }
        for (i, o) in items.iter().enumerate() {
            looks_like_multiaddr(o).map_err(|why| format!("[{i}] '{o}' {why}"))?;
            if items[..i].contains(o) {
                return Err(format!("[{i}] '{o}' is listed twice"));
            }
        }
        Ok(Origins(items))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// The shape every multiaddr has: `/proto[/value]...`, printable, no empty protocol names.
pub fn looks_like_multiaddr(s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_ORIGIN_BYTES {
        return Err("is longer than 1024 bytes");
    }
    if !s.starts_with('/') || s.len() < 2 {
        return Err("is not a multiaddr (must start with '/')");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a multiaddr (contains whitespace)");
    }
    if s[1..].split('/').next().is_some_and(str::is_empty) {
        return Err("is not a multiaddr (empty protocol name)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_private_and_unfamiliar_addresses() {
        let o = Origins::parse(vec![
            "/ip4/192.168.1.5/tcp/4001/p2p/QmSourcePeerId".into(),
            "/dns4/example.com/tcp/443/wss/p2p/QmX".into(),
            "/someday-protocol/xyz".into(),
        ])
        .unwrap();
        assert_eq!(o.into_vec().len(), 3);
    }

    #[test]
    fn refuses_non_multiaddrs_duplicates_and_too_many() {
        assert!(Origins::parse(vec!["ip4/1.2.3.4".into()]).is_err());
        assert!(Origins::parse(vec!["/ip4/1.2.3.4 /tcp/1".into()]).is_err());
        assert!(Origins::parse(vec!["/".into()]).is_err());
        assert!(Origins::parse(vec!["//x".into()]).is_err());
        assert!(Origins::parse(vec!["/a".into(), "/a".into()]).is_err());
        assert!(Origins::parse((0..21).map(|i| format!("/x/{i}")).collect()).is_err());
        assert!(Origins::parse((0..20).map(|i| format!("/x/{i}")).collect()).is_ok());
    }
}
