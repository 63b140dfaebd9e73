//! Signing in and out: the callback from the tenant's `/authorize`, the sign-out form (a POST
//! with its CSRF token, then RP-initiated logout at the tenant's `/logout`), and the page the
//! tenant sends the browser back to afterwards.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::service::console::session::{self as console, Refused};
use crate::service::console::{CLIENT_ID, post_logout_uri};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::session::{
    no_access, pre_login_removal, pre_login_value, session_cookie, session_removal, session_value,
};
use super::{message, not_found, tenant_path};

/// An active tenant by the slug in the path, or `None` (the caller shows "not found").
pub async fn active_tenant(app: &App, slug: &str) -> crate::service::Result<Option<Tenant>> {
    Ok(app
        .tenants
        .get(&app.store, slug)
        .await?
        .filter(Tenant::is_active))
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Template)]
#[template(path = "console/continue.html")]
struct Continue<'a> {
    to: &'a str,
    base: String,
}

pub async fn callback(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tenant = match active_tenant(&app, &slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(&app, &req.0),
        Err(e) => return super::failure(&app, &e, &req.0),
    };
    let again = || Some(("Sign in again", tenant_path(&app, &slug, "")));
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let jar_cleared = jar.clone().add(pre_login_removal(&app));
    if let Some(error) = q.error.as_deref() {
        let text = match error {
            "access_denied" => "The sign-in was cancelled.".to_owned(),
            _ => format!(
                "The sign-in did not complete: {}",
                q.error_description.as_deref().unwrap_or(error)
            ),
        };
        let page = message(
            &app,
            StatusCode::BAD_REQUEST,
            "Not signed in",
            &text,
            &req.0,
            again(),
        );
        return (jar_cleared, page).into_response();
    }
    let (Some(pre_login), Some(code), Some(state)) = (pre_login_value(&jar, &app), q.code, q.state)
    else {
        return (jar_cleared, stale(&app, &req.0, again())).into_response();
    };
    match console::finish(&app, &tenant, &pre_login, &state, &code, &ctx).await {
        Ok(opened) => {
            // A new sign-in replaces this browser's console session (if any).
            if let Some(previous) = session_value(&jar, &app)
                && let Err(e) = console::end(&app, &previous, &ctx).await
            {
                tracing::warn!(error = %e, "could not end the replaced console session");
            }
            let jar = jar_cleared.add(session_cookie(&app, opened.cookie, opened.max_age));
            // A page rather than a redirect: the session cookie is SameSite=Strict, and a
            // redirect here would still belong to the navigation that came from the auth
            // plane (another site when ADMIN_URL is one), so browsers would not send it.
            let page = Continue {
                to: &opened.return_to,
                base: super::base_path(&app),
            };
            (jar, super::render(StatusCode::OK, &page)).into_response()
        }
        Err(Refused::Stale) => (jar_cleared, stale(&app, &req.0, again())).into_response(),
        Err(Refused::Provider(m)) => {
            let text = format!("The sign-in did not complete: {m}");
            let page = message(
                &app,
                StatusCode::BAD_REQUEST,
                "Not signed in",
                &text,
                &req.0,
                again(),
            );
            (jar_cleared, page).into_response()
        }
        Err(Refused::NoRole) => (jar_cleared, no_access(&app, &slug, &req.0)).into_response(),
        Err(Refused::Service(e)) => super::failure(&app, &e, &req.0),
    }
}

fn stale(app: &App, request_id: &str, link: Option<(&str, String)>) -> Response {
    message(
        app,
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in has expired or was not started in this browser. Please start again.",
        request_id,
        link,
    )
}

#[derive(Deserialize, Default)]
pub struct SignOutForm {
    csrf: Option<String>,
}

/// Ends the console session, then the OP session: RP-initiated logout at the home tenant with
/// the session's id_token as hint and the built-in client's registered post-logout URI.
pub async fn signout(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<SignOutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let tenant = match active_tenant(&app, &slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(&app, &req.0),
        Err(e) => return super::failure(&app, &e, &req.0),
    };
    let submitted = form.ok().and_then(|Form(f)| f.csrf);
    if !csrf::verify(&jar, &app.config, &tenant, submitted.as_deref()) {
        return super::secure(csrf::rejected(&req.0));
    }
    let ended = match session_value(&jar, &app) {
        Some(v) => match console::end(&app, &v, &ctx).await {
            Ok(ended) => ended,
            Err(e) => return super::failure(&app, &e, &req.0),
        },
        None => None,
    };
    let jar = jar.add(session_removal(&app));
    let to = match ended {
        Some((home, hint)) => logout_url(&app, &home, hint.as_deref()),
        None => tenant_path(&app, &slug, "signed-out"),
    };
    (jar, super::secure(Redirect::to(&to).into_response())).into_response()
}

/// The home tenant's end-session endpoint (OIDC RP-Initiated Logout 1.0 §2).
fn logout_url(app: &App, home: &Tenant, hint: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    match hint {
        Some(h) => q.append_pair("id_token_hint", h),
        None => q.append_pair("client_id", CLIENT_ID),
    };
    q.append_pair(
        "post_logout_redirect_uri",
        &post_logout_uri(&app.config, home),
    );
    format!(
        "{}{}?{}",
        home.issuer(&app.config.public_url),
        crate::protocol::endpoints::END_SESSION,
        q.finish()
    )
}

pub async fn signed_out(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
) -> Response {
    match active_tenant(&app, &slug).await {
        Ok(Some(_)) => message(
            &app,
            StatusCode::OK,
            "Signed out",
            "You have signed out of the console.",
            &req.0,
            Some(("Sign in again", tenant_path(&app, &slug, ""))),
        ),
        Ok(None) => not_found(&app, &req.0),
        Err(e) => super::failure(&app, &e, &req.0),
    }
}
