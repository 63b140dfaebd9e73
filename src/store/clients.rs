//! OAuth clients of a tenant (tenant-scoped). List columns are stored as space-separated text
//! (redirect URIs cannot contain spaces; scopes and grant types are tokens).
//!
//! Every write here ends with [`TenantScope::client_changed`], which tells the other nodes'
//! client caches (`notify.rs`) inside the same transaction: a new write function must too.

use sqlx::FromRow;

use super::notify::Invalidation;
use super::{Error, Result, TenantScope, on_tx};
use crate::clock::UnixTime;
use crate::domain::client::{AuthMethod, Client, ClientKind, GrantType, RedirectUri, SigningAlg};
use crate::domain::scope::Scope;
use crate::domain::tenant::Status;

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    kind: String,
    secret_hash: Option<String>,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    id_token_alg: String,
    access_token_ttl: i64,
    refresh_token_ttl: i64,
    id_token_ttl: i64,
    require_pkce: bool,
    allow_plain_pkce: bool,
    first_party: bool,
    claims_in_id_token: bool,
    introspection: bool,
    require_mfa: bool,
    status: String,
    created_at: i64,
}

const COLUMNS: &str = "client_id, name, kind, secret_hash, auth_method, redirect_uris, \
    post_logout_redirect_uris, grant_types, scopes, id_token_alg, access_token_ttl, \
    refresh_token_ttl, id_token_ttl, require_pkce, allow_plain_pkce, first_party, \
    claims_in_id_token, introspection, require_mfa, status, created_at";

fn join<T>(items: &[T], f: impl Fn(&T) -> &str) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

impl ClientRow {
    fn into_client(self, scope: &TenantScope<'_>) -> Result<(Client, Option<String>)> {
        let corrupt = |what: &str| Error::Corrupt(format!("oauth_clients.{what}"));
        let uris = |s: &str, what: &str| -> Result<Vec<RedirectUri>> {
            s.split(' ')
                .filter(|u| !u.is_empty())
                .map(|u| RedirectUri::parse(u).map_err(|_| corrupt(what)))
                .collect()
        };
        let client = Client {
            tenant_id: scope.tenant(),
            kind: match self.kind.as_str() {
                "confidential" => ClientKind::Confidential,
                "public" => ClientKind::Public,
                _ => return Err(corrupt("kind")),
            },
            auth_method: AuthMethod::parse(&self.auth_method)
                .ok_or_else(|| corrupt("auth_method"))?,
            redirect_uris: uris(&self.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: uris(
                &self.post_logout_redirect_uris,
                "post_logout_redirect_uris",
            )?,
            grant_types: self
                .grant_types
                .split(' ')
                .filter(|g| !g.is_empty())
                .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant_types")))
                .collect::<Result<_>>()?,
            scopes: Scope::parse(&self.scopes).map_err(|_| corrupt("scopes"))?,
            id_token_alg: SigningAlg::parse(&self.id_token_alg)
                .ok_or_else(|| corrupt("id_token_alg"))?,
            client_id: self.client_id,
            name: self.name,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            id_token_ttl: self.id_token_ttl,
            require_pkce: self.require_pkce,
            allow_plain_pkce: self.allow_plain_pkce,
            first_party: self.first_party,
            claims_in_id_token: self.claims_in_id_token,
            introspection: self.introspection,
            require_mfa: self.require_mfa,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            created_at: self.created_at,
        };
        Ok((client, self.secret_hash))
    }
}

impl TenantScope<'_> {
    pub async fn client_insert(
        &mut self,
        c: &Client,
        secret_hash: Option<&str>,
        now: UnixTime,
    ) -> Result<()> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO oauth_clients (tenant_id, {COLUMNS}, updated_at) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)"
        ));
        let tenant = self.tenant_id();
        on_tx!(&mut *self.tx, |conn| sqlx::query(sql)
            .bind(tenant)
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(match c.kind {
                ClientKind::Confidential => "confidential",
                ClientKind::Public => "public",
            })
            .bind(secret_hash)
            .bind(c.auth_method.as_str())
            .bind(join(&c.redirect_uris, RedirectUri::as_str))
            .bind(join(&c.post_logout_redirect_uris, RedirectUri::as_str))
            .bind(join(&c.grant_types, |g| g.as_str()))
            .bind(c.scopes.to_string())
            .bind(c.id_token_alg.as_str())
            .bind(c.access_token_ttl)
            .bind(c.refresh_token_ttl)
            .bind(c.id_token_ttl)
            .bind(c.require_pkce)
            .bind(c.allow_plain_pkce)
            .bind(c.first_party)
            .bind(c.claims_in_id_token)
            .bind(c.introspection)
            .bind(c.require_mfa)
            .bind(c.status.as_str())
            .bind(now)
            .execute(&mut **conn)
            .await
            .map_err(|e| Error::conflict_as(e, "client id"))?
            .rows_affected());
        // Other nodes may hold this id as "no such client".
        self.client_changed(1, &c.client_id).await
    }

    /// Announces a change to one client when `rows` (affected by the write) is not zero.
    pub(super) async fn client_changed(&mut self, rows: u64, client_id: &str) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let what = Invalidation::Client {
            tenant: self.tenant(),
            client_id: client_id.to_owned(),
        };
        self.tx.notify(&what).await
    }

    /// The active client and its secret hash (None for public clients). A disabled client
    /// is "not found" here, so every protocol path (client authentication, `/authorize`,
    /// logout) refuses it without a check of its own.
    pub async fn client_get(
        &mut self,
        client_id: &str,
    ) -> Result<Option<(Client, Option<String>)>> {
        self.client_where(client_id, " AND status = 'active'").await
    }

    /// The client whatever its status (operator commands).
    pub async fn client_get_any(&mut self, client_id: &str) -> Result<Option<Client>> {
        Ok(self.client_where(client_id, "").await?.map(|(c, _)| c))
    }

    async fn client_where(
        &mut self,
        client_id: &str,
        filter: &'static str,
    ) -> Result<Option<(Client, Option<String>)>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE tenant_id = $1 AND client_id = $2{filter}"
        ));
        let tenant = self.tenant_id();
        let row: Option<ClientRow> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(client_id)
            .fetch_optional(&mut **conn)
            .await?);
        row.map(|r| r.into_client(self)).transpose()
    }

    pub async fn clients_list(&mut self) -> Result<Vec<Client>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE tenant_id = $1 ORDER BY created_at, client_id"
        ));
        let tenant = self.tenant_id();
        let rows: Vec<ClientRow> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .fetch_all(&mut **conn)
            .await?);
        rows.into_iter()
            .map(|r| r.into_client(self).map(|(c, _)| c))
            .collect()
    }

    pub async fn client_set_secret(
        &mut self,
        client_id: &str,
        secret_hash: &str,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE oauth_clients SET secret_hash = $3, updated_at = $4 \
                           WHERE tenant_id = $1 AND client_id = $2 AND kind = 'confidential'";
        let tenant = self.tenant_id();
        let n = on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(client_id)
            .bind(secret_hash)
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        self.client_changed(n, client_id).await?;
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Sets the status; `NotFound` for an unknown client.
    pub async fn client_set_status(
        &mut self,
        client_id: &str,
        status: Status,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE oauth_clients SET status = $3, updated_at = $4 \
                           WHERE tenant_id = $1 AND client_id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(client_id)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        self.client_changed(n, client_id).await?;
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Grants or withdraws the permission to introspect other clients' access tokens.
    pub async fn client_set_introspection(
        &mut self,
        client_id: &str,
        allowed: bool,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE oauth_clients SET introspection = $3, updated_at = $4 \
                           WHERE tenant_id = $1 AND client_id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(client_id)
            .bind(allowed)
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        self.client_changed(n, client_id).await?;
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Deletes the client; its codes, tokens and consents go with it (foreign keys cascade).
    pub async fn client_delete(&mut self, client_id: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM oauth_clients WHERE tenant_id = $1 AND client_id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(client_id)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        self.client_changed(n, client_id).await?;
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }
}

/// Pages and whole-record updates for the management API (issue 10).
impl TenantScope<'_> {
    /// Up to `limit` clients after the keyset cursor `after` = (created_at, client_id), in
    /// creation order (client ids are random, so the creation time leads the key).
    /// `except` is left out (the admin console's built-in client, which is not listed).
    pub async fn clients_page(
        &mut self,
        after: Option<(i64, &str)>,
        limit: i64,
        except: &str,
    ) -> Result<Vec<Client>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE tenant_id = $1 \
             AND (created_at > $2 OR (created_at = $2 AND client_id > $3)) \
             AND client_id <> $5 ORDER BY created_at, client_id LIMIT $4"
        ));
        let tenant = self.tenant_id();
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        let rows: Vec<ClientRow> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(at)
            .bind(id)
            .bind(limit)
            .bind(except)
            .fetch_all(&mut **conn)
            .await?);
        rows.into_iter()
            .map(|r| r.into_client(self).map(|(c, _)| c))
            .collect()
    }

    /// Writes every setting of `c` (not its kind, secret, status or creation time); `NotFound`
    /// for an unknown client.
    pub async fn client_update(&mut self, c: &Client, now: UnixTime) -> Result<()> {
        const SQL: &str = "UPDATE oauth_clients SET name = $3, auth_method = $4, \
            redirect_uris = $5, post_logout_redirect_uris = $6, grant_types = $7, scopes = $8, \
            id_token_alg = $9, access_token_ttl = $10, refresh_token_ttl = $11, \
            id_token_ttl = $12, require_pkce = $13, allow_plain_pkce = $14, first_party = $15, \
            claims_in_id_token = $16, introspection = $17, require_mfa = $18, updated_at = $19 \
            WHERE tenant_id = $1 AND client_id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(c.auth_method.as_str())
            .bind(join(&c.redirect_uris, RedirectUri::as_str))
            .bind(join(&c.post_logout_redirect_uris, RedirectUri::as_str))
            .bind(join(&c.grant_types, |g| g.as_str()))
            .bind(c.scopes.to_string())
            .bind(c.id_token_alg.as_str())
            .bind(c.access_token_ttl)
            .bind(c.refresh_token_ttl)
            .bind(c.id_token_ttl)
            .bind(c.require_pkce)
            .bind(c.allow_plain_pkce)
            .bind(c.first_party)
            .bind(c.claims_in_id_token)
            .bind(c.introspection)
            .bind(c.require_mfa)
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }
}
