//! `POST /console/t/{slug}/users/{id}/factors/reset`: an administrator resets a user's second
//! factors (a lost phone): every factor and recovery code goes, audited as `mfa.reset`. A
//! reset weakens the account, so it is a sensitive action: it needs an authentication younger
//! than five minutes (the round trip comes back to the user's page, where the button is
//! pressed again), and the use case refuses a user above the caller's role.

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::app::AppState;
use crate::service::authz::grant::UsersWrite;
use crate::service::manage::factors;
use crate::web::console::forms;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;

use super::TokenForm;

pub async fn reset(
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
    let page = super::user_page(id);
    let (live, auth) = or_page!(
        forms::submit::<UsersWrite>(&app, &jar, &slug, &page, &ctx, &req.0, token.as_deref()).await
    );
    if let Some(res) = super::recent(&app, &jar, &live, &slug, &page, &req.0).await {
        return res;
    }
    match factors::reset(&app, &auth, id).await {
        Ok(_) => forms::done(&app, &slug, &page),
        Err(e) => super::refusal(&app, &e, &slug, id, &req.0),
    }
}
