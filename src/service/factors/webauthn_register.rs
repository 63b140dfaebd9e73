//! Adding a passkey on the account page (issue 12): the registration ceremony. The options ask
//! for a discoverable credential (resident key required, so the same passkey also signs in
//! alone) with user verification, exclude the user's existing credentials, and the state
//! waits server-side (`webauthn::store_state`); the answer is checked by webauthn-rs (origin,
//! RP id hash, challenge, UV flag; `none` attestation) and stored as a `webauthn` factor
//! whose credential id is unique in the tenant.

use serde_json::json;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::webauthn::{
    Purpose, Started, credential_id_text, parse_answer, passkeys_of, relying_party, store_state,
    take_state,
};
use super::{FactorInfo, MAX_FACTORS, parse_name};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::audit::{self, Event, Kind};
use crate::service::{Context, Error, Result};
use crate::store::factors::FactorRow;

fn too_many() -> Error {
    Error::Conflict(format!(
        "a user has at most {MAX_FACTORS} factors: remove one first"
    ))
}

/// Starts adding a passkey named `name` for `user` (who must have signed in recently: the
/// caller checks). `binding`: the browser's session (`webauthn::binding`).
pub async fn begin(
    app: &App,
    tenant: &Tenant,
    user: &User,
    binding: &str,
    name: &str,
) -> Result<Started> {
    let name = parse_name(name)?;
    let rp = relying_party(app, tenant)?;
    let rows = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).factors_of(&user.id.to_string()).await?
    };
    if rows.iter().filter(|r| r.confirmed).count() >= MAX_FACTORS {
        return Err(too_many());
    }
    // The user's passkeys are excluded: an authenticator holding one refuses to make a second
    // credential for the same account (WebAuthn §5.4 `excludeCredentials`).
    let exclude = passkeys_of(rows)?
        .into_iter()
        .map(|(_, p)| p.cred_id().clone())
        .collect::<Vec<_>>();
    let uuid = uuid::Uuid::parse_str(&user.id.to_string())
        .map_err(|e| Error::Internal(format!("user id: {e}")))?;
    let email = user.email.as_str();
    let (ccr, state) = rp
        .start_passkey_registration(uuid, email, email, Some(exclude))
        .map_err(|e| Error::Internal(format!("WebAuthn registration options: {e}")))?;
    let mut public_key = serde_json::to_value(&ccr.public_key)
        .map_err(|e| Error::Internal(format!("WebAuthn options: {e}")))?;
    // webauthn-rs asks for `residentKey: discouraged`; a passkey that signs in alone must be
    // discoverable (WebAuthn §5.4.4), so both the level-2 and level-1 members say required.
    public_key["authenticatorSelection"]["residentKey"] = json!("required");
    public_key["authenticatorSelection"]["requireResidentKey"] = json!(true);
    let ceremony = store_state(
        app,
        tenant,
        Purpose::Register,
        binding,
        Some(user),
        Some(name),
        &state,
    )
    .await?;
    Ok(Started {
        ceremony,
        public_key,
    })
}

/// A passkey added: the factor, and whether it is the user's first (then recovery codes are
/// due, as after a first authenticator app).
#[derive(Debug)]
pub struct Added {
    pub factor: FactorInfo,
    pub first: bool,
    /// The RFC 8176 method the registration proved (`hwk`, or `swk` for a backup-eligible
    /// credential): the ceremony verified the user on the new authenticator.
    pub amr: &'static str,
}

/// Whether a stored passkey is backup-eligible (synced): webauthn-rs keeps the BE flag in the
/// credential but exposes it only through its serialised form.
fn backup_eligible(credential_json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(credential_json)
        .ok()
        .and_then(|v| v["cred"]["backup_eligible"].as_bool())
        .unwrap_or(false)
}

/// Finishes adding a passkey with the browser's answer (`credential.toJSON()`).
pub async fn finish(
    app: &App,
    tenant: &Tenant,
    user: &User,
    binding: &str,
    ceremony: &str,
    credential: &serde_json::Value,
    ctx: &Context,
) -> Result<Added> {
    let answer: RegisterPublicKeyCredential = parse_answer(credential)?;
    let (row, state): (_, PasskeyRegistration) = take_state(
        app,
        tenant,
        Purpose::Register,
        binding,
        ceremony,
        Some(user),
    )
    .await?;
    let rp = relying_party(app, tenant)?;
    let passkey = rp
        .finish_passkey_registration(&answer, &state)
        .map_err(|e| {
            Error::Invalid(format!(
                "credential: the authenticator's answer was not accepted ({e})"
            ))
        })?;
    let credential_json = serde_json::to_string(&passkey)
        .map_err(|e| Error::Internal(format!("WebAuthn credential: {e}")))?;
    let amr = if backup_eligible(&credential_json) {
        "swk"
    } else {
        "hwk"
    };
    let now = app.clock.now();
    let uid = user.id.to_string();
    let factor = FactorRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: uid.clone(),
        kind: "webauthn".into(),
        name: row.name.unwrap_or_else(|| "Passkey".into()),
        secret: None,
        kek_id: None,
        credential_id: Some(credential_id_text(passkey.cred_id())),
        credential: Some(credential_json),
        last_step: None,
        confirmed: true,
        created_at: now,
        last_used_at: None,
    };
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let had = scope
        .factors_of(&uid)
        .await?
        .into_iter()
        .filter(|f| f.confirmed)
        .count();
    if had >= MAX_FACTORS {
        return Err(too_many());
    }
    let taken = factor.credential_id.as_deref().unwrap_or_default();
    if scope.factor_by_credential(taken).await?.is_some() {
        return Err(Error::Conflict(
            "credential: this passkey is already registered".into(),
        ));
    }
    scope.factor_insert(&factor).await?;
    let ev = Event {
        kind: Kind::MfaEnrolled,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "factor": factor.id, "kind": "webauthn", "name": factor.name }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(Added {
        factor: FactorInfo::from(factor),
        first: had == 0,
        amr,
    })
}
