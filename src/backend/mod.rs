//! Pinning backends: what happens to a pin after it is recorded. Chosen by `PIN_BACKEND`.

use crate::domain::status::Status;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Recorded and reported `pinned` at once, retrieving nothing: for development and clients' tests.
    Instant,
    /// Recorded as `queued`, for a real backend to take over.
    None,
    /// Pinned by an upstream Pinning Service API provider (`crate::upstream`).
    Upstream,
}

/// A new pin's first status and the `info` that explains it.
pub struct Admission {
    pub status: Status,
    pub info: BTreeMap<String, String>,
}

impl Backend {
    pub fn parse(s: &str) -> Result<Backend, String> {
        match s {
            "instant" => Ok(Backend::Instant),
            "none" => Ok(Backend::None),
            "upstream" => Ok(Backend::Upstream),
            // Never the value: settings' errors reach every client.
            _ => Err("PIN_BACKEND must be one of: instant, none, upstream".into()),
        }
    }

    pub fn admit(self) -> Admission {
        let (status, details) = match self {
            Backend::Instant => (
                Status::Pinned,
                "instant backend: recorded as pinned; no content was retrieved",
            ),
            Backend::None => (Status::Queued, "queued: no pinning backend is configured"),
            // Never used for a stored pin: `crate::upstream::pins` admits those.
            Backend::Upstream => (Status::Queued, "queued for the upstream pinning service"),
        };
        Admission {
            status,
            info: [("status_details".to_owned(), details.to_owned())].into(),
        }
    }
}
