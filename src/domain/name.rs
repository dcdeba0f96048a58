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

/// How `iexact` and `ipartial` compare names, and what the name index is keyed by (one
/// definition, so the index and a scan always agree): Unicode's default lower-case mapping of
/// the whole string, `str::to_lowercase`. It is not locale-specific, applies the full mappings
/// ('İ' becomes "i̇", two characters) and lowers a final 'Σ' to 'ς'. It is not full case
/// folding: 'ß' and "SS" stay different, as do 'ς' and 'σ'.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
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
            MatchMode::IExact | MatchMode::IPartial => fold(&name.0),
            MatchMode::Exact | MatchMode::Partial => name.0,
        };
        Ok(NameFilter { needle, mode })
    }

    /// The folded name whose index entries hold every match (`exact` and `iexact`), or `None`
    /// when only a scan can answer (`partial`, `ipartial`). An exact match folds alike, so the
    /// two modes share one index and `exact` keeps the entries whose name is the same.
    pub fn indexed(&self) -> Option<String> {
        match self.mode {
            MatchMode::Exact => Some(fold(&self.needle)),
            MatchMode::IExact => Some(self.needle.clone()),
            MatchMode::Partial | MatchMode::IPartial => None,
        }
    }

    /// A pin without a name matches no name filter.
    pub fn matches(&self, name: Option<&str>) -> bool {
        let Some(name) = name else { return false };
        match self.mode {
            MatchMode::Exact => name == self.needle,
            MatchMode::Partial => name.contains(&self.needle),
            MatchMode::IExact => fold(name) == self.needle,
            MatchMode::IPartial => fold(name).contains(&self.needle),
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

    #[test]
    fn folding_is_the_lower_case_mapping_of_the_whole_name() {
        assert_eq!(fold("İstanbul"), "i\u{307}stanbul", "length changes");
        assert!(filter("İSTANBUL", "iexact").matches(Some("i\u{307}stanbul")));
        assert!(!filter("istanbul", "iexact").matches(Some("İstanbul")));
        assert!(filter("ΟΔΟΣ", "iexact").matches(Some("οδος")));
        assert!(
            !filter("ß", "iexact").matches(Some("SS")),
            "not full case folding"
        );
        assert_eq!(
            filter("Policy/X/MFS", "exact").indexed().as_deref(),
            Some("policy/x/mfs")
        );
        assert_eq!(
            filter("Policy/X/MFS", "iexact").indexed().as_deref(),
            Some("policy/x/mfs")
        );
        assert_eq!(filter("x", "partial").indexed(), None);
        assert_eq!(filter("x", "ipartial").indexed(), None);
    }
}
