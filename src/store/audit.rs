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
