//! What every console page and form does before its own work, in one place: the signed-in
//! session and the proof for the page's permission ([`open`]); for a POST, the CSRF check
//! against the page's tenant before the proof for the write permission ([`submit`]), so a
//! viewer's own valid form token still meets a 403; and the paging parameters of the lists.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::App;
use crate::service::Context;
use crate::service::authz::grant::TenantRead;
use crate::service::authz::{self, Authorized, Grant};
use crate::service::console::session::Live;
use crate::service::manage::PageRequest;
use crate::web::ui::csrf;

use super::pages::signed_in;
use super::session::authorize;
use super::{failure, tenant_path};

/// A GET page: the session (a sign-in at `slug` coming back to `page` when there is none)
/// and the proof that its caller may use `G` on `slug`.
pub async fn open<G: Grant>(
    app: &App,
    jar: &CookieJar,
    slug: &str,
    page: &str,
    ctx: &Context,
    request_id: &str,
) -> Result<(Live, Authorized<G>), Response> {
    let live = signed_in(app, jar, slug, page, request_id).await?;
    let auth = authorize::<G>(app, &live, slug, ctx, request_id).await?;
    Ok((live, auth))
}

/// A POST: the session, the form's CSRF token (checked against the tenant of the page, like
/// the login pages' forms), then the proof for `G`. Without a session the browser goes
/// through sign-in and comes back to `page` (a GET: the form is not replayed).
pub async fn submit<G: Grant>(
    app: &App,
    jar: &CookieJar,
    slug: &str,
    page: &str,
    ctx: &Context,
    request_id: &str,
    token: Option<&str>,
) -> Result<(Live, Authorized<G>), Response> {
    let live = signed_in(app, jar, slug, page, request_id).await?;
    // Outside the caller's scope: the not-found page, before anything else is looked at.
    let here = authorize::<TenantRead>(app, &live, slug, ctx, request_id).await?;
    if !csrf::verify(jar, &app.config, here.tenant(), token) {
        return Err(super::secure(csrf::rejected(request_id)));
    }
    let auth = authz::authorize::<G>(&live.principal, Some(here.tenant().clone()), here.ctx())
        .map_err(|e| failure(app, &e, request_id))?;
    Ok((live, auth))
}

/// Whether the caller of `auth` also holds `H` on the same tenant: pages show only the
/// buttons that would work (the handlers check again).
pub fn may<H: Grant, G: Grant>(live: &Live, auth: &Authorized<G>) -> bool {
    authz::authorize::<H>(&live.principal, Some(auth.tenant().clone()), auth.ctx()).is_ok()
}

/// A list's `limit` parameter: absent or empty is the default; anything but a number is an
/// error to show next to the list (the range itself is checked by `PageRequest::checked`).
pub fn limit(raw: Option<&str>) -> Result<Option<u32>, String> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<u32>()
            .map(Some)
            .map_err(|_| "limit must be a number from 1 to 500".to_owned()),
    }
}

/// The query string of a list's next page: the list's own filters, `limit`, then `cursor`.
pub fn next_link(filters: &[(&str, &str)], page: &PageRequest, cursor: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in filters.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    if let Some(n) = page.limit {
        s.append_pair("limit", &n.to_string());
    }
    s.append_pair("cursor", cursor);
    format!("?{}", s.finish())
}

/// After a successful POST: see-other to a page of the same tenant (POST/redirect/GET).
pub fn done(app: &App, slug: &str, page: &str) -> Response {
    super::secure(Redirect::to(&tenant_path(app, slug, page)).into_response())
}

/// A refusal the caller can act on (a conflict such as the last owner), as a page with a
/// way back.
pub fn refused(
    app: &App,
    status: StatusCode,
    text: &str,
    request_id: &str,
    back: (&str, String),
) -> Response {
    super::message(app, status, "Not possible", text, request_id, Some(back))
}
