//! `/console/t/platform/tenants`: platform callers list the installation's tenants a page at
//! a time; those who may manage them create, disable and enable them (the management API's
//! use cases, `service::manage::tenants`). The list shows each tenant's second-factor policy
//! and whether it takes sign-ups (set with `opentrusty tenant update SLUG --mfa` or
//! `--registration`, or the API). Every other console gets the
//! not-found page.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::service::Error;
use crate::service::authz::grant::{TenantRead, TenantsManage, TenantsRead};
use crate::service::authz::{self, Authorized};
use crate::service::console::session::Live;
use crate::service::manage::PageRequest;
use crate::service::manage::tenants;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::forms;
use super::pages::{Chrome, chrome, signed_in, when};
use super::session::authorize;
use super::{failure, not_found, render, tenant_path};

#[derive(Deserialize, Default)]
pub struct TenantsQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NewTenantForm {
    csrf: Option<String>,
    slug: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    csrf: Option<String>,
}

struct Row {
    slug: String,
    name: String,
    status: &'static str,
    /// The second-factor policy (`optional`, `required`).
    mfa: &'static str,
    /// Self-registration (`open`, `closed`; issue 13).
    registration: &'static str,
    active: bool,
    created: String,
    disable: String,
    enable: String,
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    base: String,
    manage: bool,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    slug_error: Option<String>,
    form_error: Option<String>,
    slug: String,
    display_name: String,
}

/// The values of a create form shown again with its error.
#[derive(Default)]
struct Draft {
    slug: String,
    display_name: String,
    slug_error: Option<String>,
    form_error: Option<String>,
}

/// The session and the proof for the platform console; tenants' own consoles (and anyone
/// outside the platform) get the not-found page: the page does not exist for them.
async fn platform_page(
    app: &App,
    jar: &CookieJar,
    slug: &str,
    ctx: &crate::service::Context,
    request_id: &str,
) -> Result<(Live, Authorized<TenantRead>), Response> {
    if slug != crate::domain::tenant::PLATFORM {
        return Err(not_found(app, request_id));
    }
    let live = signed_in(app, jar, slug, "tenants", request_id).await?;
    if !live.principal.is_platform() {
        return Err(not_found(app, request_id));
    }
    let auth = authorize::<TenantRead>(app, &live, slug, ctx, request_id).await?;
    Ok((live, auth))
}

pub async fn list(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<TenantsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (live, auth) = or_page!(platform_page(&app, &jar, &slug, &ctx, &req.0).await);
    let q = q.map(|Query(q)| q).unwrap_or_default();
    show(&app, jar, &live, &auth, &q, Draft::default(), &req.0).await
}

async fn show(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &Authorized<TenantRead>,
    q: &TenantsQuery,
    draft: Draft,
    request_id: &str,
) -> Response {
    let read = match authz::authorize_platform::<TenantsRead>(&live.principal, auth.ctx()) {
        Ok(a) => a,
        Err(e) => return failure(app, &e, request_id),
    };
    // A viewer sees no buttons that would fail.
    let manage = authz::authorize_platform::<TenantsManage>(&live.principal, auth.ctx()).is_ok();
    let (limit, mut error) = match forms::limit(q.limit.as_deref()) {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    let page = PageRequest {
        limit,
        cursor: q.cursor.clone(),
    };
    let (rows, next) = if error.is_some() {
        (Vec::new(), None)
    } else {
        match tenants::list(app, &read, &page).await {
            Ok(p) => (p.items, p.next_cursor),
            Err(Error::Invalid(m)) => {
                error = Some(m);
                (Vec::new(), None)
            }
            Err(e) => return failure(app, &e, request_id),
        }
    };
    let next = next.map(|c| forms::next_link(&[], &page, &c));
    let here = auth.tenant().slug.as_str();
    let rows = rows
        .into_iter()
        .map(|t| Row {
            disable: tenant_path(app, here, &format!("tenants/{}/disable", t.slug.as_str())),
            enable: tenant_path(app, here, &format!("tenants/{}/enable", t.slug.as_str())),
            active: t.is_active(),
            slug: t.slug.to_string(),
            name: t.display_name.clone(),
            status: t.status.as_str(),
            mfa: t.mfa.as_str(),
            registration: t.registration.as_str(),
            created: when(t.created_at),
        })
        .collect();
    let status = if draft.slug_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if draft.form_error.is_some() {
        StatusCode::CONFLICT
    } else if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = TenantsPage {
        chrome: chrome(app, live, auth, token, "tenants"),
        base: super::base_path(app),
        manage,
        rows,
        next,
        error,
        slug_error: draft.slug_error,
        form_error: draft.form_error,
        slug: draft.slug,
        display_name: draft.display_name,
    };
    (jar, render(status, &page)).into_response()
}

/// `POST /console/t/platform/tenants`: creates a tenant; a bad slug is shown next to its
/// field (422), a taken one above the form (409); success goes back to the list (303).
pub async fn create(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<NewTenantForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (live, auth) = or_page!(platform_page(&app, &jar, &slug, &ctx, &req.0).await);
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if !csrf::verify(&jar, &app.config, auth.tenant(), form.csrf.as_deref()) {
        return super::secure(csrf::rejected(&req.0));
    }
    let manage = match authz::authorize_platform::<TenantsManage>(&live.principal, auth.ctx()) {
        Ok(a) => a,
        Err(e) => return failure(&app, &e, &req.0),
    };
    let new_slug = form.slug.unwrap_or_default().trim().to_owned();
    let name = form
        .display_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let mut draft = Draft {
        slug: new_slug.clone(),
        display_name: name.clone().unwrap_or_default(),
        ..Draft::default()
    };
    match tenants::create(&app, &manage, &new_slug, name.as_deref()).await {
        Ok(_) => {
            return super::secure(
                Redirect::to(&tenant_path(&app, &slug, "tenants")).into_response(),
            );
        }
        Err(Error::Invalid(m)) => draft.slug_error = Some(m),
        Err(Error::Conflict(m)) => draft.form_error = Some(m),
        Err(e) => return failure(&app, &e, &req.0),
    }
    show(
        &app,
        jar,
        &live,
        &auth,
        &TenantsQuery::default(),
        draft,
        &req.0,
    )
    .await
}

/// `POST /console/t/platform/tenants/{target}/disable` (and `/enable`).
pub async fn disable(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    act(state, path, req, ctx, jar, form, false).await
}

pub async fn enable(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    act(state, path, req, ctx, jar, form, true).await
}

async fn act(
    State(app): State<AppState>,
    Path((slug, target)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
    enable: bool,
) -> Response {
    let (live, auth) = or_page!(platform_page(&app, &jar, &slug, &ctx, &req.0).await);
    let submitted = form.ok().and_then(|Form(f)| f.csrf);
    if !csrf::verify(&jar, &app.config, auth.tenant(), submitted.as_deref()) {
        return super::secure(csrf::rejected(&req.0));
    }
    let on = or_page!(authorize::<TenantsManage>(&app, &live, &target, &ctx, &req.0).await);
    let done = if enable {
        tenants::enable(&app, &on).await
    } else {
        tenants::disable(&app, &on).await
    };
    match done {
        Ok(_) => super::secure(Redirect::to(&tenant_path(&app, &slug, "tenants")).into_response()),
        Err(Error::Conflict(m)) => super::message(
            &app,
            StatusCode::CONFLICT,
            "Not possible",
            &m,
            &req.0,
            Some(("Back to tenants", tenant_path(&app, &slug, "tenants"))),
        ),
        Err(e) => failure(&app, &e, &req.0),
    }
}
