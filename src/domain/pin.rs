//! The spec's `Pin` request body, parsed field by field so every refusal names its field.

use super::{cid::Cid, meta::PinMeta, name::PinName, origins::Origins};
use crate::error::ApiError;
use serde_json::{Map, Value};

/// Largest request body accepted (bytes); larger bodies are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub cid: Cid,
    pub name: Option<PinName>,
    pub origins: Origins,
    pub meta: PinMeta,
}

impl Pin {
    pub fn parse(body: &[u8]) -> Result<Pin, ApiError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad("body", format!("not valid JSON ({e})")))?;
        let Value::Object(mut obj) = value else {
            return Err(ApiError::bad("body", "must be a JSON object (a Pin)"));
        };
        let cid = match take(&mut obj, "cid") {
            Some(Value::String(s)) => Cid::parse(&s).map_err(|e| ApiError::bad("cid", e))?,
            Some(_) => return Err(ApiError::bad("cid", "must be a string")),
            None => return Err(ApiError::bad("cid", "is required")),
        };
        let name = match take(&mut obj, "name") {
            Some(Value::String(s)) => {
                Some(PinName::parse(&s).map_err(|e| ApiError::bad("name", e))?)
            }
            Some(_) => return Err(ApiError::bad("name", "must be a string")),
            None => None,
        };
        let origins = match take(&mut obj, "origins") {
            Some(Value::Array(items)) => {
                let strings = items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        _ => Err(ApiError::bad("origins", "must be an array of strings")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Origins::parse(strings).map_err(|e| ApiError::bad("origins", e))?
            }
            Some(_) => return Err(ApiError::bad("origins", "must be an array of strings")),
            None => Origins::default(),
        };
        let meta = match take(&mut obj, "meta") {
            Some(v) => PinMeta::parse(v).map_err(|e| ApiError::bad("meta", e))?,
            None => PinMeta::default(),
        };
        Ok(Pin {
            cid,
            name,
            origins,
            meta,
        })
    }
}

pub fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!("request body larger than {MAX_BODY_BYTES} bytes"))
}

/// An optional field. The spec's schema makes none of them nullable, so `null` is refused
/// (by each field's type check) rather than read as absent.
fn take(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    obj.remove(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    fn field_of(body: &str) -> String {
        match Pin::parse(body.as_bytes()) {
            Err(ApiError::BadRequest(d)) => d.split(':').next().unwrap().to_owned(),
            other => panic!("expected 400 for {body}, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_full_pin() {
        let body = format!(
            r#"{{"cid":"{CID}","name":"n","origins":["/ip4/1.2.3.4/tcp/1/p2p/QmX"],"meta":{{"a":"b"}},"extra":1}}"#
        );
        let pin = Pin::parse(body.as_bytes()).unwrap();
        assert_eq!(pin.cid.as_given(), CID);
        assert_eq!(pin.name.unwrap().as_str(), "n");
        assert_eq!(pin.origins.into_vec().len(), 1);
        assert_eq!(pin.meta.into_map()["a"], "b");
    }

    #[test]
    fn nulls_are_refused_not_absent() {
        for field in ["cid", "name", "origins", "meta"] {
            let body = format!(r#"{{"cid":"{CID}","{field}":null}}"#);
            assert_eq!(field_of(&body), field);
        }
    }

    #[test]
    fn names_the_bad_field() {
        assert_eq!(field_of("not json"), "body");
        assert_eq!(field_of("[]"), "body");
        assert_eq!(field_of("{}"), "cid");
        assert_eq!(field_of(r#"{"cid":5}"#), "cid");
        assert_eq!(field_of(r#"{"cid":"nope"}"#), "cid");
        assert_eq!(field_of(&format!(r#"{{"cid":"{CID}","name":7}}"#)), "name");
        let long = "x".repeat(256);
        assert_eq!(
            field_of(&format!(r#"{{"cid":"{CID}","name":"{long}"}}"#)),
            "name"
        );
        assert_eq!(
            field_of(&format!(r#"{{"cid":"{CID}","origins":"/a"}}"#)),
            "origins"
        );
        assert_eq!(
            field_of(&format!(r#"{{"cid":"{CID}","origins":[1]}}"#)),
            "origins"
        );
        assert_eq!(
            field_of(&format!(r#"{{"cid":"{CID}","meta":{{"a":1}}}}"#)),
            "meta"
        );
    }

    #[test]
    fn refuses_large_bodies() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            Pin::parse(&big),
            Err(ApiError::PayloadTooLarge(_))
        ));
    }
}
