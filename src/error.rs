//! The one place where a failure becomes a spec `Failure` (status code, reason, details).

use crate::store::{kv::KvError, paced::rate_limited};
use std::fmt;

/// Every way a request can fail. Handlers return these; `http::reply` renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the client sent something malformed; the text names the field and why.
    BadRequest(String),
    /// 401: missing or invalid credentials. The text is safe to show (never echoes a secret).
    Unauthorized(String),
    /// 404: no such resource for this user (also for other users' resources).
    NotFound(String),
    /// 405: the path exists but not with this method; carries the `Allow` list.
    MethodNotAllowed(&'static str),
    /// 406: the gateway cannot answer this content in the form asked (a dag-cbor block as a
    /// web page).
    NotAcceptable(String),
    /// 416: a `Range` outside the content; carries its length (`Content-Range: bytes */n`).
    RangeNotSatisfiable(u64),
    /// 409: the request is well-formed but the user's current pins forbid it (a documented
    /// limit reached). The spec lists 409 for every `/pins` write.
    Conflict(String),
    /// 403: an upload that would take the user over their byte quota.
    OverQuota(String),
    /// 413: request body above the documented bound.
    PayloadTooLarge(String),
    /// 429: over a limit; says which, and carries the seconds to wait (`Retry-After`).
    TooManyRequests(String, u32),
    /// 500: our fault or our configuration's; details are for the operator's logs too.
    Internal(String),
}

/// A KV call that failed. KV's refusal of a key written within the second, still refused
/// after `Paced`'s tries again, is the client's to retry (a pin added and replaced or deleted
/// at once): 429 with a second to wait, not the service's fault.
pub fn storage(e: KvError) -> ApiError {
    if rate_limited(&e) {
        let why = "this was written a moment ago";
        return ApiError::TooManyRequests(why.into(), 1);
    }
    ApiError::Internal(format!("storage error: {}", e.0))
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::RangeNotSatisfiable(_) => 416,
            ApiError::Conflict(_) => 409,
            ApiError::OverQuota(_) => 403,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::TooManyRequests(..) => 429,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::NotAcceptable(_) => "NOT_ACCEPTABLE",
            ApiError::RangeNotSatisfiable(_) => "RANGE_NOT_SATISFIABLE",
            ApiError::Conflict(_) => "PIN_LIMIT_REACHED",
            ApiError::OverQuota(_) => "QUOTA_EXCEEDED",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::TooManyRequests(..) => "TOO_MANY_REQUESTS",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn details(&self) -> String {
        match self {
            ApiError::BadRequest(d)
            | ApiError::Unauthorized(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::NotAcceptable(d)
            | ApiError::PayloadTooLarge(d)
            | ApiError::OverQuota(d)
            | ApiError::Internal(d) => d.clone(),
            ApiError::MethodNotAllowed(allow) => format!("method not allowed; allowed: {allow}"),
            ApiError::RangeNotSatisfiable(len) => {
                format!("the range is outside the content's {len} bytes")
            }
            ApiError::TooManyRequests(what, secs) => {
                format!("{what}; retry in {secs} seconds")
            }
        }
    }

    pub fn bad(field: &str, why: impl fmt::Display) -> Self {
        ApiError::BadRequest(format!("{field}: {why}"))
    }

    /// Over the per-user request rate.
    pub fn rate_limited() -> Self {
        ApiError::TooManyRequests("rate limit exceeded".into(), crate::limits::PERIOD_SECS)
    }

    pub fn pin_not_found() -> Self {
        ApiError::NotFound("no pin object with this requestid".into())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.reason(), self.details())
    }
}

impl std::error::Error for ApiError {}
