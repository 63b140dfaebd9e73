//! `user ...` through the daemon (`/api/v1/tenants/{slug}/users`). The CLI names users by
//! email, the API by id: the id is looked up with the `email` filter first.

use serde_json::{Map, Value, json};

use super::{Failure, Remote, Result, query, seg, tenant_path};
use crate::cli::identity::{print, read_password};
use crate::cli::users::{UserCommand, UserRef, invite_text, reset_text};

const PROFILE: [&str; 7] = [
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "locale",
    "zoneinfo",
];

/// The offline command's JSON shape from the API's user (profile claims grouped).
pub(super) fn user_json(v: &Value) -> Value {
    let profile: Map<String, Value> = PROFILE
        .iter()
        .filter(|k| !v[**k].is_null())
        .map(|k| ((*k).to_owned(), v[*k].clone()))
        .collect();
    json!({
        "id": v["id"], "email": v["email"], "email_verified": v["email_verified"],
        "status": v["status"], "locked": v["locked"], "role": v["role"],
        "profile": profile, "created_at": v["created_at"], "updated_at": v["updated_at"],
    })
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The user `who` names, as the API shows it.
fn find(r: &Remote, who: &UserRef) -> Result<Value> {
    let path = tenant_path(&who.tenant, &format!("users?email={}", query(&who.email)));
    let hits = r.all(&path, usize::MAX)?;
    hits.into_iter()
        .find(|u| s(&u["email"]).eq_ignore_ascii_case(&who.email))
        .ok_or(Failure::Api {
            status: 404,
            message: "user not found".into(),
        })
}

fn user_path(who: &UserRef, id: &Value, rest: &str) -> String {
    let base = format!("users/{}", seg(s(id)));
    let rest = if rest.is_empty() {
        base
    } else {
        format!("{base}/{rest}")
    };
    tenant_path(&who.tenant, &rest)
}

/// Only the fields given: the API tells "absent" from "cleared" (`""`).
fn fields(pairs: &[(&str, Option<Value>)]) -> Value {
    let m: Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
        .collect();
    Value::Object(m)
}

pub fn user(r: &Remote, cmd: UserCommand) -> Result<()> {
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
            let password = password_file.as_ref().map(read_password).transpose()?;
            let name = name.or_else(|| match (&given_name, &family_name) {
                (Some(g), Some(f)) => Some(format!("{g} {f}")),
                (g, f) => g.clone().or_else(|| f.clone()),
            });
            let body = fields(&[
                ("email", Some(json!(user.email))),
                ("password", password.map(Value::from)),
                ("given_name", given_name.map(Value::from)),
                ("family_name", family_name.map(Value::from)),
                ("name", name.map(Value::from)),
                ("email_verified", Some(json!(email_verified))),
            ]);
            let u = r.call("POST", &tenant_path(&user.tenant, "users"), Some(body))?;
            let text = format!(
                "created user {} ({}) in tenant {}",
                s(&u["email"]),
                s(&u["id"]),
                user.tenant
            );
            print(&out, user_json(&u), text);
        }
        UserCommand::Invite { user, name, out } => {
            let body = fields(&[
                ("email", Some(json!(user.email))),
                ("name", name.map(Value::from)),
            ]);
            let path = tenant_path(&user.tenant, "invitations");
            let v = r.call("POST", &path, Some(body))?;
            let (created, expires_at) = (v["created"].as_bool() == Some(true), &v["expires_at"]);
            let mut value = user_json(&v["user"]);
            value["created"] = json!(created);
            value["expires_at"] = expires_at.clone();
            let email = s(&v["user"]["email"]);
            let text = invite_text(
                email,
                &user.tenant,
                created,
                expires_at.as_i64().unwrap_or(0),
            );
            print(&out, value, text);
        }
        UserCommand::List { tenant, out } => {
            let all = r.all(&tenant_path(&tenant, "users"), usize::MAX)?;
            let text = all
                .iter()
                .map(|u| {
                    format!(
                        "{}\t{}\t{}{}",
                        s(&u["email"]),
                        s(&u["id"]),
                        s(&u["status"]),
                        if u["locked"].as_bool() == Some(true) {
                            "\tlocked"
                        } else {
                            ""
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(
                &out,
                json!(all.iter().map(user_json).collect::<Vec<_>>()),
                text,
            );
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
            let u = find(r, &user)?;
            let body = fields(&[
                ("given_name", given_name.map(Value::from)),
                ("family_name", family_name.map(Value::from)),
                ("name", name.map(Value::from)),
                ("nickname", nickname.map(Value::from)),
                ("picture", picture.map(Value::from)),
                ("locale", locale.map(Value::from)),
                ("zoneinfo", zoneinfo.map(Value::from)),
                ("email_verified", email_verified.map(Value::from)),
            ]);
            let u = r.call("PATCH", &user_path(&user, &u["id"], ""), Some(body))?;
            print(&out, user_json(&u), format!("updated {}", s(&u["email"])));
        }
        UserCommand::Unlock { user, out } => {
            let u = find(r, &user)?;
            r.call("POST", &user_path(&user, &u["id"], "unlock"), None)?;
            let email = s(&u["email"]);
            print(
                &out,
                json!({ "unlocked": email }),
                format!("unlocked {email}"),
            );
        }
        UserCommand::SetPassword {
            user,
            password_file,
            out,
        } => {
            let password = read_password(&password_file)?;
            let u = find(r, &user)?;
            r.call(
                "PUT",
                &user_path(&user, &u["id"], "password"),
                Some(json!({ "password": password })),
            )?;
            let email = s(&u["email"]);
            print(
                &out,
                json!({ "password_set": email }),
                format!("password set for {email}; their sessions and tokens were ended"),
            );
        }
        UserCommand::Disable { user, out } => {
            let u = find(r, &user)?;
            let u = r.call(
                "PATCH",
                &user_path(&user, &u["id"], ""),
                Some(json!({ "status": "disabled" })),
            )?;
            print(&out, user_json(&u), format!("disabled {}", s(&u["email"])));
        }
        UserCommand::Delete { user, out } => {
            let u = find(r, &user)?;
            r.call("DELETE", &user_path(&user, &u["id"], ""), None)?;
            let id = s(&u["id"]);
            print(&out, json!({ "deleted": id }), format!("deleted user {id}"));
        }
        UserCommand::ResetMfa { user, out } => {
            let u = find(r, &user)?;
            let v = r.call("DELETE", &user_path(&user, &u["id"], "factors"), None)?;
            let n = v["factors_removed"].as_u64().unwrap_or(0);
            let email = s(&u["email"]);
            print(
                &out,
                json!({ "id": u["id"], "email": email, "factors_removed": n }),
                reset_text(email, n),
            );
        }
        UserCommand::Role { user, role, out } => {
            let u = find(r, &user)?;
            let path = user_path(&user, &u["id"], "role");
            if role == "none" {
                r.call("DELETE", &path, None)?;
            } else {
                r.call("PUT", &path, Some(json!({ "role": role })))?;
            }
            let value = json!({
                "id": u["id"], "email": u["email"], "tenant": user.tenant,
                "role": (role != "none").then_some(role.as_str()),
            });
            let text = format!("{} in {}: {role}", s(&u["email"]), user.tenant);
            print(&out, value, text);
        }
    }
    Ok(())
}
