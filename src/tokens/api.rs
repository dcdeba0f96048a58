//! HTTP handlers for `POST /token`, `GET /tokens` and `DELETE /tokens/{id}`.

use super::service::TokenService;
use crate::config::Config;
use crate::domain::{timestamp::Millis, token::TokenRequest};
use crate::error::ApiError;
use crate::http::{router::Route, Reply};
use crate::store::kv::Kv;

pub async fn handle<K: Kv>(
    route: Route,
    body: &[u8],
    svc: &TokenService<'_, K>,
    config: &Config,
    now: Millis,
) -> Result<Reply, ApiError> {
    match route {
        Route::IssueToken => {
            let request = TokenRequest::parse(body)?;
            Ok(Reply::json(
                200,
                &svc.issue(&config.auth, request, config.token_ttl_secs, now)
                    .await?,
            ))
        }
        Route::ListTokens => Ok(Reply::json(200, &svc.list(now).await?)),
        Route::RevokeToken(id) => {
            svc.revoke(&id).await?;
            Ok(Reply::empty(204))
        }
        _ => Err(ApiError::Internal(
            "route dispatched to the wrong handler".into(),
        )),
    }
}
