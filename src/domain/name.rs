//! Pin names (≤ 255 characters, as the spec's `maxLength`) and how a `name` filter matches them.

pub const MAX_NAME_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinName(String);

impl PinName {
    pub fn parse(s: &str) -> Result<PinName, String> {
        if s.chars().count() > MAX_NAME_CHARS {
            return Err(format!("longer than {MAX_NAME_CHARS} characters"));
        }
        Ok(PinName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The spec's `TextMatchingStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    #[default]
    Exact,
    IExact,
    Partial,
    IPartial,
}

impl MatchMode {
    pub fn parse(s: &str) -> Result<MatchMode, String> {
        match s {
            "exact" => Ok(MatchMode::Exact),
            "iexact" => Ok(MatchMode::IExact),
            "partial" => Ok(MatchMode::Partial),
            "ipartial" => Ok(MatchMode::IPartial),
            _ => Err(format!(
                "'{s}' is not one of exact, iexact, partial, ipartial"
            )),
        }
    }
}

/// A `name` filter with its match mode, folded once so that matching a pin costs no allocation
/// in the case-sensitive modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFilter {
    needle: String,
    mode: MatchMode,
}

impl NameFilter {
    /// Any name a pin can have, the empty one too (the schema's `name` has no `minLength`):
    /// `name=` matches pins named "" exactly, and with `partial` every pin that has a name.
    pub fn parse(name: &str, mode: MatchMode) -> Result<NameFilter, String> {
        let name = PinName::parse(name)?;
        let needle = match mode {
            MatchMode::IExact | MatchMode::IPartial => name.0.to_lowercase(),
            MatchMode::Exact | MatchMode::Partial => name.0,
        };
        Ok(NameFilter { needle, mode })
    }

    /// A pin without a name matches no name filter.
    pub fn matches(&self, name: Option<&str>) -> bool {
        let Some(name) = name else { return false };
        match self.mode {
            MatchMode::Exact => name == self.needle,
            MatchMode::Partial => name.contains(&self.needle),
            MatchMode::IExact => name.to_lowercase() == self.needle,
            MatchMode::IPartial => name.to_lowercase().contains(&self.needle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(n: &str, m: &str) -> NameFilter {
        NameFilter::parse(n, MatchMode::parse(m).unwrap()).unwrap()
    }

    #[test]
    fn match_modes() {
        let name = Some("PreciousData.pdf");
        assert!(filter("PreciousData.pdf", "exact").matches(name));
        assert!(!filter("preciousdata.pdf", "exact").matches(name));
        assert!(filter("preciousdata.PDF", "iexact").matches(name));
        assert!(!filter("precious", "iexact").matches(name));
        assert!(filter("Data", "partial").matches(name));
        assert!(!filter("data", "partial").matches(name));
        assert!(filter("DATA.p", "ipartial").matches(name));
        assert!(!filter("x", "ipartial").matches(name));
        assert!(!filter("x", "partial").matches(None));
    }

    #[test]
    fn an_empty_name_is_a_filter_like_any_other() {
        assert!(filter("", "exact").matches(Some("")));
        assert!(!filter("", "iexact").matches(Some("a")));
        assert!(filter("", "partial").matches(Some("a")));
        assert!(!filter("", "ipartial").matches(None));
    }

    #[test]
    fn unicode_case_folding_and_length() {
        assert!(filter("ÄPFEL", "iexact").matches(Some("äpfel")));
        assert!(PinName::parse(&"é".repeat(255)).is_ok());
        assert!(PinName::parse(&"é".repeat(256)).is_err());
        assert!(NameFilter::parse(&"é".repeat(256), MatchMode::Exact).is_err());
        assert!(MatchMode::parse("EXACT").is_err());
    }
}
