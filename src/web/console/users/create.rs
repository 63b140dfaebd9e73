//! `/console/t/{slug}/users/new`: the form that creates a user, with a role when the caller
//! may grant one. Choosing a role is granting it, a sensitive action: for a caller who may
//! grant, the form's page needs a recent authentication and so does the POST that grants
//! (`super::recent`). Errors are shown next to their field with the values typed (never the
//! password); success goes to the new user's page. When the server sends mail, a second
//! button invites the person instead (`service::invite`: no password, a mailed link).

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::role::Role;
use crate::service::Error;
use crate::service::authz::grant::{RolesWrite, UsersWrite};
use crate::service::authz::{self, Authorized};
use crate::service::console::session::Live;
use crate::service::invite::{self, Invitation};
use crate::service::manage::roles::{self, parse_role};
use crate::service::manage::users::{self, NewAccount};
use crate::web::console::pages::{Chrome, chrome};
use crate::web::console::{base_path, failure, forms, render};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

const PAGE: &str = "users/new";

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    csrf: Option<String>,
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
    role: Option<String>,
    /// Present when the "Invite by mail" button was pressed.
    invite: Option<String>,
}

/// What the form shows again with its errors (never the password).
#[derive(Default)]
struct Draft {
    email: String,
    name: String,
    role: String,
    email_error: Option<String>,
    password_error: Option<String>,
    name_error: Option<String>,
    role_error: Option<String>,
    form_error: Option<String>,
    status: Option<StatusCode>,
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
struct NewUserPage {
    chrome: Chrome,
    base: String,
    d: Draft,
    /// The roles the caller may grant (empty: no role select).
    roles: Vec<&'static str>,
    /// Whether this server sends mail (the invite button).
    mail: bool,
}

/// The roles the caller of `auth` may grant, lowest first (`Role::may_grant`, the rule the
/// use case applies again).
pub(super) fn grantable<G: crate::service::authz::Grant>(
    live: &Live,
    auth: &Authorized<G>,
) -> Vec<&'static str> {
    if !forms::may::<RolesWrite, G>(live, auth) {
        return Vec::new();
    }
    Role::ALL
        .into_iter()
        .filter(|r| auth.role().may_grant(*r))
        .map(Role::as_str)
        .collect()
}

fn show(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &Authorized<UsersWrite>,
    d: Draft,
) -> Response {
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let status = d.status.unwrap_or(StatusCode::OK);
    let page = NewUserPage {
        chrome: chrome(app, live, auth, token, "users"),
        base: base_path(app),
        roles: grantable(live, auth),
        mail: crate::service::mail::enabled(app),
        d,
    };
    (jar, render(status, &page)).into_response()
}

/// `GET users/new`.
pub async fn form(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let (live, auth) =
        or_page!(forms::open::<UsersWrite>(&app, &jar, &slug, PAGE, &ctx, &req.0).await);
    if forms::may::<RolesWrite, UsersWrite>(&live, &auth)
        && let Some(res) = super::recent(&app, &jar, &live, &slug, PAGE, &req.0).await
    {
        return res;
    }
    show(&app, jar, &live, &auth, Draft::default())
}

/// `POST users/new`: creates the user, then grants the chosen role.
pub async fn create(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<NewUserForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let (live, auth) = or_page!(
        forms::submit::<UsersWrite>(&app, &jar, &slug, PAGE, &ctx, &req.0, form.csrf.as_deref(),)
            .await
    );
    let mut d = Draft {
        email: form.email.clone().unwrap_or_default().trim().to_owned(),
        name: form.name.clone().unwrap_or_default(),
        role: form.role.clone().unwrap_or_default(),
        ..Draft::default()
    };
    // The role first: granting needs its own permission and a recent authentication, and
    // nothing is created when the grant could not follow.
    let role = match d.role.as_str() {
        "" => None,
        r => match parse_role(r) {
            Ok(r) => Some(r),
            Err(Error::Invalid(m)) => {
                d.role_error = Some(m);
                d.status = Some(StatusCode::UNPROCESSABLE_ENTITY);
                return show(&app, jar, &live, &auth, d);
            }
            Err(e) => return failure(&app, &e, &req.0),
        },
    };
    let grant = match role {
        None => None,
        Some(r) => {
            let roles = match authz::authorize::<RolesWrite>(
                &live.principal,
                Some(auth.tenant().clone()),
                auth.ctx(),
            ) {
                Ok(a) => a,
                Err(e) => return failure(&app, &e, &req.0),
            };
            if let Some(res) = super::recent(&app, &jar, &live, &slug, PAGE, &req.0).await {
                return res;
            }
            Some((roles, r))
        }
    };
    let created = if form.invite.is_some() {
        let invitation = Invitation {
            email: &d.email,
            name: form.name.as_deref(),
        };
        invite::invite(&app, &auth, invitation)
            .await
            .map(|i| i.user.id)
    } else {
        let new = NewAccount {
            email: d.email.clone(),
            password: form.password.filter(|p| !p.is_empty()),
            given_name: None,
            family_name: None,
            name: form.name,
            email_verified: false,
        };
        users::create(&app, &auth, new).await.map(|a| a.user.id)
    };
    let id = match created {
        Ok(id) => id,
        Err(Error::Invalid(m)) => {
            match super::field_of(&m) {
                "email" => d.email_error = Some(m),
                "password" => d.password_error = Some(m),
                "name" => d.name_error = Some(m),
                _ => d.form_error = Some(m),
            }
            d.status = Some(StatusCode::UNPROCESSABLE_ENTITY);
            return show(&app, jar, &live, &auth, d);
        }
        Err(Error::Conflict(m)) => {
            d.email_error = Some(m);
            d.status = Some(StatusCode::CONFLICT);
            return show(&app, jar, &live, &auth, d);
        }
        Err(e) => return failure(&app, &e, &req.0),
    };
    if let Some((roles, r)) = grant
        && let Err(e) = roles::set(&app, &roles, id, Some(r)).await
    {
        // The user exists: its page says what did not happen.
        return super::refusal(&app, &e, &slug, id, &req.0);
    }
    forms::done(&app, &slug, &super::user_page(id))
}
