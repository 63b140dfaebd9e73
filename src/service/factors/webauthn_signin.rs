//! Signing in with a passkey alone (issue 12): a discoverable credential with user
//! verification, which is two factors in one (something held, and the PIN or biometric that
//! unlocked it): the session gets `amr` `hwk`/`swk` and `mfa`, hence `acr`
//! `urn:opentrusty:mfa`. The rules of a password login hold: the per-IP throttle (taken when
//! the ceremony starts, so every attempt pays), the per-account throttle, a disabled or
//! locked user is refused with the same answer as a bad passkey, failures with a known user
//! count toward the lockout, and every outcome is audited (`login.succeeded`/`login.failed`).
//! The credential id is looked up in this tenant only: another tenant's never matches.

use std::net::IpAddr;

use serde_json::json;
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential, WebauthnError};

use super::webauthn::{
    Purpose, Started, amr_of, clone_signal, credential_id_text, parse_answer, relying_party,
    store_state, stored_passkey, take_state, updated_credential,
};
use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::audit::{self, Event, Kind};
use crate::service::login::{Failed, LoggedIn};
use crate::service::{Context, Error, ratelimit, sessions};

/// Starts a passkey sign-in for the browser behind `binding` (its pre-login CSRF cookie).
pub async fn begin(
    app: &App,
    tenant: &Tenant,
    binding: &str,
    ip: Option<IpAddr>,
) -> Result<Started, Error> {
    app.login_limits
        .per_ip
        .check(&ratelimit::ip_key(ip))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let rp = relying_party(app, tenant)?;
    // webauthn-rs marks these options `mediation: conditional` (autofill); only `publicKey`
    // goes to the browser, which then shows its modal passkey chooser on the button press.
    let (rcr, state) = rp
        .start_discoverable_authentication()
        .map_err(|e| Error::Internal(format!("WebAuthn request options: {e}")))?;
    let public_key = serde_json::to_value(&rcr.public_key)
        .map_err(|e| Error::Internal(format!("WebAuthn options: {e}")))?;
    let ceremony = store_state(app, tenant, Purpose::SignIn, binding, None, None, &state).await?;
    Ok(Started {
        ceremony,
        public_key,
    })
}

/// Finishes a passkey sign-in: a new session on success (the caller sets the cookie).
pub async fn finish(
    app: &App,
    tenant: &Tenant,
    binding: &str,
    ceremony: &str,
    credential: &serde_json::Value,
    ctx: &Context,
) -> Result<LoggedIn, Failed> {
    let answer: PublicKeyCredential = parse_answer(credential)?;
    let (_, state): (_, DiscoverableAuthentication) =
        take_state(app, tenant, Purpose::SignIn, binding, ceremony, None).await?;
    let rp = relying_party(app, tenant)?;
    let used = credential_id_text(&answer.raw_id);
    // The user handle names the account (WebAuthn §6.1: it is the user id we registered).
    let Ok((handle, _)) = rp.identify_discoverable_authentication(&answer) else {
        return refuse(app, tenant, None, &used, "no_user_handle", ctx).await;
    };
    let found = {
        let mut tx = app.store.read().await.map_err(Error::from)?;
        let mut scope = tx.scope(tenant);
        match scope
            .factor_by_credential(&used)
            .await
            .map_err(Error::from)?
        {
            Some(f) if f.kind == "webauthn" && f.confirmed && f.user_id == handle.to_string() => {
                let id: UserId = f
                    .user_id
                    .parse()
                    .map_err(|e| Error::Internal(format!("factor user id: {e}")))?;
                scope
                    .user_by_id(id)
                    .await
                    .map_err(Error::from)?
                    .map(|u| (f, u))
            }
            _ => None,
        }
    };
    let Some((factor, user)) = found else {
        return refuse(app, tenant, None, &used, "unknown_credential", ctx).await;
    };
    let account_key = format!("{}:{}", tenant.id, user.email.as_str());
    app.login_limits
        .per_account
        .check(&account_key)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let now = app.clock.now();
    if !user.is_active() {
        return refuse(app, tenant, Some(&user), &used, "disabled", ctx).await;
    }
    if user.is_locked(now) {
        return refuse(app, tenant, Some(&user), &used, "locked", ctx).await;
    }
    let passkey = stored_passkey(&factor)?;
    let result = match rp.finish_discoverable_authentication_v2(&answer, state, &passkey) {
        Ok(r) => r,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            clone_signal(app, tenant, &user, &factor, ctx).await?;
            return refuse(app, tenant, Some(&user), &used, "cloned_authenticator", ctx).await;
        }
        Err(e) => {
            tracing::debug!(error = %e, "passkey assertion refused");
            return refuse(app, tenant, Some(&user), &used, "passkey_invalid", ctx).await;
        }
    };
    let amr = [amr_of(&result), "mfa"];
    let stored = updated_credential(passkey, &result)?;
    let lifetime = app.config.identity.session_lifetime.as_secs() as i64;
    let mut tx = app.store.begin().await.map_err(Error::from)?;
    let mut scope = tx.scope(tenant);
    scope
        .user_reset_failures(user.id)
        .await
        .map_err(Error::from)?;
    let credential_json = stored.as_deref().or(factor.credential.as_deref());
    scope
        .factor_credential_update(&factor.id, credential_json.unwrap_or_default(), now)
        .await
        .map_err(Error::from)?;
    let (token, session) = sessions::create(&mut scope, &user, &amr, ctx, now, lifetime).await?;
    let target = Some(format!("user:{}", user.id));
    let events = [
        (
            Kind::LoginSucceeded,
            json!({ "sid": session.sid, "amr": amr, "factor": factor.id }),
        ),
        (
            Kind::MfaVerified,
            json!({ "factor": factor.id, "kind": "webauthn", "amr": amr[0], "sign_in": true }),
        ),
    ];
    let mut recorded = Vec::with_capacity(events.len());
    for (kind, metadata) in events {
        let ev = Event {
            kind,
            tenant: Some(tenant.id),
            target: target.clone(),
            metadata,
            ctx,
        };
        recorded.push(audit::record(&mut tx, ev, now).await?);
    }
    tx.commit().await.map_err(Error::from)?;
    recorded.into_iter().for_each(audit::Recorded::emit);
    Ok(LoggedIn {
        token,
        sid: session.sid,
        user,
        factor_due: false,
    })
}

/// A refused passkey sign-in: `login.failed` with the reason (for the audit trail only; the
/// browser hears the same answer for every reason) and, with a user whose passkey was wrong,
/// a failure toward the lockout (and `account.locked` when this one locks it).
async fn refuse(
    app: &App,
    tenant: &Tenant,
    user: Option<&User>,
    credential_id: &str,
    reason: &str,
    ctx: &Context,
) -> Result<LoggedIn, Failed> {
    let id = &app.config.identity;
    let now = app.clock.now();
    let mut tx = app.store.begin().await.map_err(Error::from)?;
    // Credential ids are public (the browser sends them in the clear); bounded for the log.
    let shown: String = credential_id.chars().take(96).collect();
    let mut meta = json!({ "reason": reason, "method": "passkey", "credential": shown });
    let mut events = Vec::new();
    let counts = matches!(reason, "passkey_invalid" | "cloned_authenticator");
    if let (Some(u), true) = (user, counts) {
        let failure = tx
            .scope(tenant)
            .user_record_failure(
                u.id,
                now,
                i64::from(id.lockout_threshold),
                id.lockout_duration.as_secs() as i64,
            )
            .await
            .map_err(Error::from)?;
        meta["failed_attempts"] = json!(failure.failed_attempts);
        if let Some(until) = failure.locked_until {
            let locked =
                json!({ "locked_until": until, "failed_attempts": failure.failed_attempts });
            events.push((Kind::AccountLocked, locked));
        }
    }
    events.insert(0, (Kind::LoginFailed, meta));
    let target = user.map(|u| format!("user:{}", u.id));
    let mut recorded = Vec::with_capacity(events.len());
    for (kind, metadata) in events {
        let ev = Event {
            kind,
            tenant: Some(tenant.id),
            target: target.clone(),
            metadata,
            ctx,
        };
        recorded.push(audit::record(&mut tx, ev, now).await?);
    }
    tx.commit().await.map_err(Error::from)?;
    recorded.into_iter().for_each(audit::Recorded::emit);
    Err(Failed::BadCredentials)
}
