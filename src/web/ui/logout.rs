//! `POST {issuer}/logout`: our own sign-out form (CSRF-checked; ends the session and shows the
//! signed-out page), or an RP-Initiated Logout request sent by POST, handed to `oauth::end_session`.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::AppState;
use crate::service::sessions;
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::login::{service_error, tenant_path};
use super::{cookies, csrf, page_error, render};

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOut<'a> {
    pub tenant_name: &'a str,
    pub login_link: String,
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return page_error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form could not be read.",
            &req.0,
        );
    };
    let csrf_field = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    // Without our CSRF field this is an RP-Initiated Logout request by POST (id_token_hint,
    // post_logout_redirect_uri, state ...), which the spec requires next to GET.
    let Some(submitted) = csrf_field else {
        return crate::web::oauth::end_session::run(&app, &tenant, &req.0, &ctx, jar, &body).await;
    };
    if !csrf::verify(&jar, &app.config, &tenant, Some(&submitted)) {
        return csrf::rejected(&req.0);
    }
    let ended = match cookies::session(&jar, &app.config, &tenant) {
        Some(token) => match sessions::logout(&app, &tenant, &token, &ctx).await {
            Ok(ended) => ended,
            Err(e) => return service_error(e, &req.0),
        },
        None => false,
    };
    // Only a cookie whose session this request ended is cleared (DESIGN §5).
    let jar = if ended {
        jar.add(cookies::session_removal(&app.config, &tenant))
    } else {
        jar
    };
    let page = SignedOut {
        tenant_name: &tenant.display_name,
        login_link: tenant_path(&app.config, &tenant, "login"),
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}
