//! The console's cookies and its per-request session: the session cookie
//! (`__Host-opentrusty_console` on https, `opentrusty_console` on http; HttpOnly,
//! SameSite=Strict) and the short-lived pre-login cookie of a sign-in in progress (Lax: it
//! must come back on the top-level redirect from `/authorize`). Whether the `__Host-` prefix
//! and `Secure` apply follows the admin plane's URL, not the auth plane's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::service::Context;
use crate::service::authz::{self, Authorized, Grant};
use crate::service::console::session::{self as console, Live, RECENT_AUTH};

const SESSION: &str = "opentrusty_console";
const PRE_LOGIN: &str = "opentrusty_console_login";

fn secure(app: &App) -> bool {
    app.config.console.base(&app.config.public_url).scheme() == "https"
}

fn name(app: &App, base: &str) -> String {
    if secure(app) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

fn build(app: &App, base: &str, value: String, max_age: i64, site: SameSite) -> Cookie<'static> {
    let mut c = Cookie::new(name(app, base), value);
    c.set_http_only(true);
    c.set_secure(secure(app));
    c.set_same_site(site);
    c.set_path("/");
    c.set_max_age(time::Duration::seconds(max_age));
    c
}

fn get(jar: &CookieJar, app: &App, base: &str) -> Option<String> {
    jar.get(&name(app, base))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

pub fn session_value(jar: &CookieJar, app: &App) -> Option<String> {
    get(jar, app, SESSION)
}

pub fn session_cookie(app: &App, value: String, max_age: i64) -> Cookie<'static> {
    build(app, SESSION, value, max_age, SameSite::Strict)
}

pub fn session_removal(app: &App) -> Cookie<'static> {
    let mut c = build(app, SESSION, String::new(), 0, SameSite::Strict);
    c.make_removal();
    c
}

pub fn pre_login_value(jar: &CookieJar, app: &App) -> Option<String> {
    get(jar, app, PRE_LOGIN)
}

pub fn pre_login_cookie(app: &App, value: String) -> Cookie<'static> {
    build(app, PRE_LOGIN, value, console::LOGIN_TTL, SameSite::Lax)
}

pub fn pre_login_removal(app: &App) -> Cookie<'static> {
    let mut c = build(app, PRE_LOGIN, String::new(), 0, SameSite::Lax);
    c.make_removal();
    c
}

/// The live console session of this browser, if any.
pub async fn live(app: &App, jar: &CookieJar) -> crate::service::Result<Option<Live>> {
    match session_value(jar, app) {
        Some(v) => console::current(app, &v).await,
        None => Ok(None),
    }
}

/// Starts a sign-in at `tenant` and sends the browser to its `/authorize`; `return_to` is the
/// console page to show afterwards.
pub async fn sign_in(
    app: &App,
    jar: CookieJar,
    tenant: &Tenant,
    return_to: &str,
    max_age: Option<i64>,
    request_id: &str,
) -> Response {
    match console::begin(app, tenant, return_to, max_age).await {
        Ok(started) => {
            let jar = jar.add(pre_login_cookie(app, started.cookie));
            (
                jar,
                super::secure(Redirect::to(&started.authorize_url).into_response()),
            )
                .into_response()
        }
        Err(e) => super::failure(app, &e, request_id),
    }
}

/// The proof that the session's caller may use `G` on `slug`: the same check as an API call
/// with the session's access token. Outside the caller's scope the answer is the not-found
/// page; inside it without the permission, 403.
pub async fn authorize<G: Grant>(
    app: &App,
    live: &Live,
    slug: &str,
    ctx: &Context,
    request_id: &str,
) -> Result<Authorized<G>, Response> {
    let ctx = Context {
        via: Some("console"),
        ..ctx.clone()
    };
    authz::authorize_slug::<G>(app, &live.principal, slug, &ctx)
        .await
        .map_err(|e| super::failure(app, &e, request_id))
}

/// Sensitive actions (rotating keys, deleting a client or user, granting a role, creating an
/// API token) need an authentication younger than five minutes: `None` when this one is,
/// otherwise the redirect through the home tenant's `/authorize` with `max_age=300` (OIDC
/// Core §3.1.2.1), which comes back to `return_to` with a fresh session.
pub async fn require_recent_auth(
    app: &App,
    jar: CookieJar,
    live: &Live,
    return_to: &str,
    request_id: &str,
) -> Option<Response> {
    if console::recent(app, live) {
        return None;
    }
    Some(
        sign_in(
            app,
            jar,
            &live.home,
            return_to,
            Some(RECENT_AUTH),
            request_id,
        )
        .await,
    )
}

/// The page for a sign-in that cannot be used (no role in the tenant).
pub fn no_access(app: &App, slug: &str, request_id: &str) -> Response {
    super::message(
        app,
        StatusCode::FORBIDDEN,
        "No access to the console",
        "You signed in, but your account holds no role in this tenant, so the console has nothing for you. Ask an owner of the tenant for a role.",
        request_id,
        Some(("Try again", super::tenant_path(app, slug, ""))),
    )
}
