//! Management roles and the permissions they carry. A role is held by a user of a tenant, in
//! that tenant (users of the reserved `platform` tenant hold theirs on every tenant). Code that
//! authorizes checks a [`Permission`], never a role name: this file is the one table that maps
//! roles to permissions.

use std::fmt;

/// A management role, ordered by what it may do: `Viewer < Admin < Owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Admin,
    Owner,
}

/// One thing a management caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    UsersRead,
    UsersWrite,
    ClientsRead,
    ClientsWrite,
    KeysRead,
    KeysWrite,
    SessionsRead,
    SessionsWrite,
    ConsentsRead,
    ConsentsWrite,
    AuditRead,
    RolesWrite,
    ApiTokensWrite,
    TenantRead,
    TenantWrite,
    /// Platform only: list and read every tenant.
    TenantsRead,
    /// Platform only: create, disable and enable tenants.
    TenantsManage,
}

const VIEWER: &[Permission] = &[
    Permission::UsersRead,
    Permission::ClientsRead,
    Permission::KeysRead,
    Permission::SessionsRead,
    Permission::ConsentsRead,
    Permission::AuditRead,
    Permission::TenantRead,
];

const ADMIN: &[Permission] = &[
    Permission::UsersWrite,
    Permission::ClientsWrite,
    Permission::KeysWrite,
    Permission::SessionsWrite,
    Permission::ConsentsWrite,
];

const OWNER: &[Permission] = &[
    Permission::RolesWrite,
    Permission::ApiTokensWrite,
    Permission::TenantWrite,
];

/// What a role adds when it is held in the `platform` tenant (on every tenant).
const PLATFORM_VIEWER: &[Permission] = &[Permission::TenantsRead];
const PLATFORM_ADMIN: &[Permission] = &[Permission::TenantsManage];

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Admin, Role::Owner];

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Every permission of this role: a role has its own and those of every role below it.
    pub fn permissions(self) -> impl Iterator<Item = Permission> {
        let tiers: &[&[Permission]] = match self {
            Role::Viewer => &[VIEWER],
            Role::Admin => &[VIEWER, ADMIN],
            Role::Owner => &[VIEWER, ADMIN, OWNER],
        };
        tiers.iter().flat_map(|t| t.iter().copied())
    }

    pub fn has(self, p: Permission) -> bool {
        self.permissions().any(|q| q == p)
    }

    /// Every permission of this role where it is held: in a tenant, or in `platform`, where
    /// the same role also manages tenants.
    pub fn permissions_in(self, platform: bool) -> impl Iterator<Item = Permission> {
        let extra: &[&[Permission]] = match (platform, self) {
            (false, _) => &[],
            (true, Role::Viewer) => &[PLATFORM_VIEWER],
            (true, Role::Admin | Role::Owner) => &[PLATFORM_VIEWER, PLATFORM_ADMIN],
        };
        self.permissions()
            .chain(extra.iter().flat_map(|t| t.iter().copied()))
    }

    pub fn has_in(self, p: Permission, platform: bool) -> bool {
        self.permissions_in(platform).any(|q| q == p)
    }

    /// Nobody grants a role higher than their own.
    pub fn may_grant(self, other: Role) -> bool {
        self.has(Permission::RolesWrite) && other <= self
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    /// The permission's name as the API shows it (`users:write`).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::ClientsRead => "clients:read",
            Permission::ClientsWrite => "clients:write",
            Permission::KeysRead => "keys:read",
            Permission::KeysWrite => "keys:write",
            Permission::SessionsRead => "sessions:read",
            Permission::SessionsWrite => "sessions:write",
            Permission::ConsentsRead => "consents:read",
            Permission::ConsentsWrite => "consents:write",
            Permission::AuditRead => "audit:read",
            Permission::RolesWrite => "roles:write",
            Permission::ApiTokensWrite => "api_tokens:write",
            Permission::TenantRead => "tenant:read",
            Permission::TenantWrite => "tenant:write",
            Permission::TenantsRead => "tenants:read",
            Permission::TenantsManage => "tenants:manage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_and_parse() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Viewer.has(Permission::AuditRead));
        assert!(!Role::Viewer.has(Permission::UsersWrite));
        assert!(Role::Admin.has(Permission::UsersWrite) && Role::Admin.has(Permission::UsersRead));
        assert!(!Role::Admin.has(Permission::RolesWrite));
        assert!(Role::Owner.permissions().count() == 15);
        // Every lower role's permissions are a subset of every higher role's.
        for (lo, hi) in [(Role::Viewer, Role::Admin), (Role::Admin, Role::Owner)] {
            assert!(lo.permissions().all(|p| hi.has(p)));
        }
    }

    #[test]
    fn nobody_grants_above_their_own_role() {
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(Role::Owner.may_grant(Role::Viewer));
        assert!(
            !Role::Admin.may_grant(Role::Viewer),
            "admins cannot grant roles at all"
        );
        assert!(!Role::Viewer.may_grant(Role::Viewer));
    }

    #[test]
    fn only_platform_roles_manage_tenants() {
        for r in Role::ALL {
            assert!(!r.has_in(Permission::TenantsRead, false));
            assert!(!r.has_in(Permission::TenantsManage, false));
            assert!(r.has_in(Permission::TenantsRead, true));
        }
        assert!(!Role::Viewer.has_in(Permission::TenantsManage, true));
        assert!(Role::Admin.has_in(Permission::TenantsManage, true));
    }
}
