//! What the `r2` backend adds to the pins resource: content sent with a pin (`POST /car`) and
//! the bytes a user keeps (`GET /usage`). Other backends keep no content: both are 404 there.

use super::model::{PinStatus, UsageReport};
use super::service::{self, PinService};
use crate::auth::user::UserId;
use crate::config::Provider;
use crate::domain::{cid::Cid, origins::Origins, pin::Pin, timestamp::Millis};
use crate::domain::{request_id::RequestId, upload::UploadQuery};
use crate::error::{storage, ApiError};
use crate::http::body::RequestBody;
use crate::r2::{layout, upload::UploadError};
use crate::r2::{Chunks, R2Settings, Sender};
use crate::store::{keys, kv::Kv, usage};
use crate::upstream::holders::CidKeys;
use crate::upstream::{Accept, Upstream, KV_PROPAGATION_MS};

impl<'a, K: Kv, U: Upstream> PinService<'a, K, U> {
    fn r2(&self) -> Result<&'a R2Settings, ApiError> {
        match self.upstream.map(|(_, s)| &s.provider) {
            Some(Provider::R2(r2)) => Ok(r2),
            _ => Err(ApiError::NotFound(
                "this service keeps no content (PIN_BACKEND is not r2)".into(),
            )),
        }
    }

    /// `GET /usage`.
    pub async fn usage(&self) -> Result<UsageReport, ApiError> {
        let quota = self.r2()?.quota.of(self.user.as_str());
        let u = usage::usage(self.kv, self.user).await.map_err(storage)?;
        Ok(UsageReport::new(&u, quota))
    }

    /// `POST /car`: the CAR's blocks join the DAG of its root, then the user's pin of that root
    /// is made (or, for a later part of a split upload, `?root=`, the pin they have is shown).
    pub async fn upload<B: RequestBody>(
        &self,
        q: UploadQuery,
        body: &mut B,
        now: Millis,
    ) -> Result<PinStatus<'a>, ApiError> {
        let r2 = self.r2()?;
        if body.declared_len().is_some_and(|n| n > r2.upload_bytes) {
            return Err(refused(UploadError::TooLarge(r2.upload_bytes)));
        }
        let (up, _) = self.upstream.expect("r2 is a real backend");
        let quota = r2.quota.of(self.user.as_str());
        let room = match quota {
            Some(quota) => {
                let used = usage::usage(self.kv, self.user).await.map_err(storage)?;
                if used.bytes >= quota {
                    return Err(over_quota(quota));
                }
                Some(quota - used.bytes)
            }
            None => None,
        };
        let root = q.root.as_ref().map(cid_of).transpose()?;
        let ask = Accept {
            root,
            cap: r2.upload_bytes,
            room,
        };
        let id = service::new_id(now)?;
        let mut sender = Stream {
            body,
            looks: CidKeys::new(self.kv),
            user: self.user,
            id: &id,
            now,
        };
        let done = up
            .client
            .accept(&mut sender, &ask)
            .await
            .map_err(|e| match (e, quota) {
                // The upload counts the room left; the message names the quota itself.
                (UploadError::OverQuota { .. }, Some(quota)) => over_quota(quota),
                (e, _) => refused(e),
            })?;
        let cid = Cid::parse(&done.root.to_string()).map_err(|e| ApiError::bad("car", e))?;
        if q.root.is_some() {
            if let Some(id) = self.pin_of(&cid).await? {
                return self.status(id.as_str(), now).await;
            }
        }
        let pin = Pin {
            cid,
            name: q.name,
            origins: Origins::default(),
            meta: q.meta,
        };
        self.add_as(id, pin, now).await
    }

    /// The user's newest pin of `cid`, if any (one list of the CID index).
    async fn pin_of(&self, cid: &Cid) -> Result<Option<RequestId>, ApiError> {
        let prefix = keys::holders_of(self.user, cid);
        let page = self.kv.list(&prefix, None, 1).await.map_err(storage)?;
        Ok(page
            .keys
            .first()
            .and_then(|k| RequestId::parse(&k.name[prefix.len()..])))
    }
}

fn cid_of(c: &Cid) -> Result<cid::Cid, ApiError> {
    cid::Cid::try_from(c.canonical()).map_err(|e| ApiError::bad("root", e))
}

fn over_quota(quota: u64) -> ApiError {
    ApiError::OverQuota(format!(
        "car: this upload would take you over your quota of {quota} bytes"
    ))
}

fn refused(e: UploadError) -> ApiError {
    match e {
        UploadError::Malformed(why) => ApiError::bad("car", why),
        UploadError::TooLarge(cap) => ApiError::PayloadTooLarge(format!(
            "car: larger than {cap} bytes; send it in parts with ?root="
        )),
        UploadError::OverQuota { room } => ApiError::OverQuota(format!(
            "car: this upload is larger than the {room} bytes left in your quota"
        )),
        UploadError::NotKept => ApiError::NotFound("this service keeps no content".into()),
        UploadError::TooSlow => {
            let minutes = (layout::UPLOAD_MS - layout::UPLOAD_COMMIT_MARGIN_MS) / 60_000;
            ApiError::bad(
                "car",
                format!("the body took longer than {minutes} minutes to arrive; send the DAG in parts with ?root="),
            )
        }
        UploadError::Storage(e) => ApiError::Internal(format!("storage error: {}", e.0)),
    }
}

/// The request body as the upload reads it, and the pin to come.
struct Stream<'b, B, K> {
    body: &'b mut B,
    looks: CidKeys<'b, K>,
    user: &'b UserId,
    id: &'b RequestId,
    now: Millis,
}

impl<B: RequestBody, K> Chunks for Stream<'_, B, K> {
    async fn next(&mut self) -> Option<Result<Vec<u8>, String>> {
        self.body
            .next_chunk()
            .await
            .map_err(|e| e.details())
            .transpose()
    }
}

impl<B: RequestBody, K: Kv> Sender for Stream<'_, B, K> {
    /// A look at the root, queued before the commit, and due once the commit and the add are
    /// surely over: a look before the commit would find nothing kept and drop the entry, one
    /// between the commit and the pin's holder would mark a DAG about to be held (harmless,
    /// but a wasted release's look). The add, should it run, queues its own as it always
    /// does: this one is enqueued at the commit's time, after the request's, so the two are
    /// two keys (KV takes one write a second to a key, `store::paced`).
    async fn committing(&mut self, root: &cid::Cid, at: u64) -> Result<(), String> {
        let root = Cid::parse(&root.to_string()).map_err(|e| e.to_string())?;
        let (user, due) = (self.user, at + KV_PROPAGATION_MS);
        let enqueued = Millis(at.max(self.now.0 + 1));
        self.looks
            .enqueue(root.canonical(), user, self.id, enqueued, due)
            .await
            .map_err(|e| e.0)
    }
}
