//! `POST /introspect` (RFC 7662): for the tenant's confidential clients.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{error_response, form_pairs, no_store, presented};
use crate::app::AppState;
use crate::protocol::Error;
use crate::service::introspect;
use crate::web::extract::TenantCtx;

pub async fn introspect(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = headers.contains_key(header::AUTHORIZATION);
    let result = async {
        let mut form = form_pairs(&body)?;
        let who = presented(&headers, &mut form)?;
        let token = form
            .get("token")
            .ok_or_else(|| Error::invalid_request("token is required"))?;
        introspect::introspect(
            &app,
            &tenant,
            &who,
            token,
            form.get("token_type_hint").map(String::as_str),
        )
        .await
    }
    .await;
    match result {
        Ok(v) => no_store(Json(v).into_response()),
        Err(e) => error_response(&e, basic),
    }
}
