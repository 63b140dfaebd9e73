//! The tenant-scoped handle: the only way to reach tenant-owned rows (DESIGN §3).
//!
//! A [`TenantScope`] is built only from a [`Tenant`] that the store itself returned, and its
//! tenant id is private. Every statement on a tenant-owned table, in every `impl TenantScope`
//! block of this module, carries `tenant_id = $1` bound from [`TenantScope::tenant_id`], so a
//! review of isolation is a grep. A row of another tenant is simply "not found".
//!
//! The other places that touch tenant-owned rows: group commit (`group.rs`), where a
//! `WriteSet` is likewise built only from a store-returned [`Tenant`] and every claim and every
//! inserted row binds that set's tenant id; the lookup of an API token by its hash
//! (`api_tokens.rs`) and of an access token's tenant by the token's hash
//! (`tokens.rs`, `access_token_tenant`), which must find the token before its tenant is known
//! and return that tenant for the caller to check (the token itself is then read through
//! that tenant's scope); the revocation of API tokens minted by a platform caller or by a
//! revoked token (`api_tokens.rs`, `api_tokens_revoke_created_by_any`), which live in any
//! tenant and are named by their creator's globally unique id; the cache notifications
//! (`notify.rs`), which carry ids only; the mail sender (`mail_delivery.rs`), which claims due
//! outbox rows of every tenant and writes only their delivery columns; and the key-encryption
//! key check (`meta.rs`), which reads only the key fingerprints of all signing keys.

use super::Tx;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;

pub struct TenantScope<'a> {
    pub(super) tx: &'a mut Tx,
    tenant_id: TenantId,
}

impl Tx {
    /// Narrows this transaction to one tenant's rows.
    pub fn scope<'a>(&'a mut self, tenant: &Tenant) -> TenantScope<'a> {
        TenantScope {
            tx: self,
            tenant_id: tenant.id,
        }
    }
}

impl TenantScope<'_> {
    /// The tenant id as bound into queries (text form).
    pub(super) fn tenant_id(&self) -> String {
        self.tenant_id.to_string()
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant_id
    }
}
