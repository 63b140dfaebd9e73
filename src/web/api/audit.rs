//! `/api/v1/tenants/{slug}/audit` and `/api/v1/audit` (platform): the audit trail, filtered,
//! in creation order. JSON pages by default; with `Accept: application/x-ndjson` the whole
//! filtered range streams as JSON lines, read from the database a page at a time, so memory
//! stays flat however many events there are.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Caller, Json, Query};
use super::problem::Problem;
use crate::app::AppState;
use crate::service::audit::Of;
use crate::service::authz::{self, grant};
use crate::service::manage::{PageRequest, audit};
use crate::store::audit::{AuditEvent, AuditFilter};

pub const NDJSON: &str = "application/x-ndjson";

/// One audit event.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// e.g. `client.created`, `login.failed`.
    #[serde(rename = "type")]
    #[schema(example = "client.created")]
    pub event_type: String,
    /// The tenant's id; `null` for installation-wide events.
    pub tenant: Option<String>,
    /// Who did it: `user:<id>`, `api_token:<id>`, `platform/user:<id>`, `local:<user>`, `cli:…`.
    pub actor: Option<String>,
    /// What it was done to, e.g. `client:<client_id>`.
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Details; `via` names the surface of a change (`api`, `cli`).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: i64,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> AuditEventView {
        let r = e.row;
        let metadata =
            serde_json::from_str(&r.metadata).unwrap_or(serde_json::Value::String(r.metadata));
        AuditEventView {
            id: e.id,
            event_type: r.event_type,
            tenant: r.tenant_id.map(|t| t.to_string()),
            actor: r.actor,
            target: r.target,
            ip: r.ip,
            user_agent: r.user_agent,
            request_id: r.request_id,
            metadata,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventView>,
    pub next_cursor: Option<String>,
}

/// Filters (all optional, combined with AND) and the page.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// The event type, e.g. `client.created`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// The actor exactly as recorded, e.g. `api_token:<id>`.
    pub actor: Option<String>,
    /// The target exactly as recorded, e.g. `client:<client_id>`.
    pub target: Option<String>,
    /// Events at or after this time (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub since: Option<String>,
    /// Events before this time (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub until: Option<String>,
    /// Items per page, 1 to 500 (default 50); ignored by an NDJSON export.
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (an NDJSON export starts after it).
    pub cursor: Option<String>,
}

/// The platform's filters: those of a tenant, and the tenant.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct TenantFilter {
    /// Only this tenant's events (its slug).
    pub tenant: Option<String>,
}

const LONGEST: usize = 512;

impl AuditParams {
    fn split(self) -> Result<(AuditFilter, PageRequest), Problem> {
        for (name, v) in [
            ("type", &self.event_type),
            ("actor", &self.actor),
            ("target", &self.target),
        ] {
            if v.as_ref().is_some_and(|v| v.len() > LONGEST) {
                return Err(Problem::invalid(format!(
                    "{name} is longer than {LONGEST} bytes"
                )));
            }
        }
        let filter = AuditFilter {
            since: number("since", self.since.as_deref())?,
            until: number("until", self.until.as_deref())?,
            event_type: self.event_type,
            actor: self.actor,
            target: self.target,
        };
        let page = PageRequest {
            limit: number("limit", self.limit.as_deref())?,
            cursor: self.cursor,
        };
        Ok((filter, page))
    }
}

/// A numeric parameter, parsed here so that a bad one is a 422 naming it (an empty one too:
/// `?limit=` is not a number, as the document says; leave a parameter out to mean "none").
fn number<T: std::str::FromStr>(name: &str, v: Option<&str>) -> Result<Option<T>, Problem> {
    v.map(|v| {
        v.parse()
            .map_err(|_| Problem::invalid(format!("{name} must be a whole number, not {v:?}")))
    })
    .transpose()
}

/// The tenant's audit events, oldest first.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/audit", tag = "audit",
    params(("slug" = String, Path, description = "The tenant's slug"), AuditParams),
    responses((status = 200, description = "A page of events (application/json), or with `Accept: application/x-ndjson` every matching event, one JSON object a line",
        content((AuditPage = "application/json"), (AuditEventView = "application/x-ndjson")))))]
pub async fn tenant(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(q): Query<AuditParams>,
) -> Result<Response, Problem> {
    let auth =
        authz::authorize_slug::<grant::AuditRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let (filter, page) = q.split()?;
    answer(app, audit::of_tenant(&auth), filter, page, &headers).await
}

/// Every tenant's audit events and the installation's (platform callers), oldest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditParams, TenantFilter),
    responses((status = 200, description = "A page of events (application/json), or with `Accept: application/x-ndjson` every matching event, one JSON object a line",
        content((AuditPage = "application/json"), (AuditEventView = "application/x-ndjson")))))]
pub async fn installation(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<AuditParams>,
    Query(t): Query<TenantFilter>,
) -> Result<Response, Problem> {
    let auth = authz::authorize_platform::<grant::AuditRead>(&caller.principal, &caller.ctx)?;
    let (filter, page) = q.split()?;
    let of = audit::of_installation(&app, &auth, t.tenant.as_deref()).await?;
    answer(app, of, filter, page, &headers).await
}

fn wants_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(NDJSON))
        })
}

async fn answer(
    app: AppState,
    of: Of,
    filter: AuditFilter,
    page: PageRequest,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    if !wants_ndjson(headers) {
        let page = audit::page(&app, &of, &filter, &page).await?;
        return Ok(Json(AuditPage {
            items: page.items.into_iter().map(AuditEventView::from).collect(),
            next_cursor: page.next_cursor,
        })
        .into_response());
    }
    // Checked before the first byte: a bad cursor is a 422, not a broken stream.
    let (_, after) = page.checked()?;
    let after = after.map(str::to_owned);
    let mut res = ndjson(audit::export(app, of, filter, after)).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(res)
}

/// The body of an export as JSON lines, fed page by page by a task: two pages in flight at
/// most, so the reader waits while the client is slow (constant memory however long). Shared
/// with the console's export link.
pub(crate) fn ndjson(mut export: crate::service::audit::Export) -> Body {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let chunk = match export.next_page().await {
                Ok(None) => return,
                Ok(Some(page)) => lines(page),
                Err(e) => {
                    // Headers are gone: the client sees the body end without its last
                    // chunk (an aborted transfer), never a silently short export.
                    tracing::warn!(error = %e, "audit export failed");
                    Err(std::io::Error::other("the audit export failed"))
                }
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return; // the client went away, or we told it we failed
            }
        }
    });
    Body::new(Lines(rx))
}

/// One page as JSON lines (the objects rendered by the store with this module's field
/// names: see `store::audit::AuditChunk`).
fn lines(page: String) -> std::io::Result<Bytes> {
    let mut buf = page.into_bytes();
    buf.push(b'\n');
    Ok(Bytes::from(buf))
}

/// A response body fed by the export task, chunk by chunk.
struct Lines(mpsc::Receiver<std::io::Result<Bytes>>);

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}
