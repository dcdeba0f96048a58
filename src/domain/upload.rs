//! `POST /car`'s query: `name`, `meta` (a JSON object, as in a pin), and `root` (the DAG a
//! CAR belongs to when it is one part of several). Parsed once; the handler never looks at
//! the raw strings.

use super::{cid::Cid, meta::PinMeta, name::PinName};
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadQuery {
    pub name: Option<PinName>,
    pub meta: PinMeta,
    pub root: Option<Cid>,
}

impl UploadQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<UploadQuery, ApiError> {
        let mut q = UploadQuery::default();
        let mut seen = Vec::new();
        for (k, v) in pairs {
            if seen.contains(k) {
                return Err(ApiError::bad(k, "given more than once"));
            }
            seen.push(k.clone());
            match k.as_str() {
                "name" => q.name = Some(PinName::parse(v).map_err(|e| ApiError::bad("name", e))?),
                "meta" => {
                    let value = serde_json::from_str(v)
                        .map_err(|_| ApiError::bad("meta", "not a JSON object"))?;
                    q.meta = PinMeta::parse(value).map_err(|e| ApiError::bad("meta", e))?;
                }
                "root" => q.root = Some(Cid::parse(v).map_err(|e| ApiError::bad("root", e))?),
                _ => return Err(ApiError::bad(k, "unknown parameter (name, meta, root)")),
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_refuses() {
        let q =
            UploadQuery::parse(&pairs(&[("name", "site"), ("meta", r#"{"app":"x"}"#)])).unwrap();
        assert_eq!(q.name.unwrap().as_str(), "site");
        assert!(UploadQuery::parse(&pairs(&[("meta", "[1]")])).is_err());
        assert!(UploadQuery::parse(&pairs(&[("root", "nope")])).is_err());
        assert!(UploadQuery::parse(&pairs(&[("name", "a"), ("name", "b")])).is_err());
        assert!(UploadQuery::parse(&pairs(&[("limit", "1")])).is_err());
        let cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
        assert_eq!(
            UploadQuery::parse(&pairs(&[("root", cid)]))
                .unwrap()
                .root
                .unwrap()
                .as_given(),
            cid
        );
    }
}
