//! `/console/t/{slug}/users/{id}/delete`: the confirmation page saying what deleting the user
//! erases, and the POST that does it. Deleting a user is a sensitive action: both need an
//! authentication younger than five minutes (the POST's round trip comes back to this page).
//! The use case refuses a user above the caller's role and the tenant's last owner.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::AppState;
use crate::service::authz::grant::{ConsentsRead, SessionsRead, UsersWrite};
use crate::service::manage::{consents, sessions, users};
use crate::web::console::pages::{Chrome, chrome};
use crate::web::console::{base_path, failure, forms, render, tenant_path};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::TokenForm;

#[derive(Template)]
#[template(path = "console/user_delete.html")]
struct DeletePage {
    chrome: Chrome,
    base: String,
    email: String,
    role: Option<String>,
    sessions: usize,
    consents: usize,
    action: String,
    back: String,
}

/// `GET users/{id}/delete`.
pub async fn confirm(
    State(app): State<AppState>,
    Path((slug, raw)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let Some(id) = super::user_id(&raw) else {
        return crate::web::console::not_found(&app, &req.0);
    };
    let page = format!("{}/delete", super::user_page(id));
    let (live, auth) =
        or_page!(forms::open::<UsersWrite>(&app, &jar, &slug, &page, &ctx, &req.0).await);
    if let Some(res) = super::recent(&app, &jar, &live, &slug, &page, &req.0).await {
        return res;
    }
    let (s, c) = match (
        super::also::<SessionsRead, UsersWrite>(&live, &auth),
        super::also::<ConsentsRead, UsersWrite>(&live, &auth),
    ) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return failure(&app, &e, &req.0),
    };
    let found = async {
        let account = users::get(&app, &auth, id).await?;
        let n = sessions::list(&app, &s, id).await?.len();
        let m = consents::list(&app, &c, id).await?.len();
        Ok::<_, crate::service::Error>((account, n, m))
    };
    let (account, n, m) = match found.await {
        Ok(x) => x,
        Err(e) => return failure(&app, &e, &req.0),
    };
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let view = DeletePage {
        chrome: chrome(&app, &live, &auth, token, "users"),
        base: base_path(&app),
        email: account.user.email.to_string(),
        role: account.role.map(|r| r.to_string()),
        sessions: n,
        consents: m,
        action: tenant_path(&app, &slug, &page),
        back: tenant_path(&app, &slug, &super::user_page(id)),
    };
    (jar, render(StatusCode::OK, &view)).into_response()
}

/// `POST users/{id}/delete`: erases the user, then back to the list.
pub async fn delete(
    State(app): State<AppState>,
    Path((slug, raw)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let Some(id) = super::user_id(&raw) else {
        return crate::web::console::not_found(&app, &req.0);
    };
    let page = format!("{}/delete", super::user_page(id));
    let (live, auth) = or_page!(
        forms::submit::<UsersWrite>(&app, &jar, &slug, &page, &ctx, &req.0, token.as_deref()).await
    );
    if let Some(res) = super::recent(&app, &jar, &live, &slug, &page, &req.0).await {
        return res;
    }
    match users::delete(&app, &auth, id).await {
        Ok(()) => forms::done(&app, &slug, "users"),
        Err(e) => super::refusal(&app, &e, &slug, id, &req.0),
    }
}
