//! `/console/t/{slug}/api-tokens`: the tenant's API tokens (owners only, as in the API: a
//! token list names the automation that can act on the tenant), their creation — the token
//! shown once, in the answer to the POST that made it — and revocation. Creating a token is
//! a sensitive action: its form asks for an authentication younger than five minutes.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::role::Role;
use crate::service::Error;
use crate::service::authz::Authorized;
use crate::service::authz::grant::ApiTokensWrite;
use crate::service::console::session::Live;
use crate::service::manage::{PageRequest, api_tokens, roles};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::forms;
use super::pages::{Chrome, chrome, when};
use super::session::require_recent_auth;
use super::{failure, render, tenant_path};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}/api-tokens", get(list))
        .route("/console/t/{slug}/api-tokens/new", get(new).post(create))
        .route("/console/t/{slug}/api-tokens/{id}/revoke", post(revoke))
}

const NEW: &str = "api-tokens/new";
/// The longest token name the form takes back into the page (the service checks its own rule).
const NAME_MAX: usize = 100;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

struct Row {
    name: String,
    role: String,
    created: String,
    expires: String,
    last_used: String,
    status: &'static str,
    revoke: Option<String>,
}

#[derive(Template)]
#[template(path = "console/api_tokens.html")]
struct ListPage {
    chrome: Chrome,
    base: String,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    create: String,
}

pub async fn list(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (live, auth) = or_page!(
        forms::open::<ApiTokensWrite>(&app, &jar, &slug, "api-tokens", &ctx, &req.0).await
    );
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (limit, mut error) = match forms::limit(q.limit.as_deref()) {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    let page = PageRequest {
        limit,
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
    };
    let (rows, next) = if error.is_some() {
        (Vec::new(), None)
    } else {
        match api_tokens::list(&app, &auth, &page).await {
            Ok(p) => (p.items, p.next_cursor),
            Err(Error::Invalid(m)) => {
                error = Some(m);
                (Vec::new(), None)
            }
            Err(e) => return failure(&app, &e, &req.0),
        }
    };
    let now = app.clock.now();
    let rows = rows
        .into_iter()
        .map(|t| {
            let status = if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at <= now {
                "expired"
            } else {
                "active"
            };
            Row {
                revoke: (status == "active")
                    .then(|| tenant_path(&app, &slug, &format!("api-tokens/{}/revoke", t.id))),
                name: t.name,
                role: t.role,
                created: when(t.created_at),
                expires: when(t.expires_at),
                last_used: t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
                status,
            }
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = ListPage {
        chrome: chrome(&app, &live, &auth, token, "api-tokens"),
        base: super::base_path(&app),
        rows,
        next: next.map(|c| forms::next_link(&[], &page, &c)),
        error,
        create: tenant_path(&app, &slug, NEW),
    };
    (jar, render(status, &page)).into_response()
}

#[derive(Deserialize, Default)]
pub struct NewForm {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
    expires_in: Option<String>,
}

/// The create form's values and errors, shown again after a refusal.
#[derive(Default)]
struct Draft {
    name: String,
    role: String,
    expires_in: String,
    name_error: Option<String>,
    role_error: Option<String>,
    expires_error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/api_token_new.html")]
struct NewPage {
    chrome: Chrome,
    base: String,
    roles: Vec<(&'static str, bool)>,
    draft: Draft,
    back: String,
}

fn show_form(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &Authorized<ApiTokensWrite>,
    draft: Draft,
) -> Response {
    let status = if draft.name_error.is_some()
        || draft.role_error.is_some()
        || draft.expires_error.is_some()
    {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    // Only the roles this caller may hand out (nobody grants above their own).
    let mine = live.principal.role();
    let roles = Role::ALL
        .iter()
        .filter(|r| **r <= mine)
        .map(|r| (r.as_str(), r.as_str() == draft.role))
        .collect();
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = NewPage {
        chrome: chrome(app, live, auth, token, "api-tokens"),
        base: super::base_path(app),
        roles,
        back: tenant_path(app, auth.tenant().slug.as_str(), "api-tokens"),
        draft,
    };
    (jar, render(status, &page)).into_response()
}

/// `GET api-tokens/new`: the create form, after a recent authentication.
pub async fn new(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let (live, auth) =
        or_page!(forms::open::<ApiTokensWrite>(&app, &jar, &slug, NEW, &ctx, &req.0).await);
    let back = tenant_path(&app, &slug, NEW);
    if let Some(res) = require_recent_auth(&app, jar.clone(), &live, &back, &req.0).await {
        return res;
    }
    let draft = Draft {
        role: Role::Viewer.as_str().into(),
        expires_in: "30d".into(),
        ..Draft::default()
    };
    show_form(&app, jar, &live, &auth, draft)
}

#[derive(Template)]
#[template(path = "console/api_token_created.html")]
struct CreatedPage {
    chrome: Chrome,
    base: String,
    name: String,
    role: String,
    expires: String,
    secret: String,
    back: String,
}

/// `POST api-tokens/new`: makes the token and shows it, this once.
pub async fn create(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<NewForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let (live, auth) = or_page!(forms::submit::<ApiTokensWrite>(
        &app,
        &jar,
        &slug,
        NEW,
        &ctx,
        &req.0,
        form.csrf.as_deref(),
    )
    .await);
    let back = tenant_path(&app, &slug, NEW);
    if let Some(res) = require_recent_auth(&app, jar.clone(), &live, &back, &req.0).await {
        return res;
    }
    let bounded = |v: Option<String>, n: usize| -> String {
        v.unwrap_or_default().trim().chars().take(n).collect()
    };
    let mut draft = Draft {
        name: bounded(form.name, NAME_MAX + 1),
        role: bounded(form.role, 16),
        expires_in: bounded(form.expires_in, 32),
        ..Draft::default()
    };
    let role = match roles::parse_role(&draft.role) {
        Ok(r) => r,
        Err(e) => {
            draft.role_error = Some(e.to_string());
            return show_form(&app, jar, &live, &auth, draft);
        }
    };
    match api_tokens::create(&app, &auth, &draft.name, role, &draft.expires_in).await {
        Ok(made) => {
            let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
            let page = CreatedPage {
                chrome: chrome(&app, &live, &auth, token, "api-tokens"),
                base: super::base_path(&app),
                name: made.row.name,
                role: made.row.role,
                expires: when(made.row.expires_at),
                secret: made.token,
                back: tenant_path(&app, &slug, "api-tokens"),
            };
            (jar, render(StatusCode::OK, &page)).into_response()
        }
        Err(Error::Invalid(m)) => {
            if m.starts_with("expires_in") {
                draft.expires_error = Some(m);
            } else {
                draft.name_error = Some(m);
            }
            show_form(&app, jar, &live, &auth, draft)
        }
        Err(Error::Forbidden(m)) => {
            draft.role_error = Some(m);
            show_form(&app, jar, &live, &auth, draft)
        }
        Err(e) => failure(&app, &e, &req.0),
    }
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    csrf: Option<String>,
}

/// `POST api-tokens/{id}/revoke`: the token stops working at once.
pub async fn revoke(
    State(app): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let submitted = form.ok().and_then(|Form(f)| f.csrf);
    let auth = match forms::submit::<ApiTokensWrite>(
        &app,
        &jar,
        &slug,
        "api-tokens",
        &ctx,
        &req.0,
        submitted.as_deref(),
    )
    .await
    {
        Ok((_, a)) => a,
        Err(res) => return res,
    };
    match api_tokens::revoke(&app, &auth, &id).await {
        Ok(()) => forms::done(&app, &slug, "api-tokens"),
        Err(e) => failure(&app, &e, &req.0),
    }
}
