//! Invitations (issue 13): an operator creates a user without a password (or invites again a
//! user who still has none), and the user chooses one through a link sent by mail, valid for
//! seven days. The user, the link and the mail are one transaction. The link's page is the
//! reset page's code (`service::reset::complete` with the invite purpose).

use std::time::Duration;

use serde_json::json;

use super::admin::{check_claim, parse_email};
use super::audit::{self, Event, Kind};
use super::authz::Authorized;
use super::authz::grant::UsersWrite;
use super::links::{self, Purpose};
use super::mail::{self, Letter};
use super::reset::link_url;
use super::{Error, Result};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::user::{Profile, User};
use crate::store::users::NewUser;

/// How long an invitation link works (issue 13: 7 days).
pub const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the operator asked for.
pub struct Invitation<'a> {
    pub email: &'a str,
    /// The full name claim, if given.
    pub name: Option<&'a str>,
}

/// The invited user and until when the link works.
pub struct Invited {
    pub user: User,
    /// Whether the user was created now (false: invited again).
    pub created: bool,
    pub expires_at: UnixTime,
}

/// The one message for "this server sends no mail", naming the setting that turns it on.
pub const MAIL_OFF: &str = "invitations are sent by mail, and this server has no mail \
     configured: set OPENTRUSTY_SMTP_URL and OPENTRUSTY_MAIL_FROM";

/// Creates the user without a password (or takes the existing one that has none), issues the
/// invitation link and queues its mail, in one audited transaction; then wakes the sender.
/// 409 for an address whose user already has a password or is disabled, and when mail is off.
pub async fn invite(
    app: &App,
    auth: &Authorized<UsersWrite>,
    invitation: Invitation<'_>,
) -> Result<Invited> {
    if !mail::enabled(app) {
        return Err(Error::Conflict(MAIL_OFF.into()));
    }
    let email = parse_email(invitation.email)?;
    let name = invitation
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(n) = &name {
        check_claim("name", n)?;
    }
    let tenant = auth.tenant();
    let ctx = auth.ctx();
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let (user, created) = match scope.user_by_email(&email).await? {
        Some(u) if u.password_hash.is_some() => {
            return Err(Error::Conflict(format!(
                "{email} already has a password in tenant {}: nothing to invite (a forgotten \
                 password is reset from the sign-in page)",
                tenant.slug
            )));
        }
        Some(u) if !u.is_active() => {
            return Err(Error::Conflict(format!(
                "{email} is disabled in tenant {}: enable the user first",
                tenant.slug
            )));
        }
        Some(u) => (u, false),
        None => {
            let profile = Profile {
                name,
                ..Profile::default()
            };
            let new = NewUser {
                email: &email,
                email_verified: false,
                password_hash: None,
                profile: &profile,
            };
            let user = scope.user_insert(&new, now).await.map_err(|e| match e {
                crate::store::Error::Conflict(_) => Error::Conflict(format!(
                    "a user with email {email} already exists in tenant {}",
                    tenant.slug
                )),
                other => other.into(),
            })?;
            (user, true)
        }
    };
    let token = links::issue(
        &mut scope,
        &user,
        Purpose::Invite,
        &user.email,
        INVITE_TTL,
        now,
    )
    .await?;
    let link = link_url(app, tenant, Purpose::Invite, &token);
    let letter = Letter {
        kind: "invitation",
        to: &user.email,
        subject: format!("You are invited to {}", tenant.display_name),
        lead: format!(
            "An account was made for you at {}: {}. Choose your password to start using it.",
            tenant.display_name, user.email
        ),
        action: "Choose your password",
        link: &link,
        note: "The link works once, for 7 days. If you did not expect this invitation, \
               ignore this mail."
            .into(),
    };
    let m = mail::compose(tenant, &letter)?;
    mail::queue(&mut scope, &m, now).await?;
    let target = Some(format!("user:{}", user.id));
    let mut recorded = Vec::with_capacity(2);
    if created {
        let ev = Event {
            kind: Kind::UserCreated,
            tenant: Some(tenant.id),
            target: target.clone(),
            metadata: json!({ "email": user.email.as_str(), "has_password": false }),
            ctx,
        };
        recorded.push(audit::record(&mut tx, ev, now).await?);
    }
    let expires_at = now + INVITE_TTL.as_secs() as i64;
    let ev = Event {
        kind: Kind::UserInvited,
        tenant: Some(tenant.id),
        target,
        metadata: json!({ "created": created, "expires_at": expires_at }),
        ctx,
    };
    recorded.push(audit::record(&mut tx, ev, now).await?);
    tx.commit().await?;
    recorded.into_iter().for_each(audit::Recorded::emit);
    mail::wake(app);
    Ok(Invited {
        user,
        created,
        expires_at,
    })
}
