//! The CIDs' gates on Durable Objects: `CidGate`, one object per CID (`CID_GATES`, by name),
//! keeping the core's `GateState` under one storage key; and the stub side that carries a
//! `GateCall` to it as a small JSON request.
//!
//! An object applies each call between a storage read and a write with no other I/O between
//! them, so the runtime's input gate delivers no other call in the middle: calls to one CID are
//! applied one at a time, in one place, whichever Cloudflare location they come from.

use crate::upstream::gate::{GateCall, GateFuture, GateReply, GateState, GateTransport};
use worker::{
    durable_object, Date, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit,
    Response, Result, State,
};

const STATE_KEY: &str = "s";

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
        let storage = self.state.storage();
        let mut gate: GateState = storage.get(STATE_KEY).await?.unwrap_or_default();
        let reply = gate.apply(call, Date::now().as_millis());
        if gate.is_idle() {
            storage.delete(STATE_KEY).await?;
        } else {
            storage.put(STATE_KEY, &gate).await?;
        }
        Response::from_json(&reply)
    }
}

/// Calls to the gates through their namespace binding.
pub struct DoGates(pub ObjectNamespace);

impl GateTransport for DoGates {
    fn call<'a>(&'a self, cid: &'a str, call: GateCall) -> GateFuture<'a> {
        Box::pin(async move {
            let text = |e: worker::Error| e.to_string();
            let stub = self.0.get_by_name(cid).map_err(text)?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(
                serde_json::to_string(&call)
                    .map_err(|e| e.to_string())?
                    .into(),
            ));
            let req = Request::new_with_init("https://gate/", &init).map_err(text)?;
            let mut res = stub.fetch_with_request(req).await.map_err(text)?;
            if res.status_code() != 200 {
                let body = res.text().await.unwrap_or_default();
                return Err(format!("answered {}: {body}", res.status_code()));
            }
            res.json::<GateReply>().await.map_err(text)
        })
    }
}
