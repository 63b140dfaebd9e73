//! `/console/t/{slug}/clients/{client_id}`: a client's page. Everyone who may read clients
//! sees its settings (never a secret: the service keeps only its hash); those who may write
//! them get the edit form (`POST` here, only the changed settings are sent, checked by the
//! same rules as a registration), disable/enable, the secret rotation and the way to delete.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::client::{Client, ClientKind};
use crate::domain::tenant::Status;
use crate::service::authz::grant::{ClientsRead, ClientsWrite};
use crate::service::authz::{Authorized, Grant};
use crate::service::clients::ClientChanges;
use crate::service::console::session::Live;
use crate::service::manage::clients;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::form::{self, Errors, Fields};
use super::{FormView, client_page, load};
use crate::web::console::pages::{Chrome, chrome, when};
use crate::web::console::{failure, forms, render, tenant_path};

#[derive(Template)]
#[template(path = "console/client.html")]
struct ClientPage {
    chrome: Chrome,
    base: String,
    name: String,
    client_id: String,
    kind: &'static str,
    status: &'static str,
    created: String,
    active: bool,
    confidential: bool,
    write: bool,
    form: FormView,
    list_href: String,
    self_href: String,
    disable_href: String,
    enable_href: String,
    secret_href: String,
    delete_href: String,
}

/// Renders the page of `c`; `form` holds the typed values and errors after a failed edit.
pub(super) fn page<G: Grant>(
    app: &App,
    jar: CookieJar,
    live: &Live,
    auth: &Authorized<G>,
    c: &Client,
    form: Option<FormView>,
) -> Response {
    let slug = auth.tenant().slug.as_str();
    let at = |rest: &str| tenant_path(app, slug, &client_page(&c.client_id, rest));
    let form = form.unwrap_or_else(|| FormView {
        fields: Fields::from(c),
        errors: Errors::default(),
        editing: true,
    });
    let status = form.status();
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = ClientPage {
        chrome: chrome(app, live, auth, token, "clients"),
        base: crate::web::console::base_path(app),
        name: c.name.clone(),
        client_id: c.client_id.clone(),
        kind: form::kind_name(c.kind),
        status: c.status.as_str(),
        created: when(c.created_at),
        active: c.is_active(),
        confidential: c.kind == ClientKind::Confidential,
        write: forms::may::<ClientsWrite, G>(live, auth),
        form,
        list_href: tenant_path(app, slug, "clients"),
        self_href: at(""),
        disable_href: at("disable"),
        enable_href: at("enable"),
        secret_href: at("secret"),
        delete_href: at("delete"),
    };
    (jar, render(status, &page)).into_response()
}

/// `GET clients/{client_id}`.
pub async fn show(
    State(app): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
) -> Response {
    let here = client_page(&client_id, "");
    let (live, auth) =
        or_page!(forms::open::<ClientsRead>(&app, &jar, &slug, &here, &ctx, &req.0).await);
    match load(&app, &live, &auth, &client_id).await {
        Ok(c) => page(&app, jar, &live, &auth, &c, None),
        Err(e) => failure(&app, &e, &req.0),
    }
}

/// `POST clients/{client_id}`: saves the edit form. Only what differs from the stored client
/// is sent (the audit event names what changed); a rule the result breaks is shown next to
/// its field (422) with the values as typed.
pub async fn edit(
    State(app): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let here = client_page(&client_id, "");
    let (mut fields, token) = form::parse(&body);
    let (live, auth) = or_page!(
        forms::submit::<ClientsWrite>(&app, &jar, &slug, &here, &ctx, &req.0, token.as_deref(),)
            .await
    );
    let client = match load(&app, &live, &auth, &client_id).await {
        Ok(c) => c,
        Err(e) => return failure(&app, &e, &req.0),
    };
    // The type is not part of the edit form (it is fixed at registration).
    fields.client_type = form::kind_name(client.kind).into();
    let again = |errors: Errors, fields: Fields| {
        let form = FormView {
            fields,
            errors,
            editing: true,
        };
        page(&app, jar.clone(), &live, &auth, &client, Some(form))
    };
    let changes = match fields.changes(&client) {
        Ok(ch) => ch,
        Err(errors) => return again(errors, fields),
    };
    if form::is_empty(&changes) {
        return forms::done(&app, &slug, &here);
    }
    match clients::update(&app, &auth, &client_id, &changes, None).await {
        Ok(_) => forms::done(&app, &slug, &here),
        Err(e) => match Errors::from_service(e) {
            Ok(errors) => again(errors, fields),
            Err(e) => failure(&app, &e, &req.0),
        },
    }
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    pub(super) csrf: Option<String>,
}

/// `POST clients/{client_id}/disable`: the client stops at once, with its tokens and codes.
pub async fn disable(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    set_status(state, path, req, ctx, jar, form, Status::Disabled).await
}

/// `POST clients/{client_id}/enable`.
pub async fn enable(
    state: State<AppState>,
    path: Path<(String, String)>,
    req: Extension<RequestId>,
    ctx: RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    set_status(state, path, req, ctx, jar, form, Status::Active).await
}

async fn set_status(
    State(app): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
    status: Status,
) -> Response {
    let here = client_page(&client_id, "");
    let token = form.ok().and_then(|Form(f)| f.csrf);
    let (live, auth) = or_page!(
        forms::submit::<ClientsWrite>(&app, &jar, &slug, &here, &ctx, &req.0, token.as_deref(),)
            .await
    );
    if let Err(e) = load(&app, &live, &auth, &client_id).await {
        return failure(&app, &e, &req.0);
    }
    let none = ClientChanges::default();
    match clients::update(&app, &auth, &client_id, &none, Some(status)).await {
        Ok(_) => forms::done(&app, &slug, &here),
        Err(e) => failure(&app, &e, &req.0),
    }
}
