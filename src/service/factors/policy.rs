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
