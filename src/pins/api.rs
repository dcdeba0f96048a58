//! HTTP handlers for `/pins` and `/pins/{requestid}`: parse the request into domain types,
//! call the service, and shape the reply with the spec's status codes.

use super::service::PinService;
use crate::domain::upload::UploadQuery;
use crate::domain::{list_query::ListQuery, pin::Pin, timestamp::Millis};
use crate::error::ApiError;
use crate::http::body::{drain, RequestBody, REFUSED_DRAIN_BYTES};
use crate::http::{query, router::Route, Reply};
use crate::store::kv::Kv;
use crate::upstream::Upstream;

/// `POST /car`: the body (a CAR) is read here, as it streams, by the backend that keeps it.
/// A refused upload's unread rest is drained (up to `REFUSED_DRAIN_BYTES`) before the answer.
pub async fn upload<K: Kv, U: Upstream, B: RequestBody>(
    query: &str,
    body: &mut B,
    svc: &PinService<'_, K, U>,
    now: Millis,
) -> Result<Reply, ApiError> {
    let answer = async {
        let q = UploadQuery::parse(&query::parse(query)?)?;
        svc.upload(q, &mut *body, now).await
    }
    .await;
    if answer.is_err() {
        drain(body, REFUSED_DRAIN_BYTES).await;
    }
    Ok(Reply::json(202, &answer?))
}

pub async fn handle<K: Kv, U: Upstream>(
    route: Route,
    query: &str,
    body: &[u8],
    svc: &PinService<'_, K, U>,
    now: Millis,
) -> Result<Reply, ApiError> {
    Ok(match route {
        Route::ListPins => {
            let q = ListQuery::parse(&query::parse(query)?)?;
            Reply::json_text(200, svc.list(&q, now).await?.to_json())
        }
        Route::AddPin => Reply::json(202, &svc.add(Pin::parse(body)?, now).await?),
        Route::GetPin(id) => Reply::json_text(200, svc.get(&id, now).await?),
        Route::ReplacePin(id) => Reply::json(202, &svc.replace(&id, Pin::parse(body)?, now).await?),
        Route::Usage => Reply::json(200, &svc.usage().await?),
        Route::DeletePin(id) => {
            svc.delete(&id, now).await?;
            Reply::empty(202)
        }
        _ => {
            return Err(ApiError::Internal(
                "route dispatched to the wrong handler".into(),
            ))
        }
    })
}
