//! `/console/t/{slug}/clients…`: a tenant's OAuth clients through the management API's use
//! cases (`service::manage::clients`): the list a page at a time (`GET clients`), registration
//! with every option of `NewClient` and the secret shown once (`register`), the detail page
//! with edit, disable/enable (`detail`), and the credential changes that need a recent
//! authentication, rotating the secret and deleting (`sensitive`). The admin console's own
//! built-in client is never listed and every page about it is the not-found page.

mod detail;
mod form;
mod register;
mod sensitive;

use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::client::{AuthMethod, Client, GrantType, SigningAlg};
use crate::service::authz::grant::{ClientsRead, ClientsWrite};
use crate::service::authz::{self, Authorized, Grant};
use crate::service::console::session::Live;
use crate::service::manage::PageRequest;
use crate::service::manage::clients;
use crate::service::{Error, console};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::forms;
use super::pages::{Chrome, chrome, when};
use super::{failure, render, tenant_path};
use form::{Errors, Fields};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/t/{slug}/clients", get(list))
        .route(
            "/console/t/{slug}/clients/new",
            get(register::new).post(register::create),
        )
        .route(
            "/console/t/{slug}/clients/{client_id}",
            get(detail::show).post(detail::edit),
        )
        .route(
            "/console/t/{slug}/clients/{client_id}/disable",
            post(detail::disable),
        )
        .route(
            "/console/t/{slug}/clients/{client_id}/enable",
            post(detail::enable),
        )
        .route(
            "/console/t/{slug}/clients/{client_id}/secret",
            post(sensitive::rotate),
        )
        .route(
            "/console/t/{slug}/clients/{client_id}/delete",
            get(sensitive::confirm).post(sensitive::delete),
        )
}

/// The client form as a page shows it: values, errors, and whether it edits a client.
pub struct FormView {
    pub fields: Fields,
    pub errors: Errors,
    pub editing: bool,
}

impl FormView {
    pub fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    pub fn granted(&self, g: &str) -> bool {
        self.fields.grant_types.iter().any(|x| x == g)
    }

    pub fn grant_choices(&self) -> Vec<&'static str> {
        GrantType::ALL.iter().map(|g| g.as_str()).collect()
    }

    /// The methods the service supports; a new client may leave it to its type's default.
    pub fn auth_methods(&self) -> Vec<(&'static str, &'static str)> {
        let mut v = Vec::new();
        if !self.editing {
            v.push(("", "default for the type (client_secret_basic, or none)"));
        }
        for m in [
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::None,
        ] {
            v.push((m.as_str(), m.as_str()));
        }
        v
    }

    pub fn algorithms(&self) -> Vec<&'static str> {
        SigningAlg::ALL.iter().map(|a| a.as_str()).collect()
    }

    pub fn lines<'a>(&self, s: &'a str) -> Vec<&'a str> {
        s.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    pub fn yes(&self, b: &bool) -> &'static str {
        if *b { "yes" } else { "no" }
    }

    /// 422 for a field's error, 409 for a conflict shown above the form.
    pub fn status(&self) -> StatusCode {
        match (self.errors.fields.is_empty(), self.errors.conflict) {
            (false, _) => StatusCode::UNPROCESSABLE_ENTITY,
            (true, true) => StatusCode::CONFLICT,
            (true, false) if self.errors.form.is_some() => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::OK,
        }
    }
}

/// The client `client_id` of the tenant of `auth`; the built-in console client is not one
/// (its id is reserved in every tenant, so the answer is the same for every caller).
async fn load<G: Grant>(
    app: &App,
    live: &Live,
    auth: &Authorized<G>,
    client_id: &str,
) -> Result<Client, Error> {
    if console::is_builtin(client_id) {
        return Err(Error::NotFound("client"));
    }
    let read =
        authz::authorize::<ClientsRead>(&live.principal, Some(auth.tenant().clone()), auth.ctx())?;
    clients::get(app, &read, client_id).await
}

/// A client's page under the tenant of the console.
fn client_page(client_id: &str, rest: &str) -> String {
    if rest.is_empty() {
        format!("clients/{client_id}")
    } else {
        format!("clients/{client_id}/{rest}")
    }
}

#[derive(Deserialize, Default)]
pub struct ClientsQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

struct Row {
    name: String,
    client_id: String,
    kind: &'static str,
    status: &'static str,
    created: String,
    href: String,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage {
    chrome: Chrome,
    base: String,
    write: bool,
    new_href: String,
    error: Option<String>,
    rows: Vec<Row>,
    next: Option<String>,
}

/// `GET /console/t/{slug}/clients`: the registered clients, oldest first, a page at a time.
pub async fn list(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<ClientsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (live, auth) =
        or_page!(forms::open::<ClientsRead>(&app, &jar, &slug, "clients", &ctx, &req.0).await);
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (limit, mut error) = match forms::limit(q.limit.as_deref()) {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    let page = PageRequest {
        limit,
        cursor: q.cursor.clone(),
    };
    let (rows, next) = if error.is_some() {
        (Vec::new(), None)
    } else {
        match clients::list(&app, &auth, &page).await {
            Ok(p) => (p.items, p.next_cursor),
            Err(Error::Invalid(m)) => {
                error = Some(m);
                (Vec::new(), None)
            }
            Err(e) => return failure(&app, &e, &req.0),
        }
    };
    let rows = rows
        .into_iter()
        .map(|c| Row {
            href: tenant_path(&app, &slug, &client_page(&c.client_id, "")),
            kind: form::kind_name(c.kind),
            status: c.status.as_str(),
            created: when(c.created_at),
            name: c.name,
            client_id: c.client_id,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = ClientsPage {
        chrome: chrome(&app, &live, &auth, token, "clients"),
        base: super::base_path(&app),
        write: forms::may::<ClientsWrite, ClientsRead>(&live, &auth),
        new_href: tenant_path(&app, &slug, "clients/new"),
        error,
        rows,
        next: next.map(|c| forms::next_link(&[], &page, &c)),
    };
    (jar, render(status, &page)).into_response()
}
