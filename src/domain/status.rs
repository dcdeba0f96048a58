//! The four pin statuses and the `status=` filter set.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Pinning,
    Pinned,
    Failed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Queued,
        Status::Pinning,
        Status::Pinned,
        Status::Failed,
    ];

    pub fn parse(s: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not one of queued, pinning, pinned, failed"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Pinning => "pinning",
            Status::Pinned => "pinned",
            Status::Failed => "failed",
        }
    }

    /// `pinned` and `failed` do not change by themselves; `queued` and `pinning` do.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Pinned | Status::Failed)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A non-empty set of statuses, parsed from a comma list of unique values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSet(u8);

impl StatusSet {
    /// The spec's default when `status` is absent.
    pub const PINNED_ONLY: StatusSet = StatusSet(1 << (Status::Pinned as u8));

    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<StatusSet, String> {
        let mut bits = 0u8;
        for item in items {
            let st = Status::parse(item)?;
            if bits & st.bit() != 0 {
                return Err(format!("'{item}' is listed twice"));
            }
            bits |= st.bit();
        }
        if bits == 0 {
            return Err("must list at least one status".into());
        }
        Ok(StatusSet(bits))
    }

    pub fn contains(self, st: Status) -> bool {
        self.0 & st.bit() != 0
    }

    /// The sum of `count_of` over the statuses in the set.
    pub fn total(self, count_of: impl Fn(Status) -> usize) -> usize {
        Status::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(count_of)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let s = StatusSet::parse(["queued", "pinning"]).unwrap();
        assert!(s.contains(Status::Queued) && s.contains(Status::Pinning));
        assert!(!s.contains(Status::Pinned) && !s.contains(Status::Failed));
        assert!(StatusSet::PINNED_ONLY.contains(Status::Pinned));
    }

    #[test]
    fn rejects_duplicates_unknown_and_empty() {
        assert!(StatusSet::parse(["pinned", "pinned"]).is_err());
        assert!(StatusSet::parse(["Pinned"]).is_err());
        assert!(StatusSet::parse([""]).is_err());
        assert!(StatusSet::parse([]).is_err());
    }
}
