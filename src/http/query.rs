//! `application/x-www-form-urlencoded` query strings: split on `&` and `=`, then percent-decode
//! (and `+` → space) each side. Splitting list values on `,` happens after this, so an encoded
//! comma (`%2C`) separates list items just as a literal one does.

use crate::error::ApiError;

pub fn parse(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(k).map_err(|e| ApiError::bad("query", e))?;
            let value = decode(v).map_err(|e| ApiError::bad(&key, e))?;
            Ok((key, value))
        })
        .collect()
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("malformed percent-encoding")?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "not valid UTF-8 after percent-decoding".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        parse(q).unwrap()
    }

    #[test]
    fn decodes() {
        assert_eq!(
            pairs("meta=%7B%22app_id%22%3A%22UUID%22%7D&name=a+b&cid=x%2Cy&flag"),
            vec![
                ("meta".into(), r#"{"app_id":"UUID"}"#.into()),
                ("name".into(), "a b".into()),
                ("cid".into(), "x,y".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(pairs("name=%C3%A4"), vec![("name".into(), "ä".into())]);
        assert!(pairs("").is_empty());
    }

    #[test]
    fn refuses_broken_escapes() {
        assert!(parse("name=%zz").is_err());
        assert!(parse("name=%4").is_err());
        assert!(parse("name=%ff").is_err());
    }
}
