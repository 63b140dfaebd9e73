//! A passkey as the second step of a sign-in (issue 12): after the password, the browser is
//! asked for an assertion by one of the user's own credentials (`allowCredentials`), with
//! user verification. A pass steps the session up in place with `hwk` or `swk`
//! (`sessions::step_up` adds `mfa`); a failure counts toward the lockout like a wrong code; a
//! signature counter that did not grow is refused and audited as a cloned-authenticator
//! signal. The credential's counter and backup flags are stored after every use.

use serde_json::json;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential, WebauthnError};

use super::webauthn::{
    Purpose, Started, amr_of, clone_signal, credential_id_text, parse_answer, passkeys_of,
    relying_party, store_state, take_state, updated_credential,
};
use super::{admit, failed, succeeded};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::audit::Kind;
use crate::service::sessions::{self, Current};
use crate::service::{Context, Error, Result};
use crate::store::sessions::SessionRecord;

/// Whether the user has a passkey to use as a second factor.
pub async fn has_passkey(app: &App, tenant: &Tenant, user: &User) -> Result<bool> {
    let mut tx = app.store.read().await?;
    let rows = tx.scope(tenant).factors_of(&user.id.to_string()).await?;
    Ok(rows.iter().any(|r| r.kind == "webauthn" && r.confirmed))
}

/// Starts the assertion for the signed-in `user` (`binding`: the browser's session).
/// `NotFound("passkey")` when the user has none.
pub async fn begin(app: &App, tenant: &Tenant, user: &User, binding: &str) -> Result<Started> {
    let rp = relying_party(app, tenant)?;
    let rows = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).factors_of(&user.id.to_string()).await?
    };
    let passkeys: Vec<_> = passkeys_of(rows)?.into_iter().map(|(_, p)| p).collect();
    if passkeys.is_empty() {
        return Err(Error::NotFound("passkey"));
    }
    let (rcr, state) = rp
        .start_passkey_authentication(&passkeys)
        .map_err(|e| Error::Internal(format!("WebAuthn request options: {e}")))?;
    let public_key = serde_json::to_value(&rcr.public_key)
        .map_err(|e| Error::Internal(format!("WebAuthn options: {e}")))?;
    let ceremony = store_state(
        app,
        tenant,
        Purpose::Factor,
        binding,
        Some(user),
        None,
        &state,
    )
    .await?;
    Ok(Started {
        ceremony,
        public_key,
    })
}

/// How a passkey answer at the second step ended.
#[derive(Debug)]
pub enum Outcome {
    /// Accepted: the stepped-up session.
    Passed(SessionRecord),
    /// Not a valid assertion by one of the user's passkeys (counted as a failed attempt).
    Refused,
    /// The signature counter went backwards or stood still: refused, counted and audited as
    /// a possible clone (WebAuthn §6.1.1).
    CloneSuspected,
}

/// Checks the browser's answer for the session behind `session_token` and steps it up.
/// Throttled and locked accounts get the errors of `service::factors`.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    app: &App,
    tenant: &Tenant,
    current: &Current,
    session_token: &str,
    binding: &str,
    ceremony: &str,
    credential: &serde_json::Value,
    ctx: &Context,
) -> Result<Outcome> {
    let user = &current.user;
    let answer: PublicKeyCredential = parse_answer(credential)?;
    let (_, state): (_, PasskeyAuthentication) =
        take_state(app, tenant, Purpose::Factor, binding, ceremony, Some(user)).await?;
    let now = app.clock.now();
    admit(app, tenant, user, now)?;
    let rows = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).factors_of(&user.id.to_string()).await?
    };
    let passkeys = passkeys_of(rows)?;
    let used = credential_id_text(&answer.raw_id);
    let rp = relying_party(app, tenant)?;
    let result = match rp.finish_passkey_authentication(&answer, &state) {
        Ok(r) => r,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            if let Some((row, _)) = passkeys
                .iter()
                .find(|(r, _)| r.credential_id.as_deref() == Some(used.as_str()))
            {
                clone_signal(app, tenant, user, row, ctx).await?;
            }
            failed(app, tenant, user, "webauthn", ctx, now).await?;
            return Ok(Outcome::CloneSuspected);
        }
        Err(e) => {
            tracing::debug!(error = %e, "passkey assertion refused");
            failed(app, tenant, user, "webauthn", ctx, now).await?;
            return Ok(Outcome::Refused);
        }
    };
    // webauthn-rs checked the answer against the allowed credentials: one of these is it.
    let Some((row, passkey)) = passkeys
        .into_iter()
        .find(|(_, p)| p.cred_id() == result.cred_id())
    else {
        failed(app, tenant, user, "webauthn", ctx, now).await?;
        return Ok(Outcome::Refused);
    };
    let amr = amr_of(&result);
    let stored = updated_credential(passkey, &result)?;
    let mut tx = app.store.begin().await?;
    let credential_json = stored.as_deref().or(row.credential.as_deref());
    tx.scope(tenant)
        .factor_credential_update(&row.id, credential_json.unwrap_or_default(), now)
        .await?;
    let meta = json!({ "factor": row.id, "kind": "webauthn", "amr": amr });
    succeeded(tx, tenant, user, Kind::MfaVerified, meta, ctx, now).await?;
    let session = sessions::step_up(app, tenant, session_token, &[amr]).await?;
    Ok(Outcome::Passed(session))
}
