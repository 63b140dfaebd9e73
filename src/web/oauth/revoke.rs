//! `POST /revoke` (RFC 7009): 200 with an empty body whether or not the token was known.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{basic_used, error_response, no_store, token_form};
use crate::app::AppState;
use crate::protocol::{Code, Error};
use crate::service::revoke;
use crate::web::extract::{RequestContext, TenantCtx};

pub async fn revoke(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    RequestContext(ctx, _): RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = basic_used(&headers);
    let result = async {
        let req = token_form(&headers, &body)?;
        // RFC 7009 §2.2.1: an unknown hint value is an error; a known one is only advice.
        if let Some(h) = req.form.get("token_type_hint")
            && h != "access_token"
            && h != "refresh_token"
        {
            return Err(Error::new(
                Code::UnsupportedTokenType,
                "token_type_hint is unknown",
            ));
        }
        revoke::revoke(&app, &tenant, &req.client, &req.token, &ctx).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => error_response(&e, basic),
    }
}
