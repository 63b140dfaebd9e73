//! `POST /consent`: the answer to the consent page. The form carries the original
//! authorization request, which is validated again from scratch before anything is issued.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use super::authorize::run;
use super::form_pairs;
use crate::app::AppState;
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;
use crate::web::ui::{csrf, page_error};

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let mut params = match form_pairs(&body) {
        Ok(p) => p,
        Err(e) => {
            return page_error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &e.description,
                &req.0,
            );
        }
    };
    let token = params.remove("csrf");
    if !csrf::verify(&jar, &app.config, &tenant, token.as_deref()) {
        return page_error(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form has expired or did not come from this site. Go back to the application and try again.",
            &req.0,
        );
    }
    let approve = match params.remove("decision").as_deref() {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return page_error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "Choose Allow or Deny.",
                &req.0,
            );
        }
    };
    run(&app, &tenant, &req.0, &ctx, jar, Ok(params), Some(approve)).await
}
