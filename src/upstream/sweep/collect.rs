//! Uploads' leftovers (`r2`): an upload cut off midway leaves segments under its DAG's prefix
//! that no commit will name once its hour is up (`r2::layout::UPLOAD_MS`). A step or a release
//! of that DAG deletes them, but a DAG that nobody pinned has neither. So once an hour, in the
//! first minute (beside `verify`), the provider goes over one page of its objects (1,000) from
//! where the last pass stopped (`s/collect`) and deletes those (`Upstream::collect`), stopping
//! sooner in a page with more DAGs to read than a pass reads: the whole bucket is gone over
//! once every ⌈objects / 1,000⌉ hours or, where finished uploads crowd, every ⌈such DAGs /
//! 10⌉ hours.
//!
//! Costs per pass: 1 KV get and at most 1 put or delete (the cursor); the provider's 1 list,
//! and 1 get and 1 delete per DAG with leftovers (at most `r2::keeper::COLLECT_DAGS`).

use super::Sweep;
use crate::store::kv::{Kv, KvError};
use crate::upstream::{Answer, Upstream};

const CURSOR: &str = "s/collect";

impl<K: Kv, U: Upstream> Sweep<'_, K, U> {
    /// Objects deleted.
    pub(super) async fn collect(&self) -> Result<u32, KvError> {
        if !self.hourly() || self.kv_left() < 2 || self.calls_left() < 1 {
            return Ok(0);
        }
        let cursor = self.pass_cursor(CURSOR).await?;
        let had = cursor.is_some();
        // An error leaves the cursor: the next pass tries the same page.
        let Answer::Ok((deleted, next)) = self.up.collect(cursor.clone()).await else {
            return Ok(0);
        };
        match next {
            Some(next) if Some(&next) != cursor.as_ref() => {
                let meta = serde_json::json!({});
                self.kv.put(CURSOR, &next, &meta, None).await?
            }
            Some(_) => {}
            None if had => self.kv.delete(CURSOR).await?,
            None => {}
        }
        Ok(deleted)
    }
}
