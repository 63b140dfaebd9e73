//! `tenant ...` and `audit` through the daemon (`/api/v1/tenants`, `/api/v1/.../audit`).

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::Failure;
use super::{Remote, Result, tenant_path};
use crate::cli::identity::{
    AuditArgs, BootstrapArgs, TenantCommand, mfa_text, print, read_password, registration_text,
};

/// The offline command's JSON shape from the API's tenant (`display_name` is `name` there).
fn tenant_json(v: &Value) -> Value {
    json!({
        "slug": v["slug"], "name": v["display_name"], "status": v["status"], "mfa": v["mfa"],
        "registration": v["registration"],
        "issuer": v["issuer"], "created_at": v["created_at"], "updated_at": v["updated_at"],
    })
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `bootstrap` through the daemon: the platform tenant and its first owner in the daemon's
/// own database. The password file is read here; a generated password comes back once.
pub fn bootstrap(r: &Remote, args: BootstrapArgs) -> Result<()> {
    let password = match &args.password_file {
        Some(p) => Some(read_password(p).map_err(|e| Failure::Local(e.to_string()))?),
        None => None,
    };
    let v = r.call(
        "POST",
        "/api/v1/bootstrap",
        Some(json!({ "email": args.email, "password": password })),
    )?;
    let mut value = json!({
        "tenant": tenant_json(&v["tenant"]),
        "user": super::users::user_json(&v["user"]),
    });
    let mut text = format!(
        "created platform administrator {} in tenant {}",
        s(&v["user"]["email"]),
        s(&v["tenant"]["slug"])
    );
    if let Some(p) = v["password"].as_str() {
        value["password"] = json!(p);
        text.push_str(&format!("\npassword (shown once): {p}"));
    }
    print(&args.out, value, text);
    Ok(())
}

pub fn tenant(r: &Remote, cmd: TenantCommand) -> Result<()> {
    match cmd {
        TenantCommand::Create { slug, name, out } => {
            let t = r.call(
                "POST",
                "/api/v1/tenants",
                Some(json!({ "slug": slug, "display_name": name })),
            )?;
            let text = format!(
                "created tenant {} (issuer {})",
                s(&t["slug"]),
                s(&t["issuer"])
            );
            print(&out, tenant_json(&t), text);
        }
        TenantCommand::List { out } => {
            let all = r.all("/api/v1/tenants", usize::MAX)?;
            let text = all
                .iter()
                .map(|t| {
                    format!(
                        "{}\t{}\t{}\tmfa={}",
                        s(&t["slug"]),
                        s(&t["status"]),
                        s(&t["display_name"]),
                        s(&t["mfa"])
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(
                &out,
                json!(all.iter().map(tenant_json).collect::<Vec<_>>()),
                text,
            );
        }
        TenantCommand::Update {
            slug,
            name,
            mfa,
            registration,
            out,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(n) = &name {
                body.insert("display_name".into(), json!(n));
            }
            if let Some(m) = &mfa {
                body.insert("mfa".into(), json!(m));
            }
            if let Some(reg) = &registration {
                body.insert("registration".into(), json!(reg));
            }
            let t = r.call("PATCH", &tenant_path(&slug, ""), Some(Value::Object(body)))?;
            let mut lines = Vec::new();
            if name.is_some() {
                lines.push(format!(
                    "renamed tenant {} to {:?}",
                    s(&t["slug"]),
                    s(&t["display_name"])
                ));
            }
            if mfa.is_some() {
                lines.push(mfa_text(s(&t["slug"]), s(&t["mfa"])));
            }
            if registration.is_some() {
                lines.push(registration_text(s(&t["slug"]), s(&t["registration"])));
            }
            print(&out, tenant_json(&t), lines.join("\n"));
        }
        TenantCommand::Disable { slug, out } => {
            let t = r.call("POST", &tenant_path(&slug, "disable"), None)?;
            let text = format!(
                "disabled tenant {}; its sessions and tokens were ended",
                s(&t["slug"])
            );
            print(&out, tenant_json(&t), text);
        }
        TenantCommand::Enable { slug, out } => {
            let t = r.call("POST", &tenant_path(&slug, "enable"), None)?;
            print(
                &out,
                tenant_json(&t),
                format!("enabled tenant {}", s(&t["slug"])),
            );
        }
    }
    Ok(())
}

/// The newest `--limit` events, newest first, as the offline command shows them. The API
/// pages oldest first, so the filtered range is streamed (NDJSON) and only the last `limit`
/// events are kept: constant memory however long the trail. Without `--tenant`, the
/// platform's trail (every tenant's events).
pub fn audit(r: &Remote, args: AuditArgs) -> Result<()> {
    let path = match &args.tenant {
        Some(slug) => tenant_path(slug, "audit"),
        None => "/api/v1/audit".to_owned(),
    };
    let limit = usize::try_from(args.limit).unwrap_or(50);
    let mut last = VecDeque::with_capacity(limit.min(1024));
    r.lines(&path, |mut event| {
        // The API names it `type`; the offline command's rows say `event_type`.
        if event.get("event_type").is_none()
            && let Some(t) = event.get("type").cloned()
        {
            event["event_type"] = t;
        }
        if last.len() == limit {
            last.pop_front();
        }
        last.push_back(event);
    })?;
    let rows: Vec<Value> = last.into_iter().rev().collect();
    let text = rows
        .iter()
        .map(|r| {
            let o = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            let metadata = match &r["metadata"] {
                Value::String(m) => m.clone(),
                other => other.to_string(),
            };
            format!(
                "{}  {:<18} actor={} target={} ip={} {}",
                when(r["created_at"].as_i64().unwrap_or(0)),
                s(&r["event_type"]),
                o(&r["actor"]),
                o(&r["target"]),
                o(&r["ip"]),
                metadata
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    print(&args.out, json!(rows), text);
    Ok(())
}

fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}
