//! A tenant's signing keys: viewers read their public parts, admins rotate them (the same
//! rotation as the CLI's `keys rotate`).

use crate::app::App;
use crate::domain::client::SigningAlg;
use crate::protocol::keyring::{self, KeyMeta};
use crate::service::authz::Authorized;
use crate::service::authz::grant::{KeysRead, KeysWrite};
use crate::service::keys::{self, KeyInfo};
use crate::service::{Error, Result};

/// The longest an operator may schedule a new key's activation ahead.
const MAX_ACTIVATE_IN: i64 = 30 * 86_400;

pub async fn list(app: &App, auth: &Authorized<KeysRead>) -> Result<Vec<KeyInfo>> {
    keys::list(app, auth.tenant()).await
}

/// Adds the next key of `alg` (default RS256), published now and signing after
/// `activate_in` seconds (default `keyring::PUBLISH_LEAD`, so caches see it first).
pub async fn rotate(
    app: &App,
    auth: &Authorized<KeysWrite>,
    alg: Option<&str>,
    activate_in: Option<i64>,
) -> Result<KeyMeta> {
    let alg = match alg {
        None => SigningAlg::RS256,
        Some(a) => SigningAlg::parse(a).ok_or_else(|| {
            Error::Invalid(format!("alg must be RS256, ES256 or EdDSA, not {a:?}"))
        })?,
    };
    let activate_in = activate_in.unwrap_or(keyring::PUBLISH_LEAD);
    if !(0..=MAX_ACTIVATE_IN).contains(&activate_in) {
        return Err(Error::Invalid(format!(
            "activate_in must be 0 to {MAX_ACTIVATE_IN} seconds"
        )));
    }
    keys::rotate_audited(app, auth.tenant(), alg, activate_in, auth.ctx()).await
}
