//! `POST /introspect` (RFC 7662): for the tenant's confidential clients.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{basic_used, error_response, no_store, token_form};
use crate::app::AppState;
use crate::service::introspect;
use crate::web::extract::TenantCtx;

pub async fn introspect(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = basic_used(&headers);
    let result = async {
        let req = token_form(&headers, &body)?;
        introspect::introspect(
            &app,
            &tenant,
            &req.client,
            &req.token,
            req.form.get("token_type_hint").map(String::as_str),
        )
        .await
    }
    .await;
    match result {
        Ok(v) => no_store(Json(v).into_response()),
        Err(e) => error_response(&e, basic),
    }
}
