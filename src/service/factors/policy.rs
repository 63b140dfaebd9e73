//! When a sign-in needs a second factor (issue 12): the one place that decides it, for
//! `/authorize` and every page that asks. A factor is needed when the user enrolled one (then
//! every sign-in asks for it), when the tenant requires one, when the client was registered
//! to require one, or when the client asks with `acr_values=urn:opentrusty:mfa` (OIDC Core
//! §3.1.2.1).

use crate::domain::client::Client;
use crate::domain::tenant::{MfaPolicy, Tenant};

/// What the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The user has a confirmed factor (`service::factors::enrolled`).
    pub enrolled: bool,
    pub tenant: &'a Tenant,
    pub client: &'a Client,
    /// The request's `acr_values` named `urn:opentrusty:mfa`.
    pub acr_mfa: bool,
}

/// Whether this sign-in needs a second factor.
pub fn second_factor_needed(f: Facts<'_>) -> bool {
    f.enrolled || f.tenant.mfa == MfaPolicy::Required || f.client.require_mfa || f.acr_mfa
}

/// Whether the user must enrol before going on: a factor is needed and they have none.
pub fn must_enrol(f: Facts<'_>) -> bool {
    !f.enrolled && second_factor_needed(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{AuthMethod, ClientKind, GrantType, SigningAlg};
    use crate::domain::ids::TenantId;
    use crate::domain::scope::Scope;
    use crate::domain::tenant::{Slug, Status};

    fn tenant(mfa: MfaPolicy) -> Tenant {
        Tenant {
            id: TenantId::new(),
            slug: Slug::parse("acme").unwrap(),
            display_name: "Acme".into(),
            status: Status::Active,
            mfa,
            registration: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn client(require_mfa: bool) -> Client {
        Client {
            tenant_id: TenantId::new(),
            client_id: "c1".into(),
            name: "RP".into(),
            kind: ClientKind::Confidential,
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: Scope::parse("openid").unwrap(),
            id_token_alg: SigningAlg::RS256,
            access_token_ttl: 3600,
            refresh_token_ttl: 86400,
            id_token_ttl: 3600,
            require_pkce: false,
            allow_plain_pkce: false,
            first_party: false,
            claims_in_id_token: false,
            introspection: false,
            require_mfa,
            status: Status::Active,
            created_at: 0,
        }
    }

    #[test]
    fn any_one_reason_needs_the_factor_and_only_the_unenrolled_enrol() {
        let (opt, req) = (tenant(MfaPolicy::Optional), tenant(MfaPolicy::Required));
        let (plain, strict) = (client(false), client(true));
        let f = |enrolled, tenant, client, acr_mfa| Facts {
            enrolled,
            tenant,
            client,
            acr_mfa,
        };
        assert!(!second_factor_needed(f(false, &opt, &plain, false)));
        for needed in [
            f(true, &opt, &plain, false),
            f(false, &req, &plain, false),
            f(false, &opt, &strict, false),
            f(false, &opt, &plain, true),
        ] {
            assert!(second_factor_needed(needed), "{needed:?}");
            assert_eq!(must_enrol(needed), !needed.enrolled, "{needed:?}");
        }
        assert!(!must_enrol(f(false, &opt, &plain, false)));
    }
}
