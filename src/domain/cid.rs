//! Content identifiers: parsed with the `cid` crate, remembered as the client spelled them,
//! and keyed by one canonical spelling so that `Qm…`, `bafy…` and any other multibase match.

/// Longest CID string accepted: ample for any real hash function, small enough for KV keys.
pub const MAX_CID_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cid {
    given: String,
    canonical: String,
}

impl Cid {
    pub fn parse(s: &str) -> Result<Cid, String> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > MAX_CID_LEN {
            return Err(format!("longer than {MAX_CID_LEN} characters"));
        }
        // The identity multibase (a leading NUL, then the CID's raw bytes as text) parses, but
        // is echoed back as control characters: refused, and not quoted.
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must be printable text (no control characters or whitespace)".into());
        }
        let parsed =
            cid::Cid::try_from(s).map_err(|e| format!("'{s}' is not a valid CID ({e})"))?;
        // CIDv0 is always dag-pb + sha2-256, so it always has a v1 form.
        let v1 = parsed
            .into_v1()
            .map_err(|e| format!("'{s}' has no CIDv1 form ({e})"))?;
        Ok(Cid {
            given: s.to_owned(),
            canonical: v1.to_string(),
        })
    }

    /// What the client sent, echoed back in `pin.cid`.
    pub fn as_given(&self) -> &str {
        &self.given
    }

    /// CIDv1, base32 lower case: the spelling used in index keys.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V0: &str = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
    const V1: &str = "bafybeie5nqv6kd3qnfjupgvz34woh3oksc3iau6abmyajn7qvtf6d2ho34";

    #[test]
    fn v0_and_v1_share_a_canonical_form() {
        let a = Cid::parse(V0).unwrap();
        let b = Cid::parse(V1).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), V1);
        assert_eq!(a.as_given(), V0);
    }

    #[test]
    fn other_multibases_canonicalise() {
        let b = Cid::parse(V1).unwrap();
        // The same CID in base58btc ('z') and base16 ('f').
        let raw = cid::Cid::try_from(V1).unwrap();
        let z = raw
            .to_string_of_base(cid::multibase::Base::Base58Btc)
            .unwrap();
        let f = raw
            .to_string_of_base(cid::multibase::Base::Base16Lower)
            .unwrap();
        assert_eq!(Cid::parse(&z).unwrap().canonical(), b.canonical());
        assert_eq!(Cid::parse(&f).unwrap().canonical(), b.canonical());
    }

    #[test]
    fn refuses_text_that_is_not_printable() {
        let raw = cid::Cid::try_from(V1).unwrap().to_bytes();
        let identity: String = std::iter::once('\0')
            .chain(raw.iter().map(|&b| b as char))
            .collect();
        assert!(
            cid::Cid::try_from(identity.as_str()).is_ok(),
            "the crate takes it"
        );
        let e = Cid::parse(&identity).unwrap_err();
        assert!(!e.contains('\0') && e.contains("printable"), "{e}");
        for s in [format!("{V1}\n"), format!(" {V1}"), format!("{V0}\u{85}")] {
            assert!(Cid::parse(&s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "hello", "Qm", "bafy!", &"b".repeat(600)] {
            assert!(Cid::parse(s).is_err(), "{s}");
        }
    }
}
