//! `GET/POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): reads the request, lets the
//! service decide, and renders its outcome: an error page, a redirect to the client, the login
//! page or the second factor's page (with a way back), or the consent page.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use super::{form_pairs, is_form};
use crate::app::AppState;
use crate::domain::tenant::Tenant;
use crate::protocol::Error;
use crate::service::authorize::{self, Outcome};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;
use crate::web::ui::login::tenant_path;
use crate::web::ui::{cookies, csrf, page_error, render, secure};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    tenant_name: &'a str,
    client_name: &'a str,
    scopes: Vec<String>,
    action: String,
    csrf: &'a str,
    params: Vec<(String, String)>,
    request_id: &'a str,
}

/// A 302 (RFC 6749 §4.1.2 uses 302 Found) that no cache keeps.
pub fn found(location: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    secure(res)
}

fn bad_request(req: &str, message: &str) -> Response {
    page_error(StatusCode::BAD_REQUEST, "Invalid request", message, req)
}

pub async fn get(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let params = form_pairs(query.unwrap_or_default().as_bytes());
    run(&app, &tenant, &req.0, &ctx, jar, params, None).await
}

pub async fn post(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return bad_request(
            &req.0,
            "The authorization request must be a form submission.",
        );
    }
    run(&app, &tenant, &req.0, &ctx, jar, form_pairs(&body), None).await
}

/// This tenant's `/authorize` with `params`: where the login and factor pages send the
/// browser back to.
fn back_to(app: &AppState, tenant: &Tenant, params: &[(String, String)]) -> String {
    format!(
        "{}?{}",
        tenant_path(&app.config, tenant, "authorize"),
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    )
}

/// Shared by `/authorize` and the consent form (`consent` carries the user's answer).
pub async fn run(
    app: &AppState,
    tenant: &Tenant,
    req: &str,
    ctx: &crate::service::Context,
    jar: CookieJar,
    params: Result<std::collections::HashMap<String, String>, Error>,
    consent: Option<bool>,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return bad_request(req, &e.description),
    };
    let token = cookies::session(&jar, &app.config, tenant);
    let outcome = authorize::authorize(app, tenant, params, token.as_deref(), consent, ctx).await;
    match outcome {
        // Already logged where it happened (`service::protocol_failure`).
        Err(e) => crate::web::ui::protocol_failure_page(&e, req),
        Ok(Outcome::ErrorPage(msg)) => bad_request(req, &msg),
        Ok(Outcome::Redirect(to)) => found(&to),
        Ok(Outcome::Login { params, login_hint }) => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("return_to", &back_to(app, tenant, &params));
            if let Some(h) = login_hint {
                q.append_pair("login_hint", &h);
            }
            found(&format!(
                "{}?{}",
                tenant_path(&app.config, tenant, "login"),
                q.finish()
            ))
        }
        Ok(Outcome::SecondFactor { params, enrol }) => {
            // A user without any factor enrols one first (its page steps the session up).
            let page = if enrol {
                "account/totp"
            } else {
                "login/factor"
            };
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &back_to(app, tenant, &params))
                .finish();
            found(&format!("{}?{q}", tenant_path(&app.config, tenant, page)))
        }
        Ok(Outcome::Consent {
            client_name,
            scope,
            params,
        }) => {
            let (jar, csrf) = csrf::issue(jar, &app.config, tenant);
            let page = ConsentPage {
                tenant_name: &tenant.display_name,
                client_name: &client_name,
                scopes: crate::web::ui::permissions(scope.iter()),
                action: tenant_path(&app.config, tenant, "consent"),
                csrf: &csrf,
                params,
                request_id: req,
            };
            (jar, render(StatusCode::OK, &page)).into_response()
        }
    }
}
