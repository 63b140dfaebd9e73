//! `POST /token` (RFC 6749 §3.2): form in, JSON out, never cached.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{basic_used, error_response, form_pairs, is_form, no_store, presented};
use crate::app::AppState;
use crate::protocol::Error;
use crate::protocol::token::TokenRequest;
use crate::service::token;
use crate::web::extract::{RequestContext, TenantCtx};

pub async fn token(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    RequestContext(ctx, _): RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = basic_used(&headers);
    let result = async {
        if !is_form(&headers) {
            return Err(Error::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let mut form = form_pairs(&body)?;
        let who = presented(&headers, &mut form)?;
        let req = TokenRequest::parse(&form)?;
        token::exchange(&app, &tenant, &who, req, &ctx).await
    }
    .await;
    match result {
        Ok(issued) => no_store(Json(issued).into_response()),
        Err(e) => error_response(&e, basic),
    }
}
