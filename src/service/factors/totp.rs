//! TOTP as a second factor: enrolment (a fresh 160-bit seed, sealed with the key-encryption
//! key and bound to its row, shown once as an `otpauth://` URI), confirmation by a first valid
//! code, and the check at login. A code is accepted once: the accepted step is recorded with
//! a conditional update, so a replay in the same window fails here and on every other node.

use serde_json::json;

use super::{FactorInfo, MAX_FACTORS, admit, failed, parse_name, succeeded};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::protocol::totp;
use crate::service::audit::Kind;
use crate::service::{Context, Error, Result};
use crate::store::factors::FactorRow;

/// A started enrolment: what the user's authenticator app needs, shown once.
pub struct Enrolment {
    pub factor_id: String,
    /// The seed in base32, for typing it in by hand.
    pub secret: String,
    /// The key URI the QR code carries.
    pub uri: String,
}

/// The sealed seed's additional data: the seed opens only in its own row.
fn aad(factor_id: &str) -> String {
    format!("mfa_factor:{factor_id}")
}

/// Starts a TOTP enrolment for `user`: any earlier unconfirmed one is replaced.
pub async fn begin(app: &App, tenant: &Tenant, user: &User, name: &str) -> Result<Enrolment> {
    let name = parse_name(name)?;
    let now = app.clock.now();
    let uid = user.id.to_string();
    let factor_id = uuid::Uuid::now_v7().to_string();
    let mut seed = [0u8; totp::SECRET_LEN];
    aws_lc_rs::rand::fill(&mut seed)
        .map_err(|_| Error::Internal("random number generator failed".into()))?;
    let kek = app.keys.kek(app).await?;
    let row = FactorRow {
        id: factor_id.clone(),
        user_id: uid.clone(),
        kind: "totp".into(),
        name,
        secret: Some(kek.seal(&seed, &aad(&factor_id))?),
        kek_id: Some(kek.id.clone()),
        credential_id: None,
        credential: None,
        last_step: None,
        confirmed: false,
        created_at: now,
        last_used_at: None,
    };
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    scope.factors_delete_pending(&uid).await?;
    if scope.factors_of(&uid).await?.len() >= MAX_FACTORS {
        return Err(Error::Conflict(format!(
            "a user has at most {MAX_FACTORS} factors: remove one first"
        )));
    }
    scope.factor_insert(&row).await?;
    tx.commit().await?;
    Ok(Enrolment {
        secret: totp::base32(&seed),
        uri: totp::otpauth_uri(&tenant.display_name, user.email.as_str(), &seed),
        factor_id,
    })
}

/// The seed of a stored TOTP factor.
pub(super) async fn seed(app: &App, row: &FactorRow) -> Result<Vec<u8>> {
    let kek = app.keys.kek(app).await?;
    match (&row.secret, &row.kek_id) {
        (Some(sealed), Some(id)) if *id == kek.id => kek.open(sealed, &aad(&row.id)),
        _ => Err(Error::Internal(format!(
            "TOTP factor {} is not sealed with the current key-encryption key",
            row.id
        ))),
    }
}

/// Confirms a started enrolment with the first code from the app; the factor then counts.
pub async fn confirm(
    app: &App,
    tenant: &Tenant,
    user: &User,
    factor_id: &str,
    code: &str,
    ctx: &Context,
) -> Result<FactorInfo> {
    let now = app.clock.now();
    let uid = user.id.to_string();
    let pending = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).factors_of(&uid).await?
    }
    .into_iter()
    .find(|f| f.id == factor_id && f.kind == "totp" && !f.confirmed)
    .ok_or(Error::NotFound("enrolment"))?;
    admit(app, tenant, user, now)?;
    let matched = totp::verify(&seed(app, &pending).await?, code, now, None);
    let Some(step) = matched else {
        failed(app, tenant, user, "totp", ctx, now).await?;
        return Err(Error::Invalid(
            "code: that is not the current code of the authenticator app".into(),
        ));
    };
    let mut tx = app.store.begin().await?;
    if !tx
        .scope(tenant)
        .factor_totp_use(factor_id, &uid, step, now)
        .await?
    {
        return Err(Error::NotFound("enrolment"));
    }
    let meta = json!({ "factor": factor_id, "kind": "totp", "name": pending.name });
    succeeded(tx, tenant, user, Kind::MfaEnrolled, meta, ctx, now).await?;
    Ok(FactorInfo {
        last_used_at: Some(now),
        ..FactorInfo::from(pending)
    })
}

/// Checks a code at login against the user's TOTP factors. `Ok(true)`: accepted (and never
/// again); `Ok(false)`: wrong, replayed or no TOTP factor, counted as a failed attempt.
pub async fn check(
    app: &App,
    tenant: &Tenant,
    user: &User,
    code: &str,
    ctx: &Context,
) -> Result<bool> {
    let now = app.clock.now();
    admit(app, tenant, user, now)?;
    let uid = user.id.to_string();
    let factors = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).factors_of(&uid).await?
    };
    for f in factors.iter().filter(|f| f.kind == "totp" && f.confirmed) {
        let Some(step) = totp::verify(&seed(app, f).await?, code, now, f.last_step) else {
            continue;
        };
        let mut tx = app.store.begin().await?;
        // Another node may have taken this step since the read: then this is a replay.
        if tx
            .scope(tenant)
            .factor_totp_use(&f.id, &uid, step, now)
            .await?
        {
            let meta = json!({ "factor": f.id, "kind": "totp" });
            succeeded(tx, tenant, user, Kind::MfaVerified, meta, ctx, now).await?;
            return Ok(true);
        }
    }
    failed(app, tenant, user, "totp", ctx, now).await?;
    Ok(false)
}
