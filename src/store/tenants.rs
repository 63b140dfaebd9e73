//! Tenants: the root of every tenant-owned row (not itself tenant-scoped). Every write here
//! announces itself to the other nodes' tenant caches (`notify.rs`), inside its transaction.

use sqlx::FromRow;

use super::notify::Invalidation;
use super::{Error, Result, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;
use crate::domain::tenant::{MfaPolicy, Registration, Slug, Status, Tenant};

#[derive(FromRow)]
struct TenantRow {
    id: String,
    slug: String,
    display_name: String,
    status: String,
    mfa: String,
    registration: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = Error;
    fn try_from(r: TenantRow) -> Result<Tenant> {
        let corrupt = |what: &str| Error::Corrupt(format!("tenants.{what}"));
        Ok(Tenant {
            id: r.id.parse().map_err(|_| corrupt("id"))?,
            slug: Slug::parse(&r.slug).map_err(|_| corrupt("slug"))?,
            display_name: r.display_name,
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            mfa: MfaPolicy::parse(&r.mfa).ok_or_else(|| corrupt("mfa"))?,
            registration: Registration::parse(&r.registration)
                .ok_or_else(|| corrupt("registration"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str = "id, slug, display_name, status, mfa, registration, created_at, updated_at";

impl Tx {
    pub async fn tenant_insert(
        &mut self,
        slug: &Slug,
        display_name: &str,
        now: UnixTime,
    ) -> Result<Tenant> {
        const SQL: &str = "INSERT INTO tenants (id, slug, display_name, status, created_at, updated_at) \
                           VALUES ($1, $2, $3, 'active', $4, $4)";
        let id = TenantId::new();
        on_tx!(self, |c| sqlx::query(SQL)
            .bind(id.to_string())
            .bind(slug.as_str())
            .bind(display_name)
            .bind(now)
            .execute(&mut **c)
            .await
            .map_err(|e| Error::conflict_as(e, "tenant slug"))?
            .rows_affected());
        // Other nodes may hold this slug as "no such tenant".
        self.notify(&Invalidation::Tenant(id)).await?;
        Ok(Tenant {
            id,
            slug: slug.clone(),
            display_name: display_name.to_owned(),
            status: Status::Active,
            mfa: MfaPolicy::Optional,
            registration: Registration::Closed,
            created_at: now,
            updated_at: now,
        })
    }

    /// The tenant with this slug, whatever its status (callers decide what disabled means).
    pub async fn tenant_by_slug(&mut self, slug: &str) -> Result<Option<Tenant>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1"));
        let row: Option<TenantRow> = on_tx!(self, |c| sqlx::query_as(sql)
            .bind(slug)
            .fetch_optional(&mut **c)
            .await?);
        row.map(Tenant::try_from).transpose()
    }

    /// The tenant with this id, whatever its status (a credential names its tenant by id).
    pub async fn tenant_by_id(&mut self, id: &str) -> Result<Option<Tenant>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"));
        let row: Option<TenantRow> = on_tx!(self, |c| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&mut **c)
            .await?);
        row.map(Tenant::try_from).transpose()
    }

    /// One page of tenants in creation order (ids are UUIDv7, so their text sorts by time),
    /// after the tenant `after` (a keyset cursor: stable under inserts).
    pub async fn tenants_page(&mut self, after: Option<&str>, limit: i64) -> Result<Vec<Tenant>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tenants WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
        ));
        let rows: Vec<TenantRow> = on_tx!(self, |c| sqlx::query_as(sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut **c)
            .await?);
        rows.into_iter().map(Tenant::try_from).collect()
    }

    pub async fn tenants_list(&mut self) -> Result<Vec<Tenant>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM tenants ORDER BY slug"));
        let rows: Vec<TenantRow> =
            on_tx!(self, |c| sqlx::query_as(sql).fetch_all(&mut **c).await?);
        rows.into_iter().map(Tenant::try_from).collect()
    }

    /// Sets the status; `NotFound` if no such tenant.
    pub async fn tenant_set_status(
        &mut self,
        slug: &Slug,
        status: Status,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE tenants SET status = $2, updated_at = $3 WHERE slug = $1 RETURNING id";
        let id: Option<String> = on_tx!(self, |c| sqlx::query_scalar(SQL)
            .bind(slug.as_str())
            .bind(status.as_str())
            .bind(now)
            .fetch_optional(&mut **c)
            .await?);
        self.tenant_changed(id).await
    }

    pub async fn tenant_set_name(
        &mut self,
        slug: &Slug,
        display_name: &str,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE tenants SET display_name = $2, updated_at = $3 WHERE slug = $1 RETURNING id";
        let id: Option<String> = on_tx!(self, |c| sqlx::query_scalar(SQL)
            .bind(slug.as_str())
            .bind(display_name)
            .bind(now)
            .fetch_optional(&mut **c)
            .await?);
        self.tenant_changed(id).await
    }

    pub async fn tenant_set_mfa(
        &mut self,
        slug: &Slug,
        policy: MfaPolicy,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE tenants SET mfa = $2, updated_at = $3 WHERE slug = $1 RETURNING id";
        let id: Option<String> = on_tx!(self, |c| sqlx::query_scalar(SQL)
            .bind(slug.as_str())
            .bind(policy.as_str())
            .bind(now)
            .fetch_optional(&mut **c)
            .await?);
        self.tenant_changed(id).await
    }

    /// Opens or closes self-registration (issue 13); `NotFound` if no such tenant.
    pub async fn tenant_set_registration(
        &mut self,
        slug: &Slug,
        registration: Registration,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE tenants SET registration = $2, updated_at = $3 WHERE slug = $1 RETURNING id";
        let id: Option<String> = on_tx!(self, |c| sqlx::query_scalar(SQL)
            .bind(slug.as_str())
            .bind(registration.as_str())
            .bind(now)
            .fetch_optional(&mut **c)
            .await?);
        self.tenant_changed(id).await
    }

    /// After an update that matched by slug: `NotFound` if no row did, else the notification
    /// for the tenant's id (what the caches of other nodes are invalidated by).
    async fn tenant_changed(&mut self, id: Option<String>) -> Result<()> {
        let id: TenantId = id
            .ok_or(Error::NotFound)?
            .parse()
            .map_err(|_| Error::Corrupt("tenants.id".into()))?;
        self.notify(&Invalidation::Tenant(id)).await
    }
}
