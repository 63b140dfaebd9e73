//! The forms of a user's page that end what the user signed in to: one login session (by its
//! public `sid`), all of them, or a remembered consent (with the tokens it let the client
//! obtain). The session and the client are named in the form, not the path: a client id may
//! hold characters a path segment would have to escape.

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::authz::grant::{ConsentsWrite, SessionsWrite};
use crate::service::manage::{consents, sessions};
use crate::web::console::forms;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;

type FormResult = Result<Form<AccessForm>, axum::extract::rejection::FormRejection>;

#[derive(Deserialize, Default)]
pub struct AccessForm {
    csrf: Option<String>,
    sid: Option<String>,
    client_id: Option<String>,
}

enum Ending {
    One,
    All,
    Consent,
}

pub async fn end_one(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult,
) -> Response {
    end(state, path, req, ctx, jar, form, Ending::One).await
}

pub async fn end_all(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult,
) -> Response {
    end(state, path, req, ctx, jar, form, Ending::All).await
}

pub async fn revoke(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: FormResult,
) -> Response {
    end(state, path, req, ctx, jar, form, Ending::Consent).await
}

async fn end(
    State(app): State<AppState>,
    Path((slug, raw)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: FormResult,
    what: Ending,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let Some(id) = super::user_id(&raw) else {
        return crate::web::console::not_found(&app, &req.0);
    };
    let page = super::user_page(id);
    let token = f.csrf.as_deref();
    let done = match what {
        Ending::One | Ending::All => {
            let auth =
                match forms::submit::<SessionsWrite>(&app, &jar, &slug, &page, &ctx, &req.0, token)
                    .await
                {
                    Ok((_, a)) => a,
                    Err(res) => return res,
                };
            match what {
                Ending::One => {
                    let sid = f.sid.unwrap_or_default();
                    sessions::end_one(&app, &auth, id, &sid).await
                }
                _ => sessions::end_all(&app, &auth, id).await.map(|_| ()),
            }
        }
        Ending::Consent => {
            let auth =
                match forms::submit::<ConsentsWrite>(&app, &jar, &slug, &page, &ctx, &req.0, token)
                    .await
                {
                    Ok((_, a)) => a,
                    Err(res) => return res,
                };
            let client = f.client_id.unwrap_or_default();
            consents::revoke(&app, &auth, id, &client).await
        }
    };
    match done {
        Ok(()) => forms::done(&app, &slug, &page),
        Err(e) => super::refusal(&app, &e, &slug, id, &req.0),
    }
}
