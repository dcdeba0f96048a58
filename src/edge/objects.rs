//! Durable Object namespaces as bound, and the one call every object here takes: a small JSON
//! request to the object of a name, its answer's text. The CIDs' gates and the users' objects
//! both go through it.

use worker::{Env, Method, ObjectNamespace, Request, RequestInit};

/// The namespace bound as `name` (wrangler.toml), if it is.
pub(super) fn namespace(env: &Env, name: &'static str) -> Option<ObjectNamespace> {
    super::bound(env, name)?;
    env.durable_object(name).ok()
}

pub(super) fn error_text(e: worker::Error) -> String {
    e.to_string()
}

/// POSTs `body` to the object named `name` at `url`; `Err` says why there is no answer.
pub(super) async fn call(
    ns: &ObjectNamespace,
    name: &str,
    url: &str,
    body: String,
) -> Result<String, String> {
    let stub = ns.get_by_name(name).map_err(error_text)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init(url, &init).map_err(error_text)?;
    let mut res = stub.fetch_with_request(req).await.map_err(error_text)?;
    if res.status_code() != 200 {
        let body = res.text().await.unwrap_or_default();
        return Err(format!("answered {}: {body}", res.status_code()));
    }
    res.text().await.map_err(error_text)
}
