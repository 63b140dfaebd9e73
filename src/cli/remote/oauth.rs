//! `client ...` and `keys ...` through the daemon (`/api/v1/tenants/{slug}/clients`, `/keys`).
//! The API speaks RFC 7591 names; answers are printed in the offline commands' shape.

use serde_json::{Map, Value, json};

use super::{Remote, Result, seg, tenant_path};
use crate::cli::identity::print;
use crate::cli::oauth::{ClientCommand, KeysCommand};

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The offline command's JSON shape (the stored client's field names) from the API's client.
fn client_json(v: &Value) -> Value {
    let public = s(&v["token_endpoint_auth_method"]) == "none";
    let scopes = v["scope"].as_str().map(|sc| {
        sc.split_whitespace()
            .map(|x| Value::from(x.to_owned()))
            .collect::<Vec<_>>()
    });
    let mut out = json!({
        "client_id": v["client_id"], "name": v["client_name"],
        "kind": if public { "public" } else { "confidential" },
        "auth_method": v["token_endpoint_auth_method"],
        "redirect_uris": v["redirect_uris"], "post_logout_redirect_uris": v["post_logout_redirect_uris"],
        "grant_types": v["grant_types"], "scopes": scopes,
        "id_token_alg": v["id_token_signed_response_alg"],
    });
    let rest = [
        "access_token_ttl",
        "refresh_token_ttl",
        "id_token_ttl",
        "require_pkce",
        "allow_plain_pkce",
        "first_party",
        "claims_in_id_token",
        "introspection",
        "require_mfa",
        "status",
        "created_at",
        "updated_at",
        "client_secret",
    ];
    for k in rest {
        if !v[k].is_null() {
            out[k] = v[k].clone();
        }
    }
    out
}

fn client_path(tenant: &str, client_id: &str, rest: &str) -> String {
    let p = format!("clients/{}", seg(client_id));
    tenant_path(
        tenant,
        &if rest.is_empty() {
            p
        } else {
            format!("{p}/{rest}")
        },
    )
}

pub fn client(r: &Remote, cmd: ClientCommand) -> Result<()> {
    match cmd {
        ClientCommand::Create(spec) => {
            let mut body = Map::new();
            body.insert("client_name".into(), json!(spec.name));
            body.insert("redirect_uris".into(), json!(spec.redirect_uris));
            if !spec.post_logout_redirect_uris.is_empty() {
                body.insert(
                    "post_logout_redirect_uris".into(),
                    json!(spec.post_logout_redirect_uris),
                );
            }
            if !spec.grants.is_empty() {
                body.insert("grant_types".into(), json!(spec.grants));
            }
            if !spec.scopes.is_empty() {
                body.insert("scope".into(), json!(spec.scopes.join(" ")));
            }
            let method = if spec.public {
                Some("none".to_owned())
            } else {
                spec.auth_method.clone()
            };
            if let Some(m) = method {
                body.insert("token_endpoint_auth_method".into(), json!(m));
            }
            if let Some(a) = &spec.id_token_alg {
                body.insert("id_token_signed_response_alg".into(), json!(a));
            }
            // Flags only when set: the defaults are the API's too.
            for (k, on) in [
                ("first_party", spec.first_party),
                ("require_pkce", spec.require_pkce),
                ("allow_plain_pkce", spec.allow_plain_pkce),
                ("claims_in_id_token", spec.claims_in_id_token),
                ("introspection", spec.introspection),
                ("require_mfa", spec.require_mfa.unwrap_or(false)),
            ] {
                if on {
                    body.insert(k.into(), json!(true));
                }
            }
            for (k, ttl) in [
                ("access_token_ttl", spec.access_token_ttl),
                ("refresh_token_ttl", spec.refresh_token_ttl),
                ("id_token_ttl", spec.id_token_ttl),
            ] {
                if let Some(t) = ttl {
                    body.insert(k.into(), json!(t));
                }
            }
            let c = r.call(
                "POST",
                &tenant_path(&spec.tenant, "clients"),
                Some(Value::Object(body)),
            )?;
            let mut text = format!("client_id: {}", s(&c["client_id"]));
            if let Some(secret) = c["client_secret"].as_str() {
                text.push_str(&format!("\nclient_secret (shown once): {secret}"));
            }
            print(&spec.out, client_json(&c), text);
        }
        ClientCommand::List { tenant, out } => {
            let all: Vec<Value> = r
                .all(&tenant_path(&tenant, "clients"), usize::MAX)?
                .iter()
                .map(client_json)
                .collect();
            let text = all
                .iter()
                .map(|c| {
                    let kind = if s(&c["kind"]) == "public" {
                        "Public"
                    } else {
                        "Confidential"
                    };
                    let status = c["status"].as_str().unwrap_or("active");
                    format!(
                        "{}\t{kind}\t{status}\t{}",
                        s(&c["client_id"]),
                        s(&c["name"])
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(&out, json!(all), text);
        }
        ClientCommand::Update {
            tenant,
            client_id,
            introspection,
            require_mfa,
            out,
        } => {
            let mut body = Map::new();
            if let Some(b) = introspection {
                body.insert("introspection".into(), json!(b));
            }
            if let Some(b) = require_mfa {
                body.insert("require_mfa".into(), json!(b));
            }
            let body = Value::Object(body);
            let c = r.call("PATCH", &client_path(&tenant, &client_id, ""), Some(body))?;
            let text = format!("updated client {}", s(&c["client_id"]));
            print(&out, client_json(&c), text);
        }
        ClientCommand::Disable {
            tenant,
            client_id,
            out,
        } => {
            let c = r.call(
                "PATCH",
                &client_path(&tenant, &client_id, ""),
                Some(json!({ "status": "disabled" })),
            )?;
            let text = format!(
                "disabled client {}; its tokens were revoked",
                s(&c["client_id"])
            );
            print(&out, client_json(&c), text);
        }
        ClientCommand::Enable {
            tenant,
            client_id,
            out,
        } => {
            let c = r.call(
                "PATCH",
                &client_path(&tenant, &client_id, ""),
                Some(json!({ "status": "active" })),
            )?;
            let text = format!("enabled client {}", s(&c["client_id"]));
            print(&out, client_json(&c), text);
        }
        ClientCommand::RotateSecret {
            tenant,
            client_id,
            out,
        } => {
            let c = r.call("POST", &client_path(&tenant, &client_id, "secret"), None)?;
            let secret = s(&c["client_secret"]).to_owned();
            print(
                &out,
                json!({ "client_id": client_id, "client_secret": secret }),
                format!("client_secret (shown once): {secret}"),
            );
        }
        ClientCommand::Delete {
            tenant,
            client_id,
            out,
        } => {
            r.call("DELETE", &client_path(&tenant, &client_id, ""), None)?;
            print(
                &out,
                json!({ "deleted": client_id }),
                format!("deleted client {client_id}"),
            );
        }
    }
    Ok(())
}

pub fn keys(r: &Remote, cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Rotate {
            tenant,
            alg,
            activate_in,
            out,
        } => {
            let k = r.call(
                "POST",
                &tenant_path(&tenant, "keys/rotate"),
                Some(json!({ "alg": alg, "activate_in": activate_in })),
            )?;
            let value = json!({
                "kid": k["kid"], "alg": k["alg"], "generation": k["generation"],
                "activates_at": k["activates_at"],
            });
            let text = format!(
                "new {} key {} (generation {}) is published now and signs from {}",
                s(&k["alg"]),
                s(&k["kid"]),
                k["generation"],
                k["activates_at"]
            );
            print(&out, value, text);
        }
        KeysCommand::List { tenant, out } => {
            let v = r.get(&tenant_path(&tenant, "keys"))?;
            // A page (`items`) or a plain array: keys are few, either way all of them.
            let metas = v["items"].as_array().or(v.as_array()).cloned();
            let metas = metas.unwrap_or_default();
            let value = json!(
                metas
                    .iter()
                    .map(|m| json!({
                        "kid": m["kid"], "alg": m["alg"], "generation": m["generation"],
                        "activates_at": m["activates_at"], "state": m["state"],
                    }))
                    .collect::<Vec<_>>()
            );
            let text = metas
                .iter()
                .map(|m| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        s(&m["alg"]),
                        m["generation"],
                        s(&m["state"]),
                        s(&m["kid"])
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(&out, value, text);
        }
    }
    Ok(())
}
