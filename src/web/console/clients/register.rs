//! `GET/POST /console/t/{slug}/clients/new`: registering a client. The answer to a successful
//! POST is the only page that ever shows the secret (200, `no-store`, never after a redirect,
//! never kept for showing again): the service stores only its hash.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::{App, AppState};
use crate::service::authz::grant::ClientsWrite;
use crate::service::authz::{Authorized, Grant};
use crate::service::console::session::Live;
use crate::service::manage::clients;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::form::{self, Errors, Fields};
use super::{FormView, client_page};
use crate::web::console::pages::{Chrome, chrome};
use crate::web::console::{failure, forms, render, tenant_path};

#[derive(Template)]
#[template(path = "console/client_new.html")]
struct NewPage {
    chrome: Chrome,
    base: String,
    action: String,
    back: String,
    form: FormView,
}

/// The page that shows a new secret once: after registration and after a rotation.
#[derive(Template)]
#[template(path = "console/client_secret.html")]
pub(super) struct SecretPage {
    pub chrome: Chrome,
    pub base: String,
    pub heading: &'static str,
    pub name: String,
    pub client_id: String,
    pub secret: Option<String>,
    pub rotated: bool,
    pub href: String,
}

fn show<G: Grant>(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &Authorized<G>,
    slug: &str,
    form: FormView,
) -> Response {
    let status = form.status();
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = NewPage {
        chrome: chrome(app, live, auth, token, "clients"),
        base: crate::web::console::base_path(app),
        action: tenant_path(app, slug, "clients/new"),
        back: tenant_path(app, slug, "clients"),
        form,
    };
    (jar, render(status, &page)).into_response()
}

/// `GET clients/new`: the form with the service's defaults filled in (a viewer gets the
/// refusal page: the list shows no link to it).
pub async fn new(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let (live, auth) =
        or_page!(forms::open::<ClientsWrite>(&app, &jar, &slug, "clients/new", &ctx, &req.0).await);
    let form = FormView {
        fields: Fields::default(),
        errors: Errors::default(),
        editing: false,
    };
    show(&app, jar, &live, &auth, &slug, form)
}

/// `POST clients/new`: registers the client; bad input is shown next to its field (422) with
/// the typed values, success is the one page with the secret.
pub async fn create(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let (fields, token) = form::parse(&body);
    let (live, auth) = or_page!(
        forms::submit::<ClientsWrite>(
            &app,
            &jar,
            &slug,
            "clients/new",
            &ctx,
            &req.0,
            token.as_deref(),
        )
        .await
    );
    let again = |errors: Errors, fields: Fields| FormView {
        fields,
        errors,
        editing: false,
    };
    let new = match fields.to_new() {
        Ok(n) => n,
        Err(errors) => return show(&app, jar, &live, &auth, &slug, again(errors, fields)),
    };
    match clients::create(&app, &auth, &new).await {
        Ok(created) => {
            let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
            let id = created.client.client_id;
            let page = SecretPage {
                chrome: chrome(&app, &live, &auth, token, "clients"),
                base: crate::web::console::base_path(&app),
                heading: "Client registered",
                name: created.client.name,
                href: tenant_path(&app, &slug, &client_page(&id, "")),
                client_id: id,
                secret: created.secret,
                rotated: false,
            };
            (jar, render(StatusCode::OK, &page)).into_response()
        }
        Err(e) => match Errors::from_service(e) {
            Ok(errors) => show(&app, jar, &live, &auth, &slug, again(errors, fields)),
            Err(e) => failure(&app, &e, &req.0),
        },
    }
}
