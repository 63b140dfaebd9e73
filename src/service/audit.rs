//! Security events: one row in `audit_events` written in the caller's transaction, and one
//! structured journal entry with a stable `MESSAGE_ID` per event type once it committed.
//! Metadata never holds passwords, session ids, tokens or secrets.

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::store::Tx;
use crate::store::audit::{AuditChunk, AuditEvent, AuditFilter, AuditRow};
use crate::store::login_stats::Series;
use crate::systemd;

use super::{Context, Result};

/// Every audited event type. The journal `MESSAGE_ID` of each is fixed forever, so operators
/// can `journalctl MESSAGE_ID=...` across versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    AccountUnlocked,
    Logout,
    PasswordChanged,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserDeleted,
    UserEnabled,
    SessionEnded,
    ConsentRevoked,
    UserRoleChanged,
    ApiTokenCreated,
    ApiTokenRevoked,
    TenantCreated,
    TenantUpdated,
    TenantDisabled,
    TenantEnabled,
    Bootstrap,
    ClientCreated,
    ClientSecretRotated,
    ClientDeleted,
    ClientUpdated,
    ClientDisabled,
    ClientEnabled,
    KeyRotated,
    ConsentGranted,
    CodeReplayed,
    RefreshTokenReused,
    TokenRevoked,
    MfaEnrolled,
    MfaRemoved,
    MfaVerified,
    MfaFailed,
    MfaReset,
    RecoveryCodesCreated,
    RecoveryCodeUsed,
    MfaCloneSuspected,
    PasswordReset,
    UserInvited,
    InvitationAccepted,
    EmailVerified,
    UserRegistered,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginSucceeded => "login.succeeded",
            Kind::LoginFailed => "login.failed",
            Kind::AccountLocked => "account.locked",
            Kind::AccountUnlocked => "account.unlocked",
            Kind::Logout => "logout",
            Kind::PasswordChanged => "password.changed",
            Kind::UserCreated => "user.created",
            Kind::UserUpdated => "user.updated",
            Kind::UserDisabled => "user.disabled",
            Kind::UserDeleted => "user.deleted",
            Kind::UserEnabled => "user.enabled",
            Kind::SessionEnded => "session.ended",
            Kind::ConsentRevoked => "consent.revoked",
            Kind::UserRoleChanged => "user.role_changed",
            Kind::ApiTokenCreated => "api_token.created",
            Kind::ApiTokenRevoked => "api_token.revoked",
            Kind::TenantCreated => "tenant.created",
            Kind::TenantUpdated => "tenant.updated",
            Kind::TenantDisabled => "tenant.disabled",
            Kind::TenantEnabled => "tenant.enabled",
            Kind::Bootstrap => "bootstrap",
            Kind::ClientCreated => "client.created",
            Kind::ClientSecretRotated => "client.secret_rotated",
            Kind::ClientDeleted => "client.deleted",
            Kind::ClientUpdated => "client.updated",
            Kind::ClientDisabled => "client.disabled",
            Kind::ClientEnabled => "client.enabled",
            Kind::KeyRotated => "key.rotated",
            Kind::ConsentGranted => "consent.granted",
            Kind::CodeReplayed => "oauth.code_replayed",
            Kind::RefreshTokenReused => "oauth.refresh_token_reused",
            Kind::TokenRevoked => "oauth.token_revoked",
            Kind::MfaEnrolled => "mfa.enrolled",
            Kind::MfaRemoved => "mfa.removed",
            Kind::MfaVerified => "mfa.verified",
            Kind::MfaFailed => "mfa.failed",
            Kind::MfaReset => "mfa.reset",
            Kind::RecoveryCodesCreated => "mfa.recovery_codes_created",
            Kind::RecoveryCodeUsed => "mfa.recovery_code_used",
            Kind::MfaCloneSuspected => "mfa.clone_suspected",
            Kind::PasswordReset => "password.reset",
            Kind::UserInvited => "user.invited",
            Kind::InvitationAccepted => "user.invitation_accepted",
            Kind::EmailVerified => "email.verified",
            Kind::UserRegistered => "user.registered",
        }
    }

    /// 128-bit ids in journald's format (generated once with `systemd-id128 new`).
    pub fn message_id(self) -> &'static str {
        match self {
            Kind::LoginSucceeded => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a01",
            Kind::LoginFailed => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a02",
            Kind::AccountLocked => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a03",
            Kind::AccountUnlocked => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a04",
            Kind::Logout => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a05",
            Kind::PasswordChanged => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a06",
            Kind::UserCreated => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a07",
            Kind::UserUpdated => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a08",
            Kind::UserDisabled => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a09",
            Kind::TenantCreated => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a0a",
            Kind::TenantUpdated => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a0b",
            Kind::TenantDisabled => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a0c",
            Kind::Bootstrap => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a0d",
            Kind::UserDeleted => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a0e",
            Kind::UserEnabled => "b4e1c9a27d354f0e8a6b2c9d1e7f3a51",
            Kind::SessionEnded => "b4e1c9a27d354f0e8a6b2c9d1e7f3a52",
            Kind::ConsentRevoked => "b4e1c9a27d354f0e8a6b2c9d1e7f3a53",
            Kind::UserRoleChanged => "5a9d2c7e1b3f4e6a8c0d2f4b6e8a1c3e",
            Kind::ApiTokenCreated => "5a9d2c7e1b3f4e6a8c0d2f4b6e8a1c3f",
            Kind::ApiTokenRevoked => "5a9d2c7e1b3f4e6a8c0d2f4b6e8a1c40",
            Kind::TenantEnabled => "7c1f0a5be2d84f7e9a4f3b8c6d2e1a0f",
            Kind::ClientCreated => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c01",
            Kind::ClientSecretRotated => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c02",
            Kind::ClientDeleted => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c03",
            Kind::KeyRotated => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c04",
            Kind::ConsentGranted => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c05",
            Kind::CodeReplayed => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c06",
            Kind::RefreshTokenReused => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c07",
            Kind::TokenRevoked => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c08",
            Kind::ClientUpdated => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c09",
            Kind::ClientDisabled => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c0a",
            Kind::ClientEnabled => "3e8b4d1c9f2a4b6e8d7c5a3f1e9b2c0b",
            Kind::MfaEnrolled => "371a5e7491bc4369ae802399aac44df1",
            Kind::MfaRemoved => "cc36ac595e164f1db3325fecc8138970",
            Kind::MfaVerified => "75b32a22231b4427b40d0ba96cef68a5",
            Kind::MfaFailed => "d4349c977abc461985d469a953d280a9",
            Kind::MfaReset => "2cbd1b3d396f4f89af7f90809d039322",
            Kind::RecoveryCodesCreated => "a853a1d809f94821a9a0bedd854abb4b",
            Kind::RecoveryCodeUsed => "364859146fee44c8ba80e64496af60aa",
            Kind::MfaCloneSuspected => "e0b5f3c27a9d4e61b8c4d2a7f19e6b35",
            Kind::PasswordReset => "19ba04488d464fdeae04a20d920ddbf0",
            Kind::UserInvited => "67be8123f6b84836a7c30d24cac9579d",
            Kind::InvitationAccepted => "108b1dc95fec4827987cc08504b2f8c5",
            Kind::EmailVerified => "125ff4ecc6d449889ddbf25954d993be",
            Kind::UserRegistered => "7ba421447b1247bd958ee3ae66b6acab",
        }
    }

    /// The sign-in counter an event adds to, if any.
    fn login_series(self) -> Option<Series> {
        match self {
            Kind::LoginSucceeded => Some(Series::Logins),
            Kind::LoginFailed | Kind::MfaFailed => Some(Series::Failures),
            Kind::AccountLocked => Some(Series::Lockouts),
            _ => None,
        }
    }

    /// Failures and lockouts are notices (5), the rest informational (6).
    fn priority(self) -> u8 {
        match self {
            Kind::LoginFailed
            | Kind::AccountLocked
            | Kind::CodeReplayed
            | Kind::RefreshTokenReused
            | Kind::MfaFailed
            | Kind::RecoveryCodeUsed => 5,
            // A passkey's private key may have been copied: a warning (4).
            Kind::MfaCloneSuspected => 4,
            _ => 6,
        }
    }
}

/// One event to record.
pub struct Event<'a> {
    pub kind: Kind,
    pub tenant: Option<TenantId>,
    pub target: Option<String>,
    pub metadata: serde_json::Value,
    pub ctx: &'a Context,
}

/// A recorded event waiting for its transaction to commit before it is journaled.
#[must_use = "call emit() after the transaction commits"]
pub struct Recorded(AuditRow, Kind);

/// Writes the audit row in `tx`.
pub async fn record(tx: &mut Tx, e: Event<'_>, now: UnixTime) -> Result<Recorded> {
    let row = AuditRow {
        event_type: e.kind.as_str().to_owned(),
        tenant_id: e.tenant,
        actor: e.ctx.actor.clone(),
        target: e.target,
        ip: e.ctx.ip.clone(),
        user_agent: e.ctx.user_agent.clone(),
        request_id: e.ctx.request_id.clone(),
        metadata: with_via(e.metadata, e.ctx.via).to_string(),
        created_at: now,
    };
    tx.audit_insert(&row).await?;
    // The dashboard's sign-in counters move with the events they count (store::login_stats).
    if let (Some(series), Some(tenant)) = (e.kind.login_series(), e.tenant) {
        tx.login_stats_bump(tenant, now, series).await?;
    }
    Ok(Recorded(row, e.kind))
}

/// Adds `"via"` (the surface a change came through) to an event's metadata object.
fn with_via(mut metadata: serde_json::Value, via: Option<&'static str>) -> serde_json::Value {
    if let (Some(via), Some(obj)) = (via, metadata.as_object_mut()) {
        obj.insert("via".into(), via.into());
    }
    metadata
}

/// The usual end of an audited change: record `e` in `tx`, commit, then journal it.
pub async fn commit(mut tx: Tx, e: Event<'_>, now: UnixTime) -> Result<()> {
    let recorded = record(&mut tx, e, now).await?;
    tx.commit().await?;
    recorded.emit();
    Ok(())
}

impl Recorded {
    /// Sends the journal entry (native protocol under systemd, a tracing event otherwise).
    pub fn emit(self) {
        let Recorded(row, kind) = self;
        let message = format!("audit: {}", row.event_type);
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let tenant = row.tenant_id.map(|t| t.to_string()).unwrap_or_default();
        let fields = [
            ("MESSAGE_ID", kind.message_id().to_owned()),
            ("OPENTRUSTY_AUDIT_EVENT", row.event_type.clone()),
            ("OPENTRUSTY_TENANT_ID", tenant.clone()),
            ("OPENTRUSTY_ACTOR", opt(&row.actor)),
            ("OPENTRUSTY_TARGET", opt(&row.target)),
            ("OPENTRUSTY_CLIENT_IP", opt(&row.ip)),
            ("OPENTRUSTY_REQUEST_ID", opt(&row.request_id)),
            ("OPENTRUSTY_METADATA", row.metadata.clone()),
        ];
        if systemd::journal_send(kind.priority(), &message, &fields) {
            return;
        }
        tracing::info!(
            target: "opentrusty::audit",
            audit_event = %row.event_type,
            message_id = kind.message_id(),
            tenant_id = %tenant,
            actor = row.actor.as_deref().unwrap_or(""),
            audit_target = row.target.as_deref().unwrap_or(""),
            client_ip = row.ip.as_deref().unwrap_or(""),
            request_id = row.request_id.as_deref().unwrap_or(""),
            metadata = %row.metadata,
            "{message}"
        );
    }
}

/// The newest audit events of a tenant, or installation-wide ones with `None`.
pub async fn list(app: &App, tenant: Option<&Tenant>, limit: i64) -> Result<Vec<AuditRow>> {
    let mut tx = app.store.read().await?;
    Ok(match tenant {
        Some(t) => tx.scope(t).audit_list(limit).await?,
        None => tx.audit_list_global(limit).await?,
    })
}

/// Whose events a page or an export reads.
#[derive(Clone, Debug)]
pub enum Of {
    /// One tenant's.
    Tenant(Tenant),
    /// The installation's: every tenant's and the installation-wide events, or one tenant's
    /// (by id) when given (platform callers).
    Installation(Option<TenantId>),
}

/// Up to `limit` events of `of` matching `f` after the event id `after`, oldest first.
pub async fn page(
    app: &App,
    of: &Of,
    f: &AuditFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEvent>> {
    let mut tx = app.store.read().await?;
    Ok(match of {
        Of::Tenant(t) => tx.scope(t).audit_page(f, after, limit).await?,
        Of::Installation(t) => tx.audit_page_global(*t, f, after, limit).await?,
    })
}

/// Up to `limit` events of `of` as one chunk of JSON lines rendered by the store (see
/// `store::audit::AuditChunk`), for exports.
pub async fn chunk(
    app: &App,
    of: &Of,
    f: &AuditFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<AuditChunk> {
    let mut tx = app.store.read().await?;
    Ok(match of {
        Of::Tenant(t) => tx.scope(t).audit_chunk(f, after, limit).await?,
        Of::Installation(t) => tx.audit_chunk_global(*t, f, after, limit).await?,
    })
}

/// Rows per database round trip of an export: large enough that the per-query cost vanishes,
/// small enough that an export holds a few hundred kilobytes at most, however long it is.
pub const EXPORT_PAGE: i64 = 1000;

/// A whole filtered range of events, read page by page (keyset on the id, one short read
/// transaction per page, so an export of millions of events never holds a snapshot or a
/// big buffer). Events written while it runs are included if they match.
pub struct Export {
    app: crate::app::AppState,
    of: Of,
    filter: AuditFilter,
    after: Option<String>,
    done: bool,
}

impl Export {
    pub fn new(
        app: crate::app::AppState,
        of: Of,
        filter: AuditFilter,
        after: Option<String>,
    ) -> Export {
        Export {
            app,
            of,
            filter,
            after,
            done: false,
        }
    }

    /// The next page as JSON lines (without a final newline), or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<String>> {
        if self.done {
            return Ok(None);
        }
        let page = chunk(
            &self.app,
            &self.of,
            &self.filter,
            self.after.as_deref(),
            EXPORT_PAGE,
        )
        .await?;
        self.done = page.count < EXPORT_PAGE;
        match (page.last_id, page.lines) {
            (Some(last), Some(lines)) if page.count > 0 => {
                self.after = Some(last);
                Ok(Some(lines))
            }
            _ => Ok(None),
        }
    }
}
