//! `GET /console/t/{slug}/users/{id}`: one user of the tenant: profile, status (active,
//! disabled, locked), password, role, live sessions, remembered consents and second factors,
//! each section with the forms its caller's permissions allow (the handlers in `actions`,
//! `access` and `factors` check again). A form that failed validation comes back here with its error next to the field.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::{App, AppState};
use crate::domain::ids::UserId;
use crate::service::authz::grant::{
    ConsentsRead, ConsentsWrite, RolesWrite, SessionsRead, SessionsWrite, UsersRead, UsersWrite,
};
use crate::service::authz::{Authorized, Grant};
use crate::service::console::session::Live;
use crate::service::manage::{consents, factors, sessions, users};
use crate::web::console::pages::{Chrome, chrome, when};
use crate::web::console::{base_path, failure, forms, render, tenant_path};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

/// Profile values typed into a form that failed (shown instead of the stored ones).
pub(super) struct ProfileDraft {
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub email_verified: bool,
}

/// A form's errors, the values to show again, and the status of the page.
#[derive(Default)]
pub(super) struct Draft {
    pub profile: Option<ProfileDraft>,
    pub name_error: Option<String>,
    pub given_name_error: Option<String>,
    pub family_name_error: Option<String>,
    pub profile_error: Option<String>,
    pub password_error: Option<String>,
    pub role: Option<String>,
    pub role_error: Option<String>,
    pub status: Option<StatusCode>,
}

struct SessionRow {
    sid: String,
    started: String,
    last_seen: String,
    ip: String,
    agent: String,
    expires: String,
}

struct FactorRow {
    name: String,
    kind: &'static str,
    added: String,
    last_used: String,
}

struct ConsentRow {
    client_id: String,
    scope: String,
    granted: String,
    expires: String,
}

/// What each form posts to.
struct Actions {
    profile: String,
    disable: String,
    enable: String,
    unlock: String,
    password: String,
    role: String,
    end_one: String,
    end_all: String,
    revoke: String,
    reset_factors: String,
    delete: String,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    chrome: Chrome,
    base: String,
    users: String,
    id: String,
    email: String,
    created: String,
    updated: String,
    p: ProfileDraft,
    active: bool,
    locked: Option<String>,
    role: String,
    /// The role the select shows chosen: the one typed, else the one held.
    selected: String,
    roles: Vec<&'static str>,
    sessions: Vec<SessionRow>,
    consents: Vec<ConsentRow>,
    factors: Vec<FactorRow>,
    /// users:write (profile, unlock).
    write: bool,
    /// users:write on a user not above the caller's role (status, password, delete).
    take_over: bool,
    /// roles:write on a user not above the caller's role.
    grant: bool,
    end: bool,
    revoke: bool,
    a: Actions,
    d: Draft,
}

/// `GET users/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Path((slug, raw)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let Some(id) = super::user_id(&raw) else {
        return crate::web::console::not_found(&app, &req.0);
    };
    let page = super::user_page(id);
    let (live, auth) =
        or_page!(forms::open::<UsersRead>(&app, &jar, &slug, &page, &ctx, &req.0).await);
    page_of(&app, jar, &live, &auth, id, Draft::default(), &req.0).await
}

/// The user's page as the caller of `auth` may see it, with `d`'s errors and values.
pub(super) async fn page_of<G: Grant>(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &Authorized<G>,
    id: UserId,
    mut d: Draft,
    request_id: &str,
) -> Response {
    let proofs = (
        super::also::<UsersRead, G>(live, auth),
        super::also::<SessionsRead, G>(live, auth),
        super::also::<ConsentsRead, G>(live, auth),
    );
    let (read, sessions_read, consents_read) = match proofs {
        (Ok(u), Ok(s), Ok(c)) => (u, s, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return failure(app, &e, request_id),
    };
    let account = match users::get(app, &read, id).await {
        Ok(a) => a,
        Err(e) => return failure(app, &e, request_id),
    };
    let live_sessions = match sessions::list(app, &sessions_read, id).await {
        Ok(s) => s,
        Err(e) => return failure(app, &e, request_id),
    };
    let remembered = match consents::list(app, &consents_read, id).await {
        Ok(c) => c,
        Err(e) => return failure(app, &e, request_id),
    };
    let enrolled = match factors::list(app, &read, id).await {
        Ok(f) => f,
        Err(e) => return failure(app, &e, request_id),
    };
    let slug = auth.tenant().slug.as_str();
    let at = |action: &str| tenant_path(app, slug, &format!("users/{id}/{action}"));
    let user = &account.user;
    let now = app.clock.now();
    // Nobody takes over a user whose role is above their own (the use cases refuse it too).
    let reach = account.role.is_none_or(|r| r <= auth.role());
    let write = forms::may::<UsersWrite, G>(live, auth);
    let p = d.profile.take().unwrap_or_else(|| ProfileDraft {
        name: user.profile.name.clone().unwrap_or_default(),
        given_name: user.profile.given_name.clone().unwrap_or_default(),
        family_name: user.profile.family_name.clone().unwrap_or_default(),
        email_verified: user.email_verified,
    });
    let locked = user.is_locked(now).then(|| {
        format!(
            "locked until {} after {} failed logins",
            when(user.locked_until.unwrap_or(now)),
            user.failed_attempts
        )
    });
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let status = d.status.unwrap_or(StatusCode::OK);
    let page = UserPage {
        chrome: chrome(app, live, auth, token, "users"),
        base: base_path(app),
        users: tenant_path(app, slug, "users"),
        id: id.to_string(),
        email: user.email.to_string(),
        created: when(user.created_at),
        updated: when(user.updated_at),
        p,
        active: user.is_active(),
        locked,
        role: account.role.map(|r| r.to_string()).unwrap_or_default(),
        selected: d
            .role
            .clone()
            .unwrap_or_else(|| account.role.map(|r| r.to_string()).unwrap_or_default()),
        roles: super::create::grantable(live, auth),
        sessions: live_sessions
            .into_iter()
            .map(|s| SessionRow {
                sid: s.sid,
                started: when(s.created_at),
                last_seen: when(s.last_seen),
                ip: s.ip.unwrap_or_default(),
                agent: s.user_agent.unwrap_or_default(),
                expires: when(s.expires_at),
            })
            .collect(),
        consents: remembered
            .into_iter()
            .map(|c| ConsentRow {
                client_id: c.client_id,
                scope: c.scope,
                granted: when(c.granted_at),
                expires: when(c.expires_at),
            })
            .collect(),
        factors: enrolled
            .into_iter()
            .map(|f| FactorRow {
                kind: match f.kind.as_str() {
                    "totp" => "Authenticator app",
                    "webauthn" => "Security key or passkey",
                    _ => "Other",
                },
                name: f.name,
                added: when(f.created_at),
                last_used: f.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        write,
        take_over: write && reach,
        grant: reach && forms::may::<RolesWrite, G>(live, auth),
        end: forms::may::<SessionsWrite, G>(live, auth),
        revoke: forms::may::<ConsentsWrite, G>(live, auth),
        a: Actions {
            profile: at("profile"),
            disable: at("disable"),
            enable: at("enable"),
            unlock: at("unlock"),
            password: at("password"),
            role: at("role"),
            end_one: at("sessions/end"),
            end_all: at("sessions/end-all"),
            revoke: at("consents/revoke"),
            reset_factors: at("factors/reset"),
            delete: at("delete"),
        },
        d,
    };
    (jar, render(status, &page)).into_response()
}
