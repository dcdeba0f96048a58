//! Object names in the R2 bucket. Everything of one DAG lives under `dag/{cid}/` (the root's
//! canonical CIDv1), so a release lists one prefix and deletes it.

/// Names a writer's objects (a fetch step's, an upload's): time first, so a listing shows them
/// in order, then 64 random bits, so no two writers share a name.
pub fn tag(now: u64) -> String {
    let mut r = [0u8; 8];
    let _ = getrandom::getrandom(&mut r);
    format!("{now:013}-{:016x}", u64::from_le_bytes(r))
}

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
