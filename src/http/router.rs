//! Which operation a method and path name. Unknown paths are 404 and known paths with another
//! method are 405 (with `Allow`), both decided before authentication.

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListPins,
    AddPin,
    GetPin(String),
    ReplacePin(String),
    DeletePin(String),
    IssueToken,
    ListTokens,
    RevokeToken(String),
    /// `GET /usage`: pins per status and bytes kept (`r2` backend).
    Usage,
    /// `GET`/`HEAD /ipfs/{cid}[/path]`: the gateway (`crate::gateway`) parses the rest.
    Gateway,
    /// CORS preflight for a known path; carries that path's `Allow` list.
    Preflight(&'static str),
}

impl Route {
    /// The most body bytes this route reads; `None`: it reads no body at all.
    pub fn body_cap(&self) -> Option<usize> {
        match self {
            Route::AddPin | Route::ReplacePin(_) | Route::IssueToken => {
                Some(crate::domain::pin::MAX_BODY_BYTES)
            }
            _ => None,
        }
    }
}

const PINS_ALLOW: &str = "GET, POST, OPTIONS";
const PIN_ALLOW: &str = "GET, POST, DELETE, OPTIONS";
const USAGE_ALLOW: &str = "GET, OPTIONS";
const TOKEN_ALLOW: &str = "POST, OPTIONS";
const TOKENS_ALLOW: &str = "GET, OPTIONS";
const ONE_TOKEN_ALLOW: &str = "DELETE, OPTIONS";
const GATEWAY_ALLOW: &str = "GET, HEAD, OPTIONS";

/// Gateway paths go to `crate::gateway::handler` (the edge sends them there).
pub fn is_gateway(path: &str) -> bool {
    path.starts_with("/ipfs/")
}

pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let (allow, route) = match segments.as_slice() {
        ["pins"] => (
            PINS_ALLOW,
            match method {
                "GET" => Some(Route::ListPins),
                "POST" => Some(Route::AddPin),
                _ => None,
            },
        ),
        ["pins", id] if !id.is_empty() => {
            let id = (*id).to_owned();
            (
                PIN_ALLOW,
                match method {
                    "GET" => Some(Route::GetPin(id)),
                    "POST" => Some(Route::ReplacePin(id)),
                    "DELETE" => Some(Route::DeletePin(id)),
                    _ => None,
                },
            )
        }
        ["usage"] => (USAGE_ALLOW, (method == "GET").then_some(Route::Usage)),
        ["token"] => (TOKEN_ALLOW, (method == "POST").then_some(Route::IssueToken)),
        ["tokens"] => (TOKENS_ALLOW, (method == "GET").then_some(Route::ListTokens)),
        ["tokens", id] if !id.is_empty() => (
            ONE_TOKEN_ALLOW,
            (method == "DELETE").then(|| Route::RevokeToken((*id).to_owned())),
        ),
        ["ipfs", cid, ..] if !cid.is_empty() => (
            GATEWAY_ALLOW,
            matches!(method, "GET" | "HEAD").then_some(Route::Gateway),
        ),
        _ => return Err(ApiError::NotFound(format!("no such endpoint: {path}"))),
    };
    match route {
        Some(r) => Ok(r),
        None if method == "OPTIONS" => Ok(Route::Preflight(allow)),
        None => Err(ApiError::MethodNotAllowed(allow)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/pins"), Ok(Route::ListPins));
        assert_eq!(route("GET", "/pins/"), Ok(Route::ListPins));
        assert_eq!(route("POST", "/pins"), Ok(Route::AddPin));
        assert_eq!(route("GET", "/pins/abc"), Ok(Route::GetPin("abc".into())));
        assert_eq!(
            route("POST", "/pins/abc"),
            Ok(Route::ReplacePin("abc".into()))
        );
        assert_eq!(
            route("DELETE", "/pins/abc/"),
            Ok(Route::DeletePin("abc".into()))
        );
        assert_eq!(route("POST", "/token"), Ok(Route::IssueToken));
        assert_eq!(route("GET", "/tokens"), Ok(Route::ListTokens));
        assert_eq!(
            route("DELETE", "/tokens/t1"),
            Ok(Route::RevokeToken("t1".into()))
        );
        assert_eq!(
            route("GET", "/tokens/t1"),
            Err(ApiError::MethodNotAllowed(ONE_TOKEN_ALLOW))
        );
        assert_eq!(route("OPTIONS", "/pins"), Ok(Route::Preflight(PINS_ALLOW)));
        assert_eq!(route("HEAD", "/ipfs/bafy/a/b/"), Ok(Route::Gateway));
        assert_eq!(
            route("OPTIONS", "/ipfs/bafy"),
            Ok(Route::Preflight(GATEWAY_ALLOW))
        );
        assert!(is_gateway("/ipfs/bafy") && !is_gateway("/ipfsx"));
    }

    #[test]
    fn refuses() {
        assert_eq!(
            route("DELETE", "/pins"),
            Err(ApiError::MethodNotAllowed(PINS_ALLOW))
        );
        assert_eq!(
            route("PUT", "/pins/x"),
            Err(ApiError::MethodNotAllowed(PIN_ALLOW))
        );
        assert_eq!(
            route("GET", "/token"),
            Err(ApiError::MethodNotAllowed(TOKEN_ALLOW))
        );
        for p in ["/", "", "/pin", "/pins/a/b", "/pins//", "/PINS"] {
            assert!(matches!(route("GET", p), Err(ApiError::NotFound(_))), "{p}");
        }
    }
}
