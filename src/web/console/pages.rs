//! The console's pages so far: the dashboard (counts, the sign-in chart and the newest audit
//! events) and the caller's own identity and role (the users list is in `users`). Each page
//! authorizes through `session::authorize` with the permission it reads with, so a viewer's
//! page and an owner's differ only in what the permissions allow.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::{App, AppState};
use crate::domain::role::Permission;
use crate::service::authz::grant::{
    ApiTokensWrite, AuditRead, ClientsRead, KeysRead, SessionsRead, TenantRead, TenantsRead,
    UsersRead,
};
use crate::service::authz::{self, Actor, Authorized, Grant};
use crate::service::console::pages::{self as use_case, DashboardAccess};
use crate::service::console::session::Live;
use crate::store::audit::AuditRow;
use crate::store::console::Counts;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::forms::may;
use super::session::{authorize, live, sign_in};
use super::signin::active_tenant;
use super::{failure, not_found, render, tenant_path};

/// What every signed-in page shows around its content: where, who, the navigation and the
/// sign-out form.
pub struct Chrome {
    pub base: String,
    pub tenant_name: String,
    pub who: String,
    pub role: String,
    pub platform: bool,
    pub csrf: String,
    pub signout: String,
    pub nav: Vec<(&'static str, String, bool)>,
}

fn who(live: &Live) -> String {
    match live.principal.actor() {
        Actor::User { email, .. } => email.clone(),
        Actor::Token { name, .. } => format!("API token {name}"),
        Actor::Local { user } => format!("local:{user}"),
    }
}

pub(super) fn chrome<G: Grant>(
    app: &App,
    live: &Live,
    auth: &Authorized<G>,
    csrf: String,
    current: &str,
) -> Chrome {
    let slug = auth.tenant().slug.as_str();
    let mut pages = vec![("Dashboard", ""), ("Users", "users")];
    // Links only for callers who may use them (the pages check again).
    if slug == crate::domain::tenant::PLATFORM
        && authz::authorize_platform::<TenantsRead>(&live.principal, auth.ctx()).is_ok()
    {
        pages.push(("Tenants", "tenants"));
    }
    if may::<ClientsRead, G>(live, auth) {
        pages.push(("Clients", "clients"));
    }
    if may::<KeysRead, G>(live, auth) {
        pages.push(("Keys", "keys"));
    }
    if may::<ApiTokensWrite, G>(live, auth) {
        pages.push(("API tokens", "api-tokens"));
    }
    if may::<AuditRead, G>(live, auth) {
        pages.push(("Audit", "audit"));
    }
    pages.push(("Who am I", "whoami"));
    Chrome {
        base: super::base_path(app),
        tenant_name: auth.tenant().display_name.clone(),
        who: who(live),
        role: live.principal.role().to_string(),
        platform: live.principal.is_platform(),
        csrf,
        signout: tenant_path(app, slug, "signout"),
        nav: pages
            .iter()
            .map(|(label, page)| (*label, tenant_path(app, slug, page), *page == current))
            .collect(),
    }
}

/// `/console/t/{slug}` → `/console/t/{slug}/` (relative links resolve under the tenant).
pub async fn slash(State(app): State<AppState>, Path(slug): Path<String>) -> Response {
    if !crate::domain::tenant::Slug::is_valid(&slug) {
        return super::secure(StatusCode::NOT_FOUND.into_response());
    }
    super::secure(Redirect::to(&tenant_path(&app, &slug, "")).into_response())
}

/// The live session, or the response to send instead: a sign-in at the page's tenant when
/// there is none (the not-found page for an unknown tenant).
pub(super) async fn signed_in(
    app: &App,
    jar: &CookieJar,
    slug: &str,
    page: &str,
    request_id: &str,
) -> Result<Live, Response> {
    match live(app, jar).await {
        Ok(Some(live)) => Ok(live),
        Ok(None) => match active_tenant(app, slug).await {
            Ok(Some(tenant)) => Err(sign_in(
                app,
                jar.clone(),
                &tenant,
                &tenant_path(app, slug, page),
                None,
                request_id,
            )
            .await),
            Ok(None) => Err(not_found(app, request_id)),
            Err(e) => Err(failure(app, &e, request_id)),
        },
        Err(e) => Err(failure(app, &e, request_id)),
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    base: String,
    counts: Counts,
    events: Vec<EventLine>,
    chart: super::chart::Chart,
}

struct EventLine {
    at: String,
    kind: String,
    actor: String,
    target: String,
}

/// Unix seconds as `2026-01-31 12:00:00 UTC`.
pub fn when(t: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(f).ok())
        .unwrap_or_else(|| t.to_string())
}

impl From<AuditRow> for EventLine {
    fn from(r: AuditRow) -> Self {
        EventLine {
            at: when(r.created_at),
            kind: r.event_type,
            actor: r.actor.unwrap_or_default(),
            target: r.target.unwrap_or_default(),
        }
    }
}

pub async fn dashboard(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let live = or_page!(signed_in(&app, &jar, &slug, "", &req.0).await);
    let users = or_page!(authorize::<UsersRead>(&app, &live, &slug, &ctx, &req.0).await);
    // The other proofs for the same tenant, from the same lookup.
    let again = |e: crate::service::Error| failure(&app, &e, &req.0);
    let tenant = Some(users.tenant().clone());
    let (clients, sessions, audit) = match (
        authz::authorize::<ClientsRead>(&live.principal, tenant.clone(), users.ctx()),
        authz::authorize::<SessionsRead>(&live.principal, tenant.clone(), users.ctx()),
        authz::authorize::<AuditRead>(&live.principal, tenant, users.ctx()),
    ) {
        (Ok(c), Ok(s), Ok(a)) => (c, s, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return again(e),
    };
    let access = DashboardAccess {
        users: &users,
        clients: &clients,
        sessions: &sessions,
        audit: &audit,
    };
    let data = match use_case::dashboard(&app, access).await {
        Ok(d) => d,
        Err(e) => return again(e),
    };
    let (jar, token) = csrf::issue(jar, &app.config, users.tenant());
    let page = DashboardPage {
        chrome: chrome(&app, &live, &users, token, ""),
        base: super::base_path(&app),
        counts: data.counts,
        events: data.events.into_iter().map(EventLine::from).collect(),
        chart: super::chart::chart(&data.sign_ins),
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}

#[derive(Template)]
#[template(path = "console/whoami.html")]
struct WhoamiPage {
    chrome: Chrome,
    base: String,
    kind: &'static str,
    home: String,
    permissions: Vec<&'static str>,
    signed_in_at: String,
}

pub async fn whoami(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let live = or_page!(signed_in(&app, &jar, &slug, "whoami", &req.0).await);
    // Every role may read its own tenant (the API's whoami needs no more than this).
    let auth = or_page!(authorize::<TenantRead>(&app, &live, &slug, &ctx, &req.0).await);
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = WhoamiPage {
        chrome: chrome(&app, &live, &auth, token, "whoami"),
        base: super::base_path(&app),
        kind: match live.principal.actor() {
            Actor::User { .. } => "user",
            Actor::Token { .. } => "API token",
            Actor::Local { .. } => "local operator",
        },
        home: live.home.slug.to_string(),
        permissions: live
            .principal
            .permissions()
            .map(Permission::as_str)
            .collect(),
        signed_in_at: when(live.auth_time),
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}
