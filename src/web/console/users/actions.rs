//! The forms of a user's page that change the account: profile, disable/enable, unlock, set a
//! password, role. Each checks the form token before the proof of its permission
//! (`forms::submit`), calls one management use case, and goes back to the user's page (303);
//! a value the use case refuses comes back on that page next to its field (422), a refusal
//! of its rules (a user above the caller's role, the tenant's last owner) as a page with the
//! way back (`super::refusal`).

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::Error;
use crate::service::admin::ProfilePatch;
use crate::service::authz::grant::{RolesWrite, UsersWrite};
use crate::service::manage::roles::{self, parse_role};
use crate::service::manage::users::{self, AccountPatch};
use crate::web::console::forms;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;

use super::TokenForm;
use super::detail::{Draft, ProfileDraft, page_of};

type FormResult<T> = Result<Form<T>, axum::extract::rejection::FormRejection>;

#[derive(Deserialize, Default)]
pub struct ProfileForm {
    csrf: Option<String>,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    /// A checkbox: present when ticked.
    email_verified: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    csrf: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct RoleForm {
    csrf: Option<String>,
    role: Option<String>,
}

/// The request's parts every action needs.
pub struct Request {
    app: AppState,
    slug: String,
    raw: String,
    req: String,
    ctx: crate::service::Context,
    jar: CookieJar,
}

impl Request {
    fn new(
        State(app): State<AppState>,
        Path((slug, raw)): Path<(String, String)>,
        Extension(req): Extension<RequestId>,
        RequestContext(ctx, _): RequestContext,
        jar: CookieJar,
    ) -> Request {
        Request {
            app,
            slug,
            raw,
            req: req.0,
            ctx,
            jar,
        }
    }
}

/// Expands to the shared start of an action: the user id, then the session, the form token
/// and the proof of `$grant`; returns early with the page to show instead.
macro_rules! begin {
    ($r:expr, $grant:ty, $token:expr) => {{
        let Some(id) = super::user_id(&$r.raw) else {
            return crate::web::console::not_found(&$r.app, &$r.req);
        };
        let page = super::user_page(id);
        match forms::submit::<$grant>(&$r.app, &$r.jar, &$r.slug, &page, &$r.ctx, &$r.req, $token)
            .await
        {
            Ok((live, auth)) => (id, live, auth),
            Err(res) => return res,
        }
    }};
}

/// `POST users/{id}/profile`: the names and `email_verified` (an empty name clears it).
pub async fn profile(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult<ProfileForm>,
) -> Response {
    let r = Request::new(state, path, req, ctx, jar);
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let (id, live, auth) = begin!(r, UsersWrite, f.csrf.as_deref());
    let typed = ProfileDraft {
        name: f.name.unwrap_or_default(),
        given_name: f.given_name.unwrap_or_default(),
        family_name: f.family_name.unwrap_or_default(),
        email_verified: f.email_verified.is_some(),
    };
    let patch = AccountPatch {
        profile: ProfilePatch {
            name: Some(typed.name.clone()),
            given_name: Some(typed.given_name.clone()),
            family_name: Some(typed.family_name.clone()),
            email_verified: Some(typed.email_verified),
            ..ProfilePatch::default()
        },
        status: None,
    };
    match users::update(&r.app, &auth, id, patch).await {
        Ok(_) => forms::done(&r.app, &r.slug, &super::user_page(id)),
        Err(Error::Invalid(m)) => {
            let mut d = Draft {
                profile: Some(typed),
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..Draft::default()
            };
            match super::field_of(&m) {
                "name" => d.name_error = Some(m),
                "given_name" => d.given_name_error = Some(m),
                "family_name" => d.family_name_error = Some(m),
                _ => d.profile_error = Some(m),
            }
            page_of(&r.app, r.jar, &live, &auth, id, d, &r.req).await
        }
        Err(e) => super::refusal(&r.app, &e, &r.slug, id, &r.req),
    }
}

/// `POST users/{id}/disable`: ends the user's sessions and tokens too (never the last owner).
pub async fn disable(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult<TokenForm>,
) -> Response {
    set_status(Request::new(state, path, req, ctx, jar), form, "disabled").await
}

/// `POST users/{id}/enable`.
pub async fn enable(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult<TokenForm>,
) -> Response {
    set_status(Request::new(state, path, req, ctx, jar), form, "active").await
}

async fn set_status(r: Request, form: FormResult<TokenForm>, status: &str) -> Response {
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let (id, _live, auth) = begin!(r, UsersWrite, token.as_deref());
    let patch = AccountPatch {
        status: Some(status.to_owned()),
        ..AccountPatch::default()
    };
    match users::update(&r.app, &auth, id, patch).await {
        Ok(_) => forms::done(&r.app, &r.slug, &super::user_page(id)),
        Err(e) => super::refusal(&r.app, &e, &r.slug, id, &r.req),
    }
}

/// `POST users/{id}/unlock`: clears the failed-login count and the lock.
pub async fn unlock(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult<TokenForm>,
) -> Response {
    let r = Request::new(state, path, req, ctx, jar);
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let (id, _live, auth) = begin!(r, UsersWrite, token.as_deref());
    match users::unlock(&r.app, &auth, id).await {
        Ok(_) => forms::done(&r.app, &r.slug, &super::user_page(id)),
        Err(e) => super::refusal(&r.app, &e, &r.slug, id, &r.req),
    }
}

/// `POST users/{id}/password`: the user's sessions and tokens end with the old password.
pub async fn password(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult<PasswordForm>,
) -> Response {
    let r = Request::new(state, path, req, ctx, jar);
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let (id, live, auth) = begin!(r, UsersWrite, f.csrf.as_deref());
    let password = f.password.unwrap_or_default();
    match users::set_password(&r.app, &auth, id, &password).await {
        Ok(_) => forms::done(&r.app, &r.slug, &super::user_page(id)),
        Err(Error::Invalid(m)) => {
            let d = Draft {
                password_error: Some(m),
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..Draft::default()
            };
            page_of(&r.app, r.jar, &live, &auth, id, d, &r.req).await
        }
        Err(e) => super::refusal(&r.app, &e, &r.slug, id, &r.req),
    }
}

/// `POST users/{id}/role`: grants, changes (both need a recent authentication) or removes
/// ("No role") the user's management role.
pub async fn role(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult<RoleForm>,
) -> Response {
    let r = Request::new(state, path, req, ctx, jar);
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let (id, live, auth) = begin!(r, RolesWrite, f.csrf.as_deref());
    let typed = f.role.unwrap_or_default();
    let role = match typed.as_str() {
        "" => None,
        s => match parse_role(s) {
            Ok(role) => Some(role),
            Err(e) => {
                let d = Draft {
                    role: Some(typed.clone()),
                    role_error: Some(e.to_string()),
                    status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                    ..Draft::default()
                };
                return page_of(&r.app, r.jar, &live, &auth, id, d, &r.req).await;
            }
        },
    };
    if role.is_some() {
        let page = super::user_page(id);
        if let Some(res) = super::recent(&r.app, &r.jar, &live, &r.slug, &page, &r.req).await {
            return res;
        }
    }
    match roles::set(&r.app, &auth, id, role).await {
        Ok(_) => forms::done(&r.app, &r.slug, &super::user_page(id)),
        Err(e) => super::refusal(&r.app, &e, &r.slug, id, &r.req),
    }
}
