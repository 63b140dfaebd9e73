//! The client's credential changes, which need an authentication younger than five minutes
//! (`session::require_recent_auth`): rotating the secret (`POST clients/{id}/secret`, from the
//! client's page, which a stale session goes back to after the round trip: the POST is never
//! replayed) and deleting (`GET clients/{id}/delete` is the confirmation page, checked on the
//! way in, and its `POST` is checked again).

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::app::AppState;
use crate::domain::client::ClientKind;
use crate::service::authz::grant::ClientsWrite;
use crate::service::manage::clients;
use crate::web::console::session::require_recent_auth;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::detail::ActionForm;
use super::register::SecretPage;
use super::{client_page, load};
use crate::web::console::pages::{Chrome, chrome};
use crate::web::console::{failure, forms, render, tenant_path};

/// `POST clients/{client_id}/secret`: a new secret, shown once in this answer; the old one
/// stops working at once.
pub async fn rotate(
    State(app): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let here = client_page(&client_id, "");
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let (live, auth) = or_page!(
        forms::submit::<ClientsWrite>(&app, &jar, &slug, &here, &ctx, &req.0, token.as_deref(),)
            .await
    );
    let client = match load(&app, &live, &auth, &client_id).await {
        Ok(c) => c,
        Err(e) => return failure(&app, &e, &req.0),
    };
    let back = tenant_path(&app, &slug, &here);
    if let Some(round_trip) = require_recent_auth(&app, jar.clone(), &live, &back, &req.0).await {
        return round_trip;
    }
    if client.kind == ClientKind::Public {
        return forms::refused(
            &app,
            StatusCode::CONFLICT,
            "A public client has no secret to rotate.",
            &req.0,
            ("Back to the client", back),
        );
    }
    match clients::rotate_secret(&app, &auth, &client_id).await {
        Ok(secret) => {
            let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
            let page = SecretPage {
                chrome: chrome(&app, &live, &auth, token, "clients"),
                base: crate::web::console::base_path(&app),
                heading: "New client secret",
                name: client.name,
                client_id: client.client_id,
                secret: Some(secret),
                rotated: true,
                href: back,
            };
            (jar, render(StatusCode::OK, &page)).into_response()
        }
        Err(e) => failure(&app, &e, &req.0),
    }
}

#[derive(Template)]
#[template(path = "console/client_delete.html")]
struct DeletePage {
    chrome: Chrome,
    base: String,
    name: String,
    client_id: String,
    action: String,
    back: String,
}

/// `GET clients/{client_id}/delete`: what deleting the client ends, and the button.
pub async fn confirm(
    State(app): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let here = client_page(&client_id, "delete");
    let (live, auth) =
        or_page!(forms::open::<ClientsWrite>(&app, &jar, &slug, &here, &ctx, &req.0).await);
    let client = match load(&app, &live, &auth, &client_id).await {
        Ok(c) => c,
        Err(e) => return failure(&app, &e, &req.0),
    };
    let this = tenant_path(&app, &slug, &here);
    if let Some(round_trip) = require_recent_auth(&app, jar.clone(), &live, &this, &req.0).await {
        return round_trip;
    }
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = DeletePage {
        chrome: chrome(&app, &live, &auth, token, "clients"),
        base: crate::web::console::base_path(&app),
        name: client.name,
        back: tenant_path(&app, &slug, &client_page(&client_id, "")),
        client_id: client.client_id,
        action: this,
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}

/// `POST clients/{client_id}/delete`: deletes the client with its codes, tokens and consents;
/// back to the list.
pub async fn delete(
    State(app): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let here = client_page(&client_id, "delete");
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let (live, auth) = or_page!(
        forms::submit::<ClientsWrite>(&app, &jar, &slug, &here, &ctx, &req.0, token.as_deref(),)
            .await
    );
    if let Err(e) = load(&app, &live, &auth, &client_id).await {
        return failure(&app, &e, &req.0);
    }
    let this = tenant_path(&app, &slug, &here);
    if let Some(round_trip) = require_recent_auth(&app, jar, &live, &this, &req.0).await {
        return round_trip;
    }
    match clients::delete(&app, &auth, &client_id).await {
        Ok(()) => forms::done(&app, &slug, "clients"),
        Err(e) => failure(&app, &e, &req.0),
    }
}
