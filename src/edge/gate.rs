//! The CIDs' gates on Durable Objects: `CidGate`, one object per CID (`CID_GATES`, by name),
//! the core's `GateStore` on the object's storage (a key per holder, `h:{holder}`, and the
//! lease record, `l`); and the stub side that carries a `GateCall` to it as a small JSON request.
//!
//! A call makes only storage calls, no other I/O, so the runtime's input gate delivers no other
//! call in the middle: calls to one CID are applied one at a time, in one place, whichever
//! Cloudflare location they come from.

use super::objects::{self, error_text as text};
use crate::upstream::gate::{
    self, GateCall, GateFuture, GateReply, GateStore, GateTransport, LeaseRecord,
};
use worker::{
    durable_object, DurableObject, Env, ListOptions, ObjectNamespace, Request, Response, Result,
    State, Storage,
};

const RECORD_KEY: &str = "l";
const HOLDER: &str = "h:";

#[durable_object(fetch)]
pub struct CidGate {
    state: State,
}

impl DurableObject for CidGate {
    fn new(state: State, _env: Env) -> Self {
        CidGate { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: GateCall = match req.json().await {
            Ok(call) => call,
            Err(e) => return Response::error(format!("not a gate call: {e}"), 400),
        };
        let store = ObjectStore(self.state.storage());
        match gate::apply(&store, call, super::now().0).await {
            Ok(reply) => Response::from_json(&reply),
            Err(e) => Response::error(format!("gate storage: {e}"), 500),
        }
    }
}

struct ObjectStore(Storage);

impl GateStore for ObjectStore {
    async fn record(&self) -> std::result::Result<LeaseRecord, String> {
        Ok(self
            .0
            .get(RECORD_KEY)
            .await
            .map_err(text)?
            .unwrap_or_default())
    }
    async fn set_record(&self, record: &LeaseRecord) -> std::result::Result<(), String> {
        self.0.put(RECORD_KEY, record).await.map_err(text)
    }
    async fn add_holder(&self, holder: &str) -> std::result::Result<(), String> {
        self.0
            .put(&format!("{HOLDER}{holder}"), 1u8)
            .await
            .map_err(text)
    }
    async fn remove_holder(&self, holder: &str) -> std::result::Result<(), String> {
        let key = format!("{HOLDER}{holder}");
        self.0.delete(&key).await.map(drop).map_err(text)
    }
    async fn holders(&self, limit: usize) -> std::result::Result<Vec<String>, String> {
        let options = ListOptions::new().prefix(HOLDER).limit(limit);
        let found = self.0.list_with_options(options).await.map_err(text)?;
        Ok(found
            .keys()
            .into_iter()
            .filter_map(|k| k.ok()?.as_string())
            .filter_map(|k| k.strip_prefix(HOLDER).map(str::to_owned))
            .collect())
    }
}

/// Calls to the gates through their namespace binding.
pub struct DoGates(pub ObjectNamespace);

impl GateTransport for DoGates {
    fn call<'a>(&'a self, cid: &'a str, call: GateCall) -> GateFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_string(&call).map_err(|e| e.to_string())?;
            let answer = objects::call(&self.0, cid, "https://gate/", body).await?;
            serde_json::from_str::<GateReply>(&answer).map_err(|e| e.to_string())
        })
    }
}
