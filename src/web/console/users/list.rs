//! `GET /console/t/{slug}/users`: the tenant's users, searched by the start of the email
//! address, a page at a time (the management API's use case, `service::manage::users::list`);
//! each email links to the user's page, and callers who may create users get the link to.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::Error;
use crate::service::authz::grant::{UsersRead, UsersWrite};
use crate::service::manage::PageRequest;
use crate::service::manage::users::{self, ListFilter};
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use crate::web::console::pages::{Chrome, chrome, when};
use crate::web::console::{base_path, failure, forms, render, tenant_path};

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    email: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

struct Row {
    href: String,
    email: String,
    name: String,
    status: &'static str,
    role: String,
    created: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    chrome: Chrome,
    base: String,
    email: String,
    error: Option<String>,
    create: Option<String>,
    rows: Vec<Row>,
    next: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<UsersQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (live, auth) =
        or_page!(forms::open::<UsersRead>(&app, &jar, &slug, "users", &ctx, &req.0).await);
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let email = q.email.clone().unwrap_or_default();
    let (limit, mut error) = match forms::limit(q.limit.as_deref()) {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    let page = PageRequest {
        limit,
        cursor: q.cursor.clone(),
    };
    let filter = ListFilter {
        email: q.email.clone(),
        status: None,
    };
    let (rows, next) = if error.is_some() {
        (Vec::new(), None)
    } else {
        match users::list(&app, &auth, &page, &filter).await {
            Ok(p) => (p.items, p.next_cursor),
            // Bad input is shown in the page, next to the search field.
            Err(Error::Invalid(m)) => {
                error = Some(m);
                (Vec::new(), None)
            }
            Err(e) => return failure(&app, &e, &req.0),
        }
    };
    let next = next.map(|c| forms::next_link(&[("email", &email)], &page, &c));
    let rows = rows
        .into_iter()
        .map(|a| Row {
            href: tenant_path(&app, &slug, &super::user_page(a.user.id)),
            email: a.user.email.to_string(),
            name: a.user.profile.name.clone().unwrap_or_default(),
            status: a.user.status.as_str(),
            role: a.role.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
            created: when(a.user.created_at),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = UsersPage {
        chrome: chrome(&app, &live, &auth, token, "users"),
        base: base_path(&app),
        email,
        error,
        create: forms::may::<UsersWrite, UsersRead>(&live, &auth)
            .then(|| tenant_path(&app, &slug, "users/new")),
        rows,
        next,
    };
    (jar, render(status, &page)).into_response()
}
