//! `GET /logout` (RP-Initiated Logout 1.0): with a valid `id_token_hint` the session ends at
//! once and the browser returns to the RP's registered URI; without one the user confirms on
//! a page whose form posts to the CSRF-checked `POST /logout` of the login pages.

use askama::Template;
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use super::authorize::found;
use super::form_pairs;
use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::service::Context;
use crate::service::end_session::{self, Plan};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;
use crate::web::ui::login::tenant_path;
use crate::web::ui::logout::SignedOut;
use crate::web::ui::{cookies, csrf, page_error, render};

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct Confirm<'a> {
    tenant_name: &'a str,
    client_name: Option<String>,
    action: String,
    csrf: &'a str,
    request_id: &'a str,
}

pub async fn get(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    run(
        &app,
        &tenant,
        &req.0,
        &ctx,
        jar,
        query.unwrap_or_default().as_bytes(),
    )
    .await
}

/// The logout request itself, from a query (GET) or a form body (POST; the login pages'
/// `POST /logout` hands over requests that are not its own CSRF-checked form).
pub async fn run(
    app: &App,
    tenant: &Tenant,
    request_id: &str,
    ctx: &Context,
    jar: CookieJar,
    raw: &[u8],
) -> Response {
    let params = match form_pairs(raw) {
        Ok(p) => p,
        Err(e) => {
            return page_error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &e.description,
                request_id,
            );
        }
    };
    let token = cookies::session(&jar, &app.config, tenant);
    match end_session::end_session(app, tenant, &params, token.as_deref(), ctx).await {
        Err(e) => crate::web::ui::protocol_failure_page(&e, request_id),
        Ok(Plan::Refuse(msg)) => {
            page_error(StatusCode::BAD_REQUEST, "Invalid request", &msg, request_id)
        }
        Ok(Plan::Confirm { client_name }) => {
            let (jar, csrf) = csrf::issue(jar, &app.config, tenant);
            let page = Confirm {
                tenant_name: &tenant.display_name,
                client_name,
                action: tenant_path(&app.config, tenant, "logout"),
                csrf: &csrf,
                request_id,
            };
            (jar, render(StatusCode::OK, &page)).into_response()
        }
        Ok(Plan::Done { target, ended }) => {
            // Only this tenant's cookie, and only when its session was ended here: a logout
            // with some other user's id_token must not sign this browser out (DESIGN §5).
            let jar = if ended {
                jar.add(cookies::session_removal(&app.config, tenant))
            } else {
                jar
            };
            match target {
                Some(to) => (jar, found(&to)).into_response(),
                None => {
                    let page = SignedOut {
                        tenant_name: &tenant.display_name,
                        login_link: tenant_path(&app.config, tenant, "login"),
                    };
                    (jar, render(StatusCode::OK, &page)).into_response()
                }
            }
        }
    }
}
