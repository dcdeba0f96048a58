//! Object names in the R2 bucket. Everything of one DAG lives under `dag/{cid}/` (the root's
//! canonical CIDv1), so a release lists one prefix and deletes it.

/// Names a writer's objects (a fetch step's, an upload's): time first, so a listing shows them
/// in order, then 64 random bits, so no two writers share a name.
pub fn tag(now: u64) -> String {
    format!("{now:013}-{}", nonce())
}

/// 64 random bits, in hex.
pub fn nonce() -> String {
    let mut r = [0u8; 8];
    let _ = getrandom::getrandom(&mut r);
    format!("{:016x}", u64::from_le_bytes(r))
}

/// How long an upload may take from its first byte to its commit. Its objects (`upload_object`)
/// are spared by every cleanup until then, since it may still name them; it commits nothing
/// later (`UPLOAD_COMMIT_MARGIN_MS` before, by its own clock), so that after it they are
/// leftovers like any other.
pub const UPLOAD_MS: u64 = 60 * 60_000;
/// An upload commits only this long before its `UPLOAD_MS` runs out: room for the commit's few
/// R2 calls and for the clocks of the machines that clean up.
pub const UPLOAD_COMMIT_MARGIN_MS: u64 = 10 * 60_000;

/// The name (after `s/` or `i/`) of an upload's object: `u`, the time the upload began, the
/// upload's own `nonce`, and which of its objects.
pub fn upload_object(started: u64, nonce: &str, which: &str) -> String {
    format!("u{started:013}-{nonce}-{which}")
}

/// When the upload that wrote `key` began, if an upload did.
fn upload_started(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next().unwrap_or("");
    let time = name.strip_prefix('u')?.get(..13)?;
    time.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| time.parse().ok())?
}

/// Whether `key` is an upload's object that the upload may still name at `now`.
pub fn upload_in_flight(key: &str, now: u64) -> bool {
    upload_started(key).is_some_and(|t| now < t.saturating_add(UPLOAD_MS))
}

/// Whether `key` is an upload's object that the upload can no longer name at `now`: unless
/// it did, a leftover.
pub fn upload_left(key: &str, now: u64) -> bool {
    upload_started(key).is_some_and(|t| now >= t.saturating_add(UPLOAD_MS))
}

/// Every DAG's objects.
pub const DAGS: &str = "dag/";

/// The DAG's manifest: its job, its result, and which segments and index are in force.
pub fn manifest(cid: &str) -> String {
    format!("dag/{cid}/m")
}

/// A CARv1 of the blocks one step (or one upload) kept. `tag` is unique to the writer, so a
/// step that loses its commit deletes its own objects and never another's.
pub fn segment(cid: &str, tag: &str) -> String {
    format!("dag/{cid}/s/{tag}")
}

/// The index written by the step with `tag`.
pub fn index(cid: &str, tag: &str) -> String {
    format!("dag/{cid}/i/{tag}")
}

/// Every index object of one DAG.
pub fn indexes(cid: &str) -> String {
    format!("dag/{cid}/i/")
}

/// Every object of one DAG.
pub fn dag_prefix(cid: &str) -> String {
    format!("dag/{cid}/")
}
