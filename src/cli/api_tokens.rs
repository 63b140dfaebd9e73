//! `opentrusty api-token create|list|revoke`: API tokens for automation (issue 10). The token
//! is printed once, at creation.

use clap::Subcommand;
use serde_json::json;

use super::identity::{Output, print};
use crate::app::App;
use crate::domain::role::Role;
use crate::service::{self, Context, admin, api_tokens};
use crate::store::api_tokens::ApiTokenRow;

#[derive(Subcommand, Debug)]
pub enum ApiTokenCommand {
    /// Create a token bound to a tenant (or `platform`) and a role; prints it once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_parser = ["owner", "admin", "viewer"])]
        role: String,
        /// What the token is for, e.g. `ci`.
        #[arg(long)]
        name: String,
        /// Lifetime: seconds, or a number with s, m, h or d (`45s`, `15m`, `12h`, `30d`);
        /// from 10 s to 366 days.
        #[arg(long, value_name = "DURATION")]
        expires_in: String,
        #[command(flatten)]
        out: Output,
    },
    /// List a tenant's tokens (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        out: Output,
    },
    /// Revoke a token: it is refused from the next request on, on every node.
    Revoke {
        #[arg(long)]
        tenant: String,
        id: String,
        #[command(flatten)]
        out: Output,
    },
}

fn token_json(t: &ApiTokenRow) -> serde_json::Value {
    json!({
        "id": t.id, "name": t.name, "role": t.role, "created_by": t.created_by,
        "created_at": t.created_at, "expires_at": t.expires_at, "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    })
}

pub async fn api_token(app: &App, cmd: ApiTokenCommand) -> service::Result<()> {
    let ctx = Context::cli();
    match cmd {
        ApiTokenCommand::Create {
            tenant,
            role,
            name,
            expires_in,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let role = Role::parse(&role)
                .ok_or_else(|| service::Error::Invalid(format!("unknown role {role:?}")))?;
            let lifetime = api_tokens::parse_lifetime(&expires_in)?;
            // An operator at the host may create a token of any role.
            let c = api_tokens::create(app, &tenant, &name, role, lifetime, None, &ctx).await?;
            let mut v = token_json(&c.row);
            v["token"] = json!(c.token);
            print(
                &out,
                v,
                format!(
                    "{}\n(id {}, role {}, expires at {}; shown once: store it now)",
                    c.token, c.row.id, c.row.role, c.row.expires_at
                ),
            );
        }
        ApiTokenCommand::List { tenant, out } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let tokens = api_tokens::list(app, &tenant).await?;
            let text = tokens
                .iter()
                .map(|t| {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else if t.expires_at <= app.clock.now() {
                        "expired"
                    } else {
                        "active"
                    };
                    format!(
                        "{}\t{}\t{}\t{state}\t{}",
                        t.id, t.name, t.role, t.expires_at
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(
                &out,
                json!(tokens.iter().map(token_json).collect::<Vec<_>>()),
                text,
            );
        }
        ApiTokenCommand::Revoke { tenant, id, out } => {
            let tenant = admin::tenant(app, &tenant).await?;
            api_tokens::revoke(app, &tenant, &id, &ctx).await?;
            print(&out, json!({ "revoked": id }), format!("revoked {id}"));
        }
    }
    Ok(())
}
