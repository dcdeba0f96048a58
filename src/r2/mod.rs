//! The `r2` backend: the service keeps pinned DAGs itself, verified, in the deployer's R2
//! bucket. It is a *provider* of the per-CID lifecycle that `crate::upstream` runs (holders,
//! CID states, the sweep, releases under the CIDs' gates): `Keeper` implements the same
//! `Upstream` interface a remote Pinning Service API does, so adds, reads, mirroring, retries
//! and deferred release are the same code for both real backends.
//!
//! - `manifest`: one DAG's job and result (`dag/{cid}/m`), the commit point of every step.
//! - `index`: where each kept block is and what it links to.
//! - `sources`: the HTTP places a DAG is fetched from (the pin's origins, then `GATEWAYS`).
//! - `fetch`: one Trustless Gateway request, streamed, every block verified.
//! - `step`: one bounded, resumable fetch step (a Queues message runs one).
//! - `keeper`: add / status / release of a DAG, as the lifecycle asks.
//!
//! Layout and costs: docs/storage.md, "R2 backend".

pub mod fetch;
pub mod index;
pub mod keeper;
pub mod layout;
pub mod manifest;
pub mod sources;
pub mod step;
pub mod upload;
mod work;

/// An R2 failure (binding error, network): the step or request stops; nothing half-committed
/// is ever named by a manifest, so retrying is always safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError(pub String);

/// A stored object and the etag a conditional write must match.
pub struct Blob {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// The R2 operations the backend uses. The edge implements it on the bucket binding; native
/// tests on a map.
#[allow(async_fn_in_trait)] // Workers run one thread; no `Send` bound is wanted.
pub trait Blobs {
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;
    /// `len` bytes from `offset`, or `None` when the object does not exist.
    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError>;
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError>;
    /// Writes only if the object's etag is still `etag`, and returns the new etag; `None`
    /// (nothing written) otherwise, also when the object is gone. The one compare-and-swap R2
    /// offers, and all a DAG's manifest needs to have a single writer.
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, BlobError>;
    async fn delete(&self, keys: Vec<String>) -> Result<(), BlobError>;
    /// Keys under `prefix`, a page at a time (R2 gives up to 1000), listed after `cursor`;
    /// the cursor returned (`None` at the end) is the page's last key.
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError>;
}

/// An HTTP GET's answer, its body read chunk by chunk as it arrives.
pub struct WebAnswer<B> {
    pub status: u16,
    pub content_type: String,
    pub body: B,
}

#[allow(async_fn_in_trait)]
pub trait Chunks {
    /// The next piece of the body; `None` at its end; an error when the stream broke.
    async fn next(&mut self) -> Option<Result<Vec<u8>, String>>;
}

/// Who sends an upload: its body, and a word before the commit.
#[allow(async_fn_in_trait)]
pub trait Sender: Chunks {
    /// The body arrived whole and checked out; the commit that names its objects comes next
    /// (`at`: the upload's clock now). The pin service queues a look at the root here: should
    /// the request stop between the commit and its pin, that look finds a DAG kept for nobody
    /// and releases it. An error stops the upload, which then names nothing.
    async fn committing(&mut self, root: &cid::Cid, at: u64) -> Result<(), String>;
}

/// Outgoing HTTP (the edge's `fetch`). Every call is a subrequest: steps count them.
#[allow(async_fn_in_trait)]
pub trait Web {
    type Body: Chunks;
    async fn get(&self, url: &str, accept: &str) -> Result<WebAnswer<Self::Body>, String>;
}

/// Starting a fetch step for a DAG (a Queues message; the edge sends it).
#[allow(async_fn_in_trait)]
pub trait Jobs {
    async fn start(&self, cid: &str, delay_secs: u32) -> Result<(), String>;
}

/// The `r2` backend's settings (README, "Pins kept in R2").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct R2Settings {
    /// Trustless gateways' base URLs, tried in turn after the pin's own HTTP origins.
    pub gateways: Vec<String>,
    /// A DAG larger than this fails instead of filling the bucket.
    pub max_pin_bytes: u64,
    /// What one step may fetch: bytes verified and kept, and HTTP requests made.
    pub step_bytes: u64,
    pub step_fetches: u32,
    /// Steps that keep nothing wait `retry_secs`, doubling, up to an hour; after `max_tries`
    /// such steps in a row the pin fails.
    pub retry_secs: u64,
    pub max_tries: u32,
    pub quota: Quota,
    /// Largest `POST /car` body, in bytes (`CAR_MAX_BYTES`).
    pub upload_bytes: u64,
}

/// Workers accept request bodies of up to 100 MB on the Free and Pro plans.
pub const DEFAULT_UPLOAD_BYTES: u64 = 100_000_000;

/// Bytes each user may keep: `QUOTA_BYTES` for everyone, `QUOTAS` per user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    pub default: Option<u64>,
    pub users: std::collections::BTreeMap<String, u64>,
}

impl Quota {
    pub fn of(&self, user: &str) -> Option<u64> {
        self.users.get(user).copied().or(self.default)
    }

    /// `QUOTA_BYTES` (absent: no quota) and `QUOTAS` (a JSON object of user name → bytes).
    /// Errors name the setting and the shape expected, never a value or a name.
    pub fn parse(default: Option<&str>, users: Option<&str>) -> Result<Quota, String> {
        let default = match default.map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| "QUOTA_BYTES must be a whole number of bytes".to_owned())?,
            ),
        };
        let users = match users.map(str::trim) {
            None | Some("") => Default::default(),
            Some(v) => serde_json::from_str(v).map_err(|_| {
                "QUOTAS must be a JSON object of user names to whole numbers of bytes".to_owned()
            })?,
        };
        Ok(Quota { default, users })
    }
}

/// Public trustless gateways: each answers `format=car` and `format=raw` for any CID the IPFS
/// network has (https://specs.ipfs.tech/http-gateways/trustless-gateway/).
pub const DEFAULT_GATEWAYS: &[&str] = &["https://trustless-gateway.link", "https://dweb.link"];
pub const DEFAULT_MAX_PIN_BYTES: u64 = 1 << 30;
pub const DEFAULT_STEP_BYTES: u64 = 32 << 20;
pub const DEFAULT_STEP_FETCHES: u32 = 40;
pub const DEFAULT_RETRY_SECS: u64 = 60;
/// With the default wait: 1, 2, 4, … 32, then 60 minutes: about 7 hours in all.
pub const DEFAULT_MAX_TRIES: u32 = 12;

/// Walks every object under `prefix`, a page at a time, deleting those `drop` picks as it goes;
/// returns the keys it left. The one way a DAG's objects are listed (a release, a step's
/// cleanup, a read's check), so each costs one list per 1000 objects. Never deletes an upload's
/// object that the upload may still name at `now` (`layout::upload_in_flight`), whatever
/// `drop` says: its commit would then name an object that is gone.
pub async fn prune<B: Blobs>(
    blobs: &B,
    prefix: &str,
    now: u64,
    drop: impl Fn(&str) -> bool,
) -> Result<Vec<String>, BlobError> {
    let drop = |k: &str| drop(k) && !layout::upload_in_flight(k, now);
    let (mut cursor, mut left) = (None, Vec::new());
    loop {
        let (keys, next) = blobs.list(prefix, cursor).await?;
        let (doomed, kept): (Vec<String>, Vec<String>) = keys.into_iter().partition(|k| drop(k));
        if !doomed.is_empty() {
            blobs.delete(doomed).await?;
        }
        left.extend(kept);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(left),
        }
    }
}

impl<T: Blobs> Blobs for &T {
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        (**self).get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        (**self).get_range(key, offset, len).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        (**self).put(key, bytes).await
    }
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, BlobError> {
        (**self).put_if(key, bytes, etag).await
    }
    async fn delete(&self, keys: Vec<String>) -> Result<(), BlobError> {
        (**self).delete(keys).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        (**self).list(prefix, cursor).await
    }
}

impl<T: Jobs> Jobs for &T {
    async fn start(&self, cid: &str, delay_secs: u32) -> Result<(), String> {
        (**self).start(cid, delay_secs).await
    }
}

#[cfg(test)]
mod tests {
    use super::Quota;

    #[test]
    fn quotas_parse_without_echoing_values() {
        let q = Quota::parse(Some("1000"), Some(r#"{"alice": 5}"#)).unwrap();
        assert_eq!((q.of("alice"), q.of("bob")), (Some(5), Some(1000)));
        assert_eq!(Quota::parse(None, None).unwrap().of("x"), None);
        let e = Quota::parse(Some("lots"), None).unwrap_err();
        assert!(!e.contains("lots"));
        let e = Quota::parse(None, Some(r#"{"alice": "s3cret"}"#)).unwrap_err();
        assert!(!e.contains("alice") && !e.contains("s3cret"));
    }
}
