//! The console's users pages: the list with its search (`list`), creating a user (`create`),
//! one user's page with its profile, status, password, role, sessions, consents and second
//! factors (`detail`, written by `actions`, `access` and `factors`) and its deletion behind a
//! confirmation page (`delete`). Every change goes through the management use cases (`service::manage`) with
//! the proof of its permission, as the API's would: their rules (nobody acts on a user above
//! their own role, a tenant keeps an owner) come back as errors shown here as pages.

mod access;
mod actions;
mod create;
mod delete;
mod detail;
mod factors;
mod list;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::ids::UserId;
use crate::service::Error;
use crate::service::authz::{self, Authorized, Grant};
use crate::service::console::session::Live;
use crate::service::manage::users::parse_id;

use super::{failure, forms, tenant_path};

/// The users pages and their forms, relative to `/console/t/{slug}/`.
pub fn routes() -> Router<AppState> {
    const U: &str = "/console/t/{slug}/users/{id}";
    Router::new()
        .route("/console/t/{slug}/users", get(list::list))
        .route(
            "/console/t/{slug}/users/new",
            get(create::form).post(create::create),
        )
        .route(U, get(detail::show))
        .route(&format!("{U}/profile"), post(actions::profile))
        .route(&format!("{U}/disable"), post(actions::disable))
        .route(&format!("{U}/enable"), post(actions::enable))
        .route(&format!("{U}/unlock"), post(actions::unlock))
        .route(&format!("{U}/password"), post(actions::password))
        .route(&format!("{U}/role"), post(actions::role))
        .route(&format!("{U}/sessions/end"), post(access::end_one))
        .route(&format!("{U}/sessions/end-all"), post(access::end_all))
        .route(&format!("{U}/consents/revoke"), post(access::revoke))
        .route(&format!("{U}/factors/reset"), post(factors::reset))
        .route(
            &format!("{U}/delete"),
            get(delete::confirm).post(delete::delete),
        )
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize, Default)]
pub struct TokenForm {
    csrf: Option<String>,
}

/// The user id of a path (`None`: the not-found page, like a missing user; before the
/// session is looked at, as there is nothing to sign in for).
fn user_id(raw: &str) -> Option<UserId> {
    parse_id(raw).ok()
}

/// The page of one user, relative to the tenant.
fn user_page(id: UserId) -> String {
    format!("users/{id}")
}

/// Which form field an `Error::Invalid` message of the use cases is about: they start with
/// the field's name ("email ... is invalid", "password is too short", "given_name is too
/// long"); anything else is shown above the form.
fn field_of(message: &str) -> &str {
    let first = message.split_whitespace().next().unwrap_or_default();
    match first {
        "email" | "password" | "name" | "given_name" | "family_name" | "role" => first,
        _ => "",
    }
}

/// A refusal of a use case on a user's page: a conflict (the tenant's last owner) or a user
/// above the caller's role, as a page with the way back to the user; anything else as
/// `failure` shows it (another tenant's or a missing user: the not-found page).
fn refusal(app: &App, e: &Error, slug: &str, id: UserId, request_id: &str) -> Response {
    let back = ("Back to the user", tenant_path(app, slug, &user_page(id)));
    match e {
        Error::Conflict(m) => forms::refused(app, StatusCode::CONFLICT, m, request_id, back),
        Error::Forbidden(m) => super::message(
            app,
            StatusCode::FORBIDDEN,
            "Not allowed",
            m,
            request_id,
            Some(back),
        ),
        // The user is there, but the session or consent is not (any more).
        Error::NotFound(what) if *what != "user" => super::message(
            app,
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("There is no such {what} of this user (any more)."),
            request_id,
            Some(back),
        ),
        other => failure(app, other, request_id),
    }
}

/// Another proof for the tenant of `auth`, from the same principal (no second lookup).
fn also<H: Grant, G: Grant>(
    live: &Live,
    auth: &Authorized<G>,
) -> crate::service::Result<Authorized<H>> {
    authz::authorize::<H>(&live.principal, Some(auth.tenant().clone()), auth.ctx())
}

/// Sensitive actions (granting a role, deleting a user) need an authentication younger than
/// five minutes: `None` when this one is, otherwise the round trip through `/authorize` with
/// `max_age` that comes back to `page` (a GET: a POST is never replayed).
async fn recent(
    app: &App,
    jar: &CookieJar,
    live: &Live,
    slug: &str,
    page: &str,
    request_id: &str,
) -> Option<Response> {
    let back = tenant_path(app, slug, page);
    super::session::require_recent_auth(app, jar.clone(), live, &back, request_id).await
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn invalid_messages_land_next_to_their_field() {
        assert_eq!(
            field_of("email \"x\" is invalid: expected one address"),
            "email"
        );
        assert_eq!(field_of("password is too short: at least 8"), "password");
        assert_eq!(field_of("given_name is too long"), "given_name");
        assert_eq!(field_of("nothing to change: give at least one field"), "");
        assert_eq!(field_of(""), "");
    }
}
