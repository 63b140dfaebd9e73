//! `/console/t/{slug}/audit`: the audit trail filtered by type, actor and time range, a page
//! at a time (keyset cursor), with an NDJSON export of the same filtered range
//! (`/audit/export`). The management API's use cases (`service::manage::audit`): a tenant's
//! events on a tenant's console; on the platform console, every tenant's for platform callers.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::service::Error;
use crate::service::audit::Of;
use crate::service::authz::grant::AuditRead;
use crate::service::authz::{self, Authorized};
use crate::service::console::session::Live;
use crate::service::manage::{PageRequest, audit};
use crate::store::audit::AuditFilter;
use crate::web::extract::RequestContext;
use crate::web::middleware::RequestId;
use crate::web::ui::csrf;

use super::pages::{Chrome, chrome, signed_in, when};
use super::session::authorize;
use super::{failure, render, tenant_path};

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    tenant: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// The longest filter value accepted (as the API).
const LONGEST: usize = 512;

/// A field's name and what is wrong with it.
type FieldError = (&'static str, String);

/// `2026-01-31T12:00` or `2026-01-31T12:00:59` (an `<input type="datetime-local">`, read as
/// UTC), or Unix seconds.
fn instant(name: &'static str, v: Option<&str>) -> Result<Option<i64>, FieldError> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        (
            name,
            format!("{name} must be a date and time (YYYY-MM-DDTHH:MM, UTC) or Unix seconds"),
        )
    };
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().map(Some).map_err(|_| bad());
    }
    let (date, clock) = v.split_once(['T', ' ']).ok_or_else(bad)?;
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let c: Vec<&str> = clock.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&c.len()) {
        return Err(bad());
    }
    let month =
        time::Month::try_from(u8::try_from(num(d[1])?).map_err(|_| bad())?).map_err(|_| bad())?;
    let year = i32::try_from(num(d[0])?).map_err(|_| bad())?;
    let day = u8::try_from(num(d[2])?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let hms = |s: &str| num(s).and_then(|n| u8::try_from(n).map_err(|_| bad()));
    let sec = if c.len() == 3 { hms(c[2])? } else { 0 };
    let t = time::Time::from_hms(hms(c[0])?, hms(c[1])?, sec).map_err(|_| bad())?;
    Ok(Some(date.with_time(t).assume_utc().unix_timestamp()))
}

impl AuditQuery {
    fn split(&self) -> Result<(AuditFilter, PageRequest), FieldError> {
        for (name, v) in [("type", &self.event_type), ("actor", &self.actor)] {
            if v.as_ref().is_some_and(|v| v.len() > LONGEST) {
                return Err((name, format!("{name} is longer than {LONGEST} bytes")));
            }
        }
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let limit = super::forms::limit(self.limit.as_deref()).map_err(|m| ("limit", m))?;
        Ok((
            AuditFilter {
                event_type: text(&self.event_type),
                actor: text(&self.actor),
                target: None,
                since: instant("since", self.since.as_deref())?,
                until: instant("until", self.until.as_deref())?,
            },
            PageRequest {
                limit,
                cursor: self.cursor.clone().filter(|c| !c.is_empty()),
            },
        ))
    }

    /// The query string of these filters (without the cursor), for links.
    fn filters(&self) -> url::form_urlencoded::Serializer<'static, String> {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("type", &self.event_type),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
            ("tenant", &self.tenant),
            ("limit", &self.limit),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        s
    }
}

struct Line {
    at: String,
    kind: String,
    actor: String,
    target: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    base: String,
    platform: bool,
    event_type: String,
    actor: String,
    since: String,
    until: String,
    tenant: String,
    error: Option<FieldError>,
    rows: Vec<Line>,
    next: Option<String>,
    export: String,
}

/// Whose events the page shows: the tenant's; on the platform console, the installation's
/// (or one tenant's, `?tenant=`) for platform callers.
async fn scope(
    app: &App,
    live: &Live,
    auth: &Authorized<AuditRead>,
    tenant: Option<&str>,
) -> Result<(bool, Of), Error> {
    if auth.tenant().slug.is_platform() && live.principal.is_platform() {
        let all = authz::authorize_platform::<AuditRead>(&live.principal, auth.ctx())?;
        let tenant = tenant.map(str::trim).filter(|s| !s.is_empty());
        return Ok((true, audit::of_installation(app, &all, tenant).await?));
    }
    Ok((false, audit::of_tenant(auth)))
}

pub async fn list(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let live = or_page!(signed_in(&app, &jar, &slug, "audit", &req.0).await);
    let auth = or_page!(authorize::<AuditRead>(&app, &live, &slug, &ctx, &req.0).await);
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (platform, of) = match scope(&app, &live, &auth, q.tenant.as_deref()).await {
        Ok(x) => x,
        Err(Error::NotFound(_)) if q.tenant.is_some() => (
            true,
            // An unknown tenant filter is a field error, not a missing page.
            Of::Installation(None),
        ),
        Err(e) => return failure(&app, &e, &req.0),
    };
    let mut error = None;
    if platform
        && matches!(of, Of::Installation(None))
        && q.tenant.as_deref().is_some_and(|t| !t.trim().is_empty())
    {
        error = Some((
            "tenant",
            "tenant: there is no tenant with this slug".to_owned(),
        ));
    }
    let (mut rows, mut next) = (Vec::new(), None);
    if error.is_none() {
        match q.split() {
            Err(e) => error = Some(e),
            Ok((filter, page)) => match audit::page(&app, &of, &filter, &page).await {
                Ok(p) => {
                    rows = p.items;
                    next = p.next_cursor;
                }
                Err(Error::Invalid(m)) => error = Some(("cursor", m)),
                Err(e) => return failure(&app, &e, &req.0),
            },
        }
    }
    let filters = q.filters().finish();
    let next = next.map(|c| {
        let mut s = q.filters();
        s.append_pair("cursor", &c);
        format!("?{}", s.finish())
    });
    let export = format!(
        "{}{}{filters}",
        tenant_path(&app, &slug, "audit/export"),
        if filters.is_empty() { "" } else { "?" }
    );
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let rows = rows
        .into_iter()
        .map(|e| Line {
            at: when(e.row.created_at),
            kind: e.row.event_type,
            actor: e.row.actor.unwrap_or_default(),
            target: e.row.target.unwrap_or_default(),
            ip: e.row.ip.unwrap_or_default(),
        })
        .collect();
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let (jar, token) = csrf::issue(jar, &app.config, auth.tenant());
    let page = AuditPage {
        chrome: chrome(&app, &live, &auth, token, "audit"),
        base: super::base_path(&app),
        platform,
        event_type: value(&q.event_type),
        actor: value(&q.actor),
        since: value(&q.since),
        until: value(&q.until),
        tenant: value(&q.tenant),
        error,
        rows,
        next,
        export,
    };
    (jar, render(status, &page)).into_response()
}

/// `GET /console/t/{slug}/audit/export`: the whole filtered range as JSON lines, the same
/// export as the API's (`Accept: application/x-ndjson`), read a page at a time.
pub async fn export(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let live = or_page!(signed_in(&app, &jar, &slug, "audit", &req.0).await);
    let auth = or_page!(authorize::<AuditRead>(&app, &live, &slug, &ctx, &req.0).await);
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let back = Some(("Back to the audit trail", tenant_path(&app, &slug, "audit")));
    let refuse = |m: String| {
        super::message(
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot export",
            &m,
            &req.0,
            back.clone(),
        )
    };
    let of = match scope(&app, &live, &auth, q.tenant.as_deref()).await {
        Ok((_, of)) => of,
        Err(Error::NotFound(_)) => {
            return refuse("tenant: there is no tenant with this slug".into());
        }
        Err(e) => return failure(&app, &e, &req.0),
    };
    let (filter, page) = match q.split() {
        Ok(x) => x,
        Err((_, m)) => return refuse(m),
    };
    // Checked before the first byte: a bad cursor is a page, not a broken stream.
    let after = match page.checked() {
        Ok((_, after)) => after.map(str::to_owned),
        Err(Error::Invalid(m)) => return refuse(m),
        Err(e) => return failure(&app, &e, &req.0),
    };
    let mut res = crate::web::api::audit::ndjson(audit::export(app.clone(), of, filter, after))
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::web::api::audit::NDJSON),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit.ndjson\""),
    );
    super::secure(res)
}
