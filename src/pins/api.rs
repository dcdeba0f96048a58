//! HTTP handlers for `/pins` and `/pins/{requestid}`: parse the request into domain types,
//! call the service, and shape the reply with the spec's status codes.

use super::service::PinService;
use crate::domain::{list_query::ListQuery, pin::Pin, timestamp::Millis};
use crate::error::ApiError;
use crate::http::{query, router::Route, Reply};
use crate::store::kv::Kv;
use crate::upstream::Upstream;

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
        Route::GetPin(id) => Reply::json(200, &svc.get(&id, now).await?),
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
