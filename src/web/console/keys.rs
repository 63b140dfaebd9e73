//! `/console/t/{slug}/keys`: the tenant's signing keys with their state (next, active,
//! retired), and the rotation (`service::manage::keys::rotate`, as the API and the CLI).
//! Rotating is a sensitive action: its form page asks for an authentication younger than
//! five minutes, and the POST checks again.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::client::SigningAlg;
use crate::service::Error;
use crate::service::authz::grant::{KeysRead, KeysWrite};
use crate::service::console::session::Live;
use crate::service::manage::keys;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::forms::{self, may};
use super::pages::{Chrome, chrome, when};
use super::session::require_recent_auth;
use super::{failure, render, tenant_path};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}/keys", get(list))
        .route("/console/t/{slug}/keys/rotate", get(form).post(rotate))
}

struct Row {
    kid: String,
    alg: &'static str,
    state: &'static str,
    created: String,
    activates: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    chrome: Chrome,
    base: String,
    rows: Vec<Row>,
    rotate: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let (live, auth) =
        or_page!(forms::open::<KeysRead>(&app, &jar, &slug, "keys", &ctx, &req.0).await);
    let mut found = match keys::list(&app, &auth).await {
        Ok(k) => k,
        Err(e) => return failure(&app, &e, &req.0),
    };
    // Newest first; keys no longer published are of no use to anyone reading this page.
    found.retain(|k| k.state != "expired");
    found.sort_by_key(|k| std::cmp::Reverse((k.meta.activates_at, k.meta.generation)));
    let rows = found
        .into_iter()
        .map(|k| Row {
            kid: k.meta.kid,
            alg: k.meta.alg.as_str(),
            state: k.state,
            created: when(k.created_at),
            activates: when(k.meta.activates_at),
        })
        .collect();
    let rotate = may::<KeysWrite, _>(&live, &auth).then(|| tenant_path(&app, &slug, "keys/rotate"));
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = KeysPage {
        chrome: chrome(&app, &live, &auth, token, "keys"),
        base: super::base_path(&app),
        rows,
        rotate,
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}

#[derive(Template)]
#[template(path = "console/keys_rotate.html")]
struct RotatePage {
    chrome: Chrome,
    base: String,
    algs: Vec<(&'static str, bool)>,
    error: Option<String>,
    back: String,
}

#[derive(Deserialize, Default)]
pub struct RotateForm {
    csrf: Option<String>,
    alg: Option<String>,
}

const ALGS: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

fn show_form(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &crate::service::authz::Authorized<KeysWrite>,
    chosen: &str,
    error: Option<String>,
) -> Response {
    let slug = auth.tenant().slug.as_str();
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = RotatePage {
        chrome: chrome(app, live, auth, token, "keys"),
        base: super::base_path(app),
        algs: ALGS
            .iter()
            .map(|a| (a.as_str(), a.as_str() == chosen))
            .collect(),
        error,
        back: tenant_path(app, slug, "keys"),
    };
    (jar, render(status, &page)).into_response()
}

/// `GET keys/rotate`: the rotation form, after a recent authentication.
pub async fn form(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let here = "keys/rotate";
    let (live, auth) =
        or_page!(forms::open::<KeysWrite>(&app, &jar, &slug, here, &ctx, &req.0).await);
    let back = tenant_path(&app, &slug, here);
    if let Some(res) = require_recent_auth(&app, jar.clone(), &live, &back, &req.0).await {
        return res;
    }
    show_form(&app, jar, &live, &auth, SigningAlg::RS256.as_str(), None)
}

/// `POST keys/rotate`: adds the next key of the chosen algorithm (published now, signing
/// after the publication lead, so relying parties' JWKS caches see it first).
pub async fn rotate(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<RotateForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let here = "keys/rotate";
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let (live, auth) = or_page!(
        forms::submit::<KeysWrite>(&app, &jar, &slug, here, &ctx, &req.0, form.csrf.as_deref(),)
            .await
    );
    let back = tenant_path(&app, &slug, here);
    if let Some(res) = require_recent_auth(&app, jar.clone(), &live, &back, &req.0).await {
        return res;
    }
    let alg = form.alg.unwrap_or_default();
    // Bounded before it is echoed back into the page.
    let alg = alg.trim().chars().take(16).collect::<String>();
    match keys::rotate(&app, &auth, Some(&alg), None).await {
        Ok(_) => forms::done(&app, &slug, "keys"),
        Err(Error::Invalid(m)) => show_form(&app, jar, &live, &auth, &alg, Some(m)),
        Err(e) => failure(&app, &e, &req.0),
    }
}
