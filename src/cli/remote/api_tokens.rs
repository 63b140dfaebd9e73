//! `api-token ...` through the daemon (`/api/v1/tenants/{slug}/api-tokens`). The daemon caps
//! the token's role at the caller's; a local operator is a platform owner.

use serde_json::{Value, json};

use super::{Remote, Result, seg, tenant_path};
use crate::cli::api_tokens::ApiTokenCommand;
use crate::cli::identity::print;
use crate::service::api_tokens::parse_lifetime;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn token_json(t: &Value) -> Value {
    let mut out = json!({});
    for k in [
        "id",
        "name",
        "role",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "token",
    ] {
        if t.get(k).is_some() {
            out[k] = t[k].clone();
        }
    }
    out
}

pub fn api_token(r: &Remote, cmd: ApiTokenCommand) -> Result<()> {
    match cmd {
        ApiTokenCommand::Create {
            tenant,
            role,
            name,
            expires_in,
            out,
        } => {
            // Checked here first, with the offline command's message; sent as seconds.
            let lifetime = parse_lifetime(&expires_in)?;
            let t = r.call(
                "POST",
                &tenant_path(&tenant, "api-tokens"),
                Some(json!({ "name": name, "role": role, "expires_in": lifetime.as_secs() })),
            )?;
            let text = format!(
                "{}\n(id {}, role {}, expires at {}; shown once: store it now)",
                s(&t["token"]),
                s(&t["id"]),
                s(&t["role"]),
                t["expires_at"]
            );
            print(&out, token_json(&t), text);
        }
        ApiTokenCommand::List { tenant, out } => {
            let tokens = r.all(&tenant_path(&tenant, "api-tokens"), usize::MAX)?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let text = tokens
                .iter()
                .map(|t| {
                    let expires = t["expires_at"].as_i64().unwrap_or(0);
                    let state = if !t["revoked_at"].is_null() {
                        "revoked"
                    } else if expires <= now {
                        "expired"
                    } else {
                        "active"
                    };
                    format!(
                        "{}\t{}\t{}\t{state}\t{expires}",
                        s(&t["id"]),
                        s(&t["name"]),
                        s(&t["role"])
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
            let path = tenant_path(&tenant, &format!("api-tokens/{}", seg(&id)));
            r.call("DELETE", &path, None)?;
            print(&out, json!({ "revoked": id }), format!("revoked {id}"));
        }
    }
    Ok(())
}
