//! Operator commands for the users of a tenant: create, invite, list, update, unlock,
//! set-password, disable, delete. Like every command they accept `--json`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::identity::{Output, print, read_password};
use crate::app::App;
use crate::domain::role::Role;
use crate::domain::user::{Profile, User};
use crate::service::authz::{self, grant};
use crate::service::manage::factors;
use crate::service::{self, Context, admin, invite, roles};

#[derive(Args, Debug)]
pub struct UserRef {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// The user's email address.
    #[arg(long)]
    pub email: String,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[command(flatten)]
        user: UserRef,
        /// Read the password from this file (`-` for standard input); without it the user
        /// cannot log in with a password until one is set.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Full name (defaults to given and family name).
        #[arg(long)]
        name: Option<String>,
        /// Mark the email address as verified.
        #[arg(long)]
        email_verified: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Invite a person: create the user without a password (or invite again a user who has
    /// none) and mail a link to choose one, valid for 7 days. Needs mail
    /// (OPENTRUSTY_SMTP_URL and OPENTRUSTY_MAIL_FROM).
    Invite {
        #[command(flatten)]
        user: UserRef,
        /// Full name (the `name` claim).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// List the users of a tenant.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        out: Output,
    },
    /// Change a user's profile claims (an empty value clears a field).
    Update {
        #[command(flatten)]
        user: UserRef,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        nickname: Option<String>,
        /// An https:// URL.
        #[arg(long)]
        picture: Option<String>,
        /// BCP 47 language tag, e.g. en-GB.
        #[arg(long)]
        locale: Option<String>,
        /// IANA time zone, e.g. Europe/Paris.
        #[arg(long)]
        zoneinfo: Option<String>,
        #[arg(long)]
        email_verified: Option<bool>,
        #[command(flatten)]
        out: Output,
    },
    /// Clear a lockout after too many failed logins.
    Unlock {
        #[command(flatten)]
        user: UserRef,
        #[command(flatten)]
        out: Output,
    },
    /// Set a new password (ends the user's sessions and revokes their tokens).
    SetPassword {
        #[command(flatten)]
        user: UserRef,
        /// Read the password from this file (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Disable a user (ends the user's sessions and revokes their tokens).
    Disable {
        #[command(flatten)]
        user: UserRef,
        #[command(flatten)]
        out: Output,
    },
    /// Delete a user and their personal data, sessions, tokens and consents (the audit trail
    /// keeps the user's id).
    Delete {
        #[command(flatten)]
        user: UserRef,
        #[command(flatten)]
        out: Output,
    },
    /// Remove every second factor (authenticator apps, security keys, passkeys) and recovery
    /// code of a user, e.g. after a lost phone: the user signs in with the password alone, or
    /// enrols again at the next login where a factor is required.
    ResetMfa {
        #[command(flatten)]
        user: UserRef,
        #[command(flatten)]
        out: Output,
    },
    /// Give a user a management role in their tenant (owner, admin, viewer), or take it away
    /// with `none`. A role in the `platform` tenant holds on every tenant. A tenant always
    /// keeps one active owner.
    Role {
        #[command(flatten)]
        user: UserRef,
        #[arg(long, value_parser = ["owner", "admin", "viewer", "none"])]
        role: String,
        #[command(flatten)]
        out: Output,
    },
}

/// What `user invite` says it did (offline and through the daemon alike).
pub(super) fn invite_text(email: &str, tenant: &str, created: bool, expires_at: i64) -> String {
    let what = if created { "invited" } else { "invited again" };
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let until = time::OffsetDateTime::from_unix_timestamp(expires_at)
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| expires_at.to_string());
    format!(
        "{what} {email} to tenant {tenant}: a link to choose a password is mailed, valid until {until}"
    )
}

/// What `user reset-mfa` says it did (offline and through the daemon alike).
pub(super) fn reset_text(email: &str, removed: u64) -> String {
    format!("second factors of {email} reset: {removed} factor(s) and every recovery code removed")
}

pub(super) fn user_json(u: &User, now: i64) -> serde_json::Value {
    json!({
        "id": u.id, "email": u.email, "email_verified": u.email_verified, "status": u.status,
        "locked": u.is_locked(now), "failed_attempts": u.failed_attempts, "profile": u.profile,
        "created_at": u.created_at,
    })
}

pub async fn user(app: &App, cmd: UserCommand) -> service::Result<()> {
    let ctx = Context::cli();
    let now = app.clock.now();
    match cmd {
        UserCommand::Create {
            user,
            password_file,
            given_name,
            family_name,
            name,
            email_verified,
            out,
        } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let password = password_file.as_ref().map(read_password).transpose()?;
            let name = name.or_else(|| match (&given_name, &family_name) {
                (Some(g), Some(f)) => Some(format!("{g} {f}")),
                (g, f) => g.clone().or_else(|| f.clone()),
            });
            let profile = Profile {
                given_name,
                family_name,
                name,
                ..Profile::default()
            };
            let input = admin::UserInput {
                email: &user.email,
                password: password.as_deref(),
                profile,
                email_verified,
            };
            let u = admin::user_create(app, &tenant, input, &ctx).await?;
            print(
                &out,
                user_json(&u, now),
                format!(
                    "created user {} ({}) in tenant {}",
                    u.email, u.id, tenant.slug
                ),
            );
        }
        UserCommand::Invite { user, name, out } => {
            // As the API's invitation: the use case with the operator's proof (one rule).
            let me = super::identity::operator();
            let auth =
                authz::authorize_slug::<grant::UsersWrite>(app, &me, &user.tenant, &ctx).await?;
            let invitation = invite::Invitation {
                email: &user.email,
                name: name.as_deref(),
            };
            let done = invite::invite(app, &auth, invitation).await?;
            let u = &done.user;
            let mut value = user_json(u, now);
            value["created"] = json!(done.created);
            value["expires_at"] = json!(done.expires_at);
            let text = invite_text(
                u.email.as_str(),
                &user.tenant,
                done.created,
                done.expires_at,
            );
            print(&out, value, text);
        }
        UserCommand::List { tenant, out } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let all = admin::users_list(app, &tenant).await?;
            let value = json!(all.iter().map(|u| user_json(u, now)).collect::<Vec<_>>());
            let text = all
                .iter()
                .map(|u| {
                    format!(
                        "{}\t{}\t{}{}",
                        u.email,
                        u.id,
                        u.status.as_str(),
                        if u.is_locked(now) { "\tlocked" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(&out, value, text);
        }
        UserCommand::Update {
            user,
            given_name,
            family_name,
            name,
            nickname,
            picture,
            locale,
            zoneinfo,
            email_verified,
            out,
        } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let patch = admin::ProfilePatch {
                given_name,
                family_name,
                name,
                nickname,
                picture,
                locale,
                zoneinfo,
                email_verified,
            };
            let u = admin::user_update(app, &tenant, &user.email, patch, &ctx).await?;
            print(&out, user_json(&u, now), format!("updated {}", u.email));
        }
        UserCommand::Unlock { user, out } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let u = admin::user_unlock(app, &tenant, &user.email, &ctx).await?;
            print(
                &out,
                json!({ "unlocked": u.email }),
                format!("unlocked {}", u.email),
            );
        }
        UserCommand::SetPassword {
            user,
            password_file,
            out,
        } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let password = read_password(&password_file)?;
            let u = admin::user_set_password(app, &tenant, &user.email, &password, &ctx).await?;
            print(
                &out,
                json!({ "password_set": u.email }),
                format!(
                    "password set for {}; their sessions and tokens were ended",
                    u.email
                ),
            );
        }
        UserCommand::Disable { user, out } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let u = admin::user_disable(app, &tenant, &user.email, &ctx).await?;
            print(&out, user_json(&u, now), format!("disabled {}", u.email));
        }
        UserCommand::Delete { user, out } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let id = admin::user_delete(app, &tenant, &user.email, &ctx).await?;
            print(&out, json!({ "deleted": id }), format!("deleted user {id}"));
        }
        UserCommand::ResetMfa { user, out } => {
            // As the API's reset: the use case with the operator's proof (one rule).
            let me = super::identity::operator();
            let auth =
                authz::authorize_slug::<grant::UsersWrite>(app, &me, &user.tenant, &ctx).await?;
            let u = admin::find_user(app, auth.tenant(), &user.email).await?;
            let n = factors::reset(app, &auth, u.id).await?;
            print(
                &out,
                json!({ "id": u.id, "email": u.email, "factors_removed": n }),
                reset_text(u.email.as_str(), n),
            );
        }
        UserCommand::Role { user, role, out } => {
            let tenant = admin::tenant(app, &user.tenant).await?;
            let role = Role::parse(&role);
            let (u, role) = roles::set_role(app, &tenant, &user.email, role, &ctx).await?;
            let name = role.map_or("none", Role::as_str);
            print(
                &out,
                json!({ "id": u.id, "email": u.email, "tenant": tenant.slug.as_str(), "role": role }),
                format!("{} in {}: {name}", u.email, tenant.slug),
            );
        }
    }
    Ok(())
}
