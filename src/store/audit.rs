//! The audit trail table. Written in the same transaction as the change it records.

use sqlx::FromRow;

use super::scope::TenantScope;
use super::{Result, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;

/// One audit row as written and read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub event_type: String,
    pub tenant_id: Option<TenantId>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object.
    pub metadata: String,
    pub created_at: UnixTime,
}

#[derive(FromRow)]
struct Row {
    event_type: String,
    tenant_id: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    metadata: String,
    created_at: i64,
}

impl Tx {
    pub async fn audit_insert(&mut self, e: &AuditRow) -> Result<()> {
        const SQL: &str = "INSERT INTO audit_events (id, tenant_id, event_type, actor, target, ip, user_agent, \
                           request_id, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_tx!(self, |c| sqlx::query(SQL)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(e.tenant_id.map(|t| t.to_string()))
            .bind(&e.event_type)
            .bind(&e.actor)
            .bind(&e.target)
            .bind(&e.ip)
            .bind(&e.user_agent)
            .bind(&e.request_id)
            .bind(&e.metadata)
            .bind(e.created_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }
}

const SELECT: &str = "SELECT event_type, tenant_id, actor, target, ip, user_agent, request_id, metadata, created_at \
                      FROM audit_events";

impl TenantScope<'_> {
    /// Recent events of this tenant, newest first.
    pub async fn audit_list(&mut self, limit: i64) -> Result<Vec<AuditRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ));
        let tenant = self.tenant_id();
        let rows: Vec<Row> = on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(limit)
            .fetch_all(&mut **c)
            .await?);
        Ok(rows.into_iter().map(Row::into_audit).collect())
    }
}

impl Tx {
    /// Recent installation-wide events (no tenant), newest first.
    pub async fn audit_list_global(&mut self, limit: i64) -> Result<Vec<AuditRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id IS NULL ORDER BY created_at DESC, id DESC LIMIT $1"
        ));
        let rows: Vec<Row> = on_tx!(self, |c| sqlx::query_as(sql)
            .bind(limit)
            .fetch_all(&mut **c)
            .await?);
        Ok(rows.into_iter().map(Row::into_audit).collect())
    }
}

impl Row {
    fn into_audit(self) -> AuditRow {
        AuditRow {
            event_type: self.event_type,
            tenant_id: self.tenant_id.and_then(|t| t.parse().ok()),
            actor: self.actor,
            target: self.target,
            ip: self.ip,
            user_agent: self.user_agent,
            request_id: self.request_id,
            metadata: self.metadata,
            created_at: self.created_at,
        }
    }
}

/// Which events a page or an export holds; `None` matches every event. `since` is inclusive,
/// `until` exclusive (Unix seconds).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub event_type: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A stored event with its id (UUIDv7: id order is creation order, the keyset of pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub row: AuditRow,
}

#[derive(FromRow)]
struct IdRow {
    id: String,
    #[sqlx(flatten)]
    row: Row,
}

const SELECT_ID: &str = "SELECT id, event_type, tenant_id, actor, target, ip, user_agent, \
                         request_id, metadata, created_at FROM audit_events";
/// The filter after the scope condition: the cursor is always bound ("" is before every id)
/// and so are the time bounds, so each page is one range scan of an index. A type or actor
/// the caller names is a plain equality, which the planner matches with the
/// `(tenant_id, event_type, id)` and `(tenant_id, actor, id)` indexes (migration 0014); one
/// not named is `$n IS NULL` (true). The single shape `($5 IS NULL OR event_type = $5)` hid
/// the column from the planner: a rare type scanned every event of the tenant (~180 ms of
/// CPU over a million events on SQLite, `make bench-console`).
fn filter(f: &AuditFilter) -> String {
    let eq = |named: bool, column: &str, n: u8| {
        if named {
            format!("{column} = ${n}")
        } else {
            format!("${n} IS NULL")
        }
    };
    format!(
        "id > $2 AND created_at >= $3 AND created_at < $4 AND {} AND {} AND {} \
         ORDER BY id LIMIT $8",
        eq(f.event_type.is_some(), "event_type", 5),
        eq(f.actor.is_some(), "actor", 6),
        eq(f.target.is_some(), "target", 7)
    )
}

/// The platform's scope: every tenant's and the installation's events, or one tenant's.
fn global_scope(tenant: Option<TenantId>) -> &'static str {
    match tenant {
        Some(_) => "tenant_id = $1",
        None => "$1 IS NULL",
    }
}

impl TenantScope<'_> {
    /// Up to `limit` of this tenant's events matching `f` after the event id `after`, oldest
    /// first.
    pub async fn audit_page(
        &mut self,
        f: &AuditFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let sql = format!("{SELECT_ID} WHERE tenant_id = $1 AND {}", filter(f));
        let tenant = self.tenant_id();
        filtered_page(self.tx, sql, Some(tenant), f, after, limit).await
    }
}

impl Tx {
    /// Up to `limit` events of every tenant and of the installation (or of the tenant with id
    /// `tenant` only) matching `f` after the event id `after`, oldest first (platform callers).
    pub async fn audit_page_global(
        &mut self,
        tenant: Option<TenantId>,
        f: &AuditFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let sql = format!(
            "{SELECT_ID} WHERE {} AND {}",
            global_scope(tenant),
            filter(f)
        );
        let tenant = tenant.map(|t| t.to_string());
        filtered_page(self, sql, tenant, f, after, limit).await
    }
}

/// Runs a page query whose `$1` is the tenant (bound from the caller: the tenant scope's own
/// id, or the platform's optional filter) and `$2`… the [`filter`] parameters.
async fn filtered_page(
    tx: &mut Tx,
    sql: String,
    tenant: Option<String>,
    f: &AuditFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEvent>> {
    let sql = sqlx::AssertSqlSafe(sql);
    let rows: Vec<IdRow> = on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(tenant)
        .bind(after.unwrap_or(""))
        .bind(f.since.unwrap_or(i64::MIN))
        .bind(f.until.unwrap_or(i64::MAX))
        .bind(f.event_type.as_deref())
        .bind(f.actor.as_deref())
        .bind(f.target.as_deref())
        .bind(limit)
        .fetch_all(&mut **c)
        .await?);
    Ok(rows.into_iter().map(IdRow::into_event).collect())
}

impl IdRow {
    fn into_event(self) -> AuditEvent {
        AuditEvent {
            id: self.id,
            row: self.row.into_audit(),
        }
    }
}

/// A page of stored events as JSON lines rendered and joined by the database (the NDJSON
/// export): one value per page to decode instead of ten per event, and no JSON work in the
/// process, is what lets an export run at well over 100k events a second. Each object has
/// the management API's field names (`web::api::audit::AuditEventView`; a test compares the
/// two renderings).
#[derive(Clone, Debug, FromRow)]
pub struct AuditChunk {
    /// The id of the page's last event (the keyset cursor of the next page).
    pub last_id: Option<String>,
    pub count: i64,
    /// The events, oldest first, one JSON object a line, without a final newline.
    pub lines: Option<String>,
}

/// The page query around `{scope} AND {filter}`. SQLite keeps a malformed metadata text as a
/// JSON string; PostgreSQL (without a validity test before version 16) relies on every writer
/// storing `serde_json` output, as `service::audit` does.
fn chunk_sql(pg: bool, scope: &str, f: &AuditFilter) -> String {
    let filter = filter(f);
    if pg {
        format!(
            "SELECT max(id) AS last_id, count(*) AS count, \
             string_agg(line, E'\\n' ORDER BY id) AS lines FROM (\
             SELECT id, json_build_object('id', id, 'type', event_type, 'tenant', tenant_id, \
             'actor', actor, 'target', target, 'ip', ip, 'user_agent', user_agent, \
             'request_id', request_id, 'metadata', metadata::json, 'created_at', created_at)::text \
             AS line FROM audit_events WHERE {scope} AND {filter}) page"
        )
    } else {
        format!(
            "SELECT max(id) AS last_id, count(*) AS count, \
             group_concat(line, char(10) ORDER BY id) AS lines FROM (\
             SELECT id, json_object('id', id, 'type', event_type, 'tenant', tenant_id, \
             'actor', actor, 'target', target, 'ip', ip, 'user_agent', user_agent, \
             'request_id', request_id, 'metadata', json(CASE WHEN json_valid(metadata) \
             THEN metadata ELSE json_quote(metadata) END), 'created_at', created_at) AS line \
             FROM audit_events WHERE {scope} AND {filter}) page"
        )
    }
}

fn is_pg(tx: &Tx) -> bool {
    matches!(tx, Tx::Postgres(_) | Tx::PostgresConn(_))
}

impl TenantScope<'_> {
    /// As [`TenantScope::audit_page`], rendered as one chunk of JSON lines.
    pub async fn audit_chunk(
        &mut self,
        f: &AuditFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<AuditChunk> {
        let sql = sqlx::AssertSqlSafe(chunk_sql(is_pg(self.tx), "tenant_id = $1", f));
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(after.unwrap_or(""))
            .bind(f.since.unwrap_or(i64::MIN))
            .bind(f.until.unwrap_or(i64::MAX))
            .bind(f.event_type.as_deref())
            .bind(f.actor.as_deref())
            .bind(f.target.as_deref())
            .bind(limit)
            .fetch_one(&mut **c)
            .await?))
    }
}

impl Tx {
    /// As [`Tx::audit_page_global`], rendered as one chunk of JSON lines.
    pub async fn audit_chunk_global(
        &mut self,
        tenant: Option<TenantId>,
        f: &AuditFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<AuditChunk> {
        let sql = sqlx::AssertSqlSafe(chunk_sql(is_pg(self), global_scope(tenant), f));
        Ok(on_tx!(self, |c| sqlx::query_as(sql)
            .bind(tenant.map(|t| t.to_string()))
            .bind(after.unwrap_or(""))
            .bind(f.since.unwrap_or(i64::MIN))
            .bind(f.until.unwrap_or(i64::MAX))
            .bind(f.event_type.as_deref())
            .bind(f.actor.as_deref())
            .bind(f.target.as_deref())
            .bind(limit)
            .fetch_one(&mut **c)
            .await?))
    }
}
