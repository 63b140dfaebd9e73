//! WebAuthn (issue 12), what its three ceremonies share: the tenant's relying party (RP id =
//! the host of `OPENTRUSTY_PUBLIC_URL`, origin = its origin, checked by webauthn-rs; name = the
//! tenant's display name), the ceremony state kept on the server between the two requests
//! (single use, five minutes, bounded, bound to the browser and tenant), reading a browser's
//! answer (naming the field that does not fit), the stored credential of a factor, and the
//! `amr` a passkey earns. The ceremonies: `webauthn_register` (account page),
//! `webauthn_factor` (second step after the password) and `webauthn_signin` (a passkey alone).

use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use webauthn_rs::prelude::{AuthenticationResult, Passkey, Url, Webauthn, WebauthnBuilder};

use super::audit::{self, Event, Kind};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::sessions::{hash_token, random_token};
use crate::service::{Context, Error, Result};
use crate::store::ceremonies::CeremonyRow;
use crate::store::factors::FactorRow;

/// A ceremony's state lives this long: the browser's own timeout (webauthn-rs asks for five
/// minutes, WebAuthn §5.4 `timeout`) and no longer.
pub const CEREMONY_SECS: i64 = 300;
/// The largest serialised state stored. Registration state is about 1 KiB; an assertion's
/// carries the user's credentials (at most `MAX_FACTORS`, a few hundred bytes each).
pub const STATE_MAX: usize = 32 * 1024;
/// The longest ceremony id looked up (ours are 43 characters).
const CEREMONY_ID_MAX: usize = 64;

/// Which ceremony a stored state belongs to (the `purpose` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Adding a passkey on the account page.
    Register,
    /// The second step of a sign-in, after the password.
    Factor,
    /// Signing in with a passkey alone (a discoverable credential).
    SignIn,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::Factor => "factor",
            Purpose::SignIn => "signin",
        }
    }
}

/// A started ceremony: its id (sent back with the answer) and the options for
/// `navigator.credentials.create/get`, as `{"publicKey": ...}` in the WebAuthn JSON form
/// (`PublicKeyCredential.parse{Creation,Request}OptionsFromJSON` take `publicKey` as is).
#[derive(Debug, Serialize)]
pub struct Started {
    pub ceremony: String,
    #[serde(rename = "publicKey")]
    pub public_key: Value,
}

/// The tenant's relying party. A public URL without a domain name (an IP address) cannot be
/// an RP id (WebAuthn §5.1.3 step 8; browsers refuse it): passkeys are then unavailable.
pub fn relying_party(app: &App, tenant: &Tenant) -> Result<Webauthn> {
    let public = &app.config.public_url;
    let unavailable = || {
        Error::Conflict(
            "passkeys need OPENTRUSTY_PUBLIC_URL to name a host by its domain name".into(),
        )
    };
    let rp_id = public.domain().ok_or_else(unavailable)?;
    let origin = Url::parse(&public.origin().ascii_serialization()).map_err(|_| unavailable())?;
    WebauthnBuilder::new(rp_id, &origin)
        .map_err(|_| unavailable())?
        .rp_name(&tenant.display_name)
        .build()
        .map_err(|_| unavailable())
}

/// What binds a ceremony to the browser that started it: a hash of its session cookie (a
/// signed-in user) or its pre-login CSRF cookie (a sign-in), never the cookie itself.
pub fn binding(cookie: &str) -> String {
    hash_token(&format!("webauthn:{cookie}"))
}

/// Stores a ceremony's state and returns its id. `user` and `name` travel with it for the
/// finishing request to check and use.
#[allow(clippy::too_many_arguments)]
pub(super) async fn store_state(
    app: &App,
    tenant: &Tenant,
    purpose: Purpose,
    binding: &str,
    user: Option<&User>,
    name: Option<String>,
    state: &impl Serialize,
) -> Result<String> {
    let state = serde_json::to_string(state)
        .map_err(|e| Error::Internal(format!("WebAuthn state: {e}")))?;
    if state.len() > STATE_MAX {
        return Err(Error::Internal(format!(
            "WebAuthn state of {} bytes is over the bound",
            state.len()
        )));
    }
    let now = app.clock.now();
    let row = CeremonyRow {
        id: random_token(),
        purpose: purpose.as_str().into(),
        binding: binding.into(),
        user_id: user.map(|u| u.id.to_string()),
        name,
        state,
        created_at: now,
        expires_at: now + CEREMONY_SECS,
    };
    let mut tx = app.store.begin().await?;
    tx.scope(tenant).ceremony_insert(&row).await?;
    tx.commit().await?;
    Ok(row.id)
}

/// What every unusable ceremony id is told (which case it was does not matter to the browser).
pub const CEREMONY_GONE: &str =
    "ceremony: unknown, already used or expired (start again from the page)";

/// Takes the ceremony `id` for good (committed before the answer is checked, so a failed or
/// replayed answer cannot try again) and returns the row with its state parsed.
/// `NotFound("ceremony")` unless this browser started it in this tenant for `purpose` less
/// than [`CEREMONY_SECS`] ago and it was not used; `user`: it must be that user's too.
pub(super) async fn take_state<S: DeserializeOwned>(
    app: &App,
    tenant: &Tenant,
    purpose: Purpose,
    binding: &str,
    id: &str,
    user: Option<&User>,
) -> Result<(CeremonyRow, S)> {
    if id.is_empty() || id.len() > CEREMONY_ID_MAX {
        return Err(Error::NotFound("ceremony"));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let row = tx
        .scope(tenant)
        .ceremony_take(id, binding, purpose.as_str(), now)
        .await?;
    tx.commit().await?;
    let row = row.ok_or(Error::NotFound("ceremony"))?;
    if let Some(u) = user
        && row.user_id.as_deref() != Some(u.id.to_string().as_str())
    {
        return Err(Error::NotFound("ceremony"));
    }
    let state = serde_json::from_str(&row.state)
        .map_err(|e| Error::Internal(format!("stored WebAuthn state: {e}")))?;
    Ok((row, state))
}

/// Reads the browser's answer (`credential.toJSON()`) as webauthn-rs's type; a mismatch
/// names the field, e.g. `credential.response.clientDataJSON: invalid type ...`.
pub fn parse_answer<T: DeserializeOwned>(credential: &Value) -> Result<T> {
    serde_path_to_error::deserialize(credential).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." || path == "?" {
            "credential".to_owned()
        } else {
            format!("credential.{path}")
        };
        Error::Invalid(format!("{at}: {}", e.inner()))
    })
}

/// The text form of a credential id (the `credential_id` column): base64url, no padding.
pub fn credential_id_text(raw: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The passkey stored in a `webauthn` factor row.
pub(super) fn stored_passkey(row: &FactorRow) -> Result<Passkey> {
    let json = row
        .credential
        .as_deref()
        .ok_or_else(|| Error::Internal(format!("WebAuthn factor {} has no credential", row.id)))?;
    serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("WebAuthn factor {}: {e}", row.id)))
}

/// The user's confirmed passkeys with their rows.
pub(super) fn passkeys_of(rows: Vec<FactorRow>) -> Result<Vec<(FactorRow, Passkey)>> {
    rows.into_iter()
        .filter(|r| r.kind == "webauthn" && r.confirmed)
        .map(|r| stored_passkey(&r).map(|p| (r, p)))
        .collect()
}

/// The RFC 8176 method of a passkey use: `swk` for a backup-eligible (synced, software-held)
/// credential, `hwk` for one bound to its device (WebAuthn §6.1.3, the BE flag).
pub fn amr_of(result: &AuthenticationResult) -> &'static str {
    if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    }
}

/// The credential's new state after a use (signature counter, backup flags): `Some` JSON to
/// store when it changed. A counter that did not grow never gets here: webauthn-rs refuses
/// the assertion (`CredentialPossibleCompromise`).
pub(super) fn updated_credential(
    mut passkey: Passkey,
    result: &AuthenticationResult,
) -> Result<Option<String>> {
    if passkey.update_credential(result) != Some(true) {
        return Ok(None);
    }
    serde_json::to_string(&passkey)
        .map(Some)
        .map_err(|e| Error::Internal(format!("WebAuthn credential: {e}")))
}

/// Audits a cloned-authenticator signal (WebAuthn §6.1.1: a signature counter that did not
/// grow means two copies of the private key may be in use) in its own transaction.
pub(super) async fn clone_signal(
    app: &App,
    tenant: &Tenant,
    user: &User,
    factor: &FactorRow,
    ctx: &Context,
) -> Result<()> {
    let tx = app.store.begin().await?;
    let ev = Event {
        kind: Kind::MfaCloneSuspected,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "factor": factor.id, "kind": "webauthn", "name": factor.name }),
        ctx,
    };
    audit::commit(tx, ev, app.clock.now()).await
}
