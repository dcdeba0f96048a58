//! `GET /pins` query parameters, parsed once into a `ListQuery` the store can apply.

use super::{
    cid::Cid,
    meta::PinMeta,
    name::{MatchMode, NameFilter},
    status::{Status, StatusSet},
    timestamp::{Instant, Millis},
};
use crate::error::ApiError;
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 1000;
pub const MAX_CIDS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Canonical CIDs (deduplicated); `None` when no `cid` filter was given.
    pub cids: Option<Vec<Cid>>,
    pub name: Option<NameFilter>,
    pub status: StatusSet,
    pub before: Option<Instant>,
    pub after: Option<Instant>,
    pub limit: usize,
    pub meta: Option<PinMeta>,
}

/// What a filter needs to know of one pin. `None` fields are unknown (not in list metadata).
pub struct Candidate<'a> {
    pub created: Millis,
    pub status: Status,
    pub name: Option<Option<&'a str>>,
    pub meta: Option<&'a BTreeMap<String, String>>,
}

/// Whether a candidate matches, or whether the full record must be read to tell.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    NeedRecord,
}

impl ListQuery {
    /// `pairs` are already percent-decoded; list parameters are split on ',' after decoding.
    pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
        let mut cid_items: Vec<&str> = Vec::new();
        let mut status_items: Vec<&str> = Vec::new();
        let mut single: BTreeMap<&str, &str> = BTreeMap::new();
        // `meta[key]=value`: how the official TypeScript client (OpenAPI deepObject) sends meta.
        let mut meta_fields = serde_json::Map::new();
        for (k, v) in pairs {
            match k.as_str() {
                deep if deep.starts_with("meta[") && deep.ends_with(']') => {
                    let key = &deep["meta[".len()..deep.len() - 1];
                    if meta_fields
                        .insert(key.to_owned(), serde_json::Value::String(v.clone()))
                        .is_some()
                    {
                        return Err(ApiError::bad(k, "given more than once"));
                    }
                }
                "cid" => cid_items.extend(v.split(',')),
                "status" => status_items.extend(v.split(',')),
                "name" | "match" | "before" | "after" | "limit" | "meta"
                    if single.insert(k, v).is_some() =>
                {
                    return Err(ApiError::bad(k, "given more than once"));
                }
                // The guard above already recorded first occurrences; unknown parameters are
                // not ours to refuse.
                _ => {}
            }
        }
        let present = |k: &str| pairs.iter().any(|(key, _)| key == k);

        let cids = if present("cid") {
            Some(parse_cids(&cid_items)?)
        } else {
            None
        };
        let status = if present("status") {
            StatusSet::parse(status_items).map_err(|e| ApiError::bad("status", e))?
        } else {
            StatusSet::PINNED_ONLY
        };
        let mode = match single.get("match") {
            Some(m) => MatchMode::parse(m).map_err(|e| ApiError::bad("match", e))?,
            None => MatchMode::default(),
        };
        let name = single
            .get("name")
            .map(|n| NameFilter::parse(n, mode).map_err(|e| ApiError::bad("name", e)))
            .transpose()?;
        let instant = |k: &str| {
            single
                .get(k)
                .map(|v| Instant::parse(v).map_err(|e| ApiError::bad(k, e)))
                .transpose()
        };
        let (before, after) = (instant("before")?, instant("after")?);
        let limit = match single.get("limit") {
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad(
                        "limit",
                        format!("'{l}' is not an integer from 1 to {MAX_LIMIT}"),
                    ))
                }
            },
            None => DEFAULT_LIMIT,
        };
        let meta = match (single.get("meta"), meta_fields.is_empty()) {
            (None, true) => None,
            (Some(_), false) => {
                return Err(ApiError::bad(
                    "meta",
                    "give either meta={json} or meta[key]=value, not both",
                ))
            }
            (Some(m), true) => Some(
                serde_json::from_str(m)
                    .map_err(|e| ApiError::bad("meta", format!("not a JSON object ({e})")))?,
            ),
            (None, false) => Some(serde_json::Value::Object(meta_fields)),
        }
        .map(|v| PinMeta::parse_filter(v).map_err(|e| ApiError::bad("meta", e)))
        .transpose()?;
        Ok(ListQuery {
            cids,
            name,
            status,
            before,
            after,
            limit,
            meta,
        })
    }

    /// True when per-status totals give this query's `count`: directly, or less the pins a
    /// newest-first scan passes before reaching `before`. (With `after`, a scan stops at the
    /// first pin too old, its count complete.)
    pub fn counts_from_totals(&self) -> bool {
        self.cids.is_none() && self.name.is_none() && self.meta.is_none() && self.after.is_none()
    }

    pub fn judge(&self, c: &Candidate<'_>) -> Verdict {
        if !self.status.contains(c.status)
            || self.before.is_some_and(|b| !c.created.is_before(b))
            || self.after.is_some_and(|a| !c.created.is_after(a))
        {
            return Verdict::No;
        }
        if let Some(filter) = &self.name {
            match c.name {
                None => return Verdict::NeedRecord,
                Some(name) if !filter.matches(name) => return Verdict::No,
                Some(_) => {}
            }
        }
        if let Some(filter) = &self.meta {
            match c.meta {
                None => return Verdict::NeedRecord,
                Some(meta) if !filter.is_subset_of(meta) => return Verdict::No,
                Some(_) => {}
            }
        }
        Verdict::Yes
    }
}

fn parse_cids(items: &[&str]) -> Result<Vec<Cid>, ApiError> {
    if items.len() > MAX_CIDS {
        return Err(ApiError::bad(
            "cid",
            format!("at most {MAX_CIDS} CIDs, got {}", items.len()),
        ));
    }
    let mut cids: Vec<Cid> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        // The schema's `uniqueItems`: the same string twice is a malformed list. Two spellings
        // of one CID are distinct items, and filter as one.
        if items[..i].contains(item) {
            return Err(ApiError::bad("cid", format!("'{item}' is listed twice")));
        }
        let cid = Cid::parse(item).map_err(|e| ApiError::bad("cid", e))?;
        if !cids.iter().any(|c| c.canonical() == cid.canonical()) {
            cids.push(cid);
        }
    }
    Ok(cids)
}

#[cfg(test)]
mod tests;
