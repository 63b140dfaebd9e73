//! The second-factor settings of the management API (issue 12), both backends: a tenant's
//! `mfa` policy (read, changed by its owners, a bad value refused naming the field, audited as
//! `tenant.updated` with the field), a client's `require_mfa` (registered, changed, kept by
//! an unrelated change), and a user's factors (listed without secrets, reset by an admin
//! but never on a user above the admin's role, audited as `mfa.reset`).

use opentrusty::app::AppState;
use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::{MfaPolicy, Tenant};
use opentrusty::domain::user::{Profile, User};
use opentrusty::protocol::totp;
use opentrusty::service::factors::totp as factor_totp;
use opentrusty::service::{Context, admin, audit, roles};
use opentrusty::store::Store;
use serde_json::{Value, json};

use super::harness::Api;
use crate::both_backends;

/// A user of `t` with a confirmed authenticator app named `name`.
pub(crate) async fn user_with_totp(app: &AppState, t: &Tenant, email: &str, name: &str) -> User {
    let input = admin::UserInput {
        email,
        password: None,
        profile: Profile::default(),
        email_verified: true,
    };
    let u = admin::user_create(app, t, input, &Context::default())
        .await
        .unwrap();
    enrol(app, t, &u, name).await;
    u
}

/// Enrols and confirms an authenticator app for `u`, computing the code from the secret.
pub(crate) async fn enrol(app: &AppState, t: &Tenant, u: &User, name: &str) {
    let e = factor_totp::begin(app, t, u, name).await.unwrap();
    let seed = unbase32(&e.secret);
    let code = totp::code(&seed, totp::step(app.clock.now()));
    factor_totp::confirm(app, t, u, &e.factor_id, &code, &Context::default())
        .await
        .unwrap();
}

/// RFC 4648 base32 (no padding) back to bytes, as an authenticator app reads the secret.
pub(crate) fn unbase32(s: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {c}"),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// The metadata of `t`'s events of `kind`, oldest first.
async fn events(app: &AppState, t: &Tenant, kind: &str) -> Vec<Value> {
    let mut rows: Vec<Value> = audit::list(app, Some(t), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == kind)
        .map(|e| {
            // Without `via` (how the change came: the API, the CLI).
            let mut m: Value = serde_json::from_str(&e.metadata).unwrap();
            m.as_object_mut().unwrap().remove("via");
            m
        })
        .collect();
    rows.reverse();
    rows
}

async fn tenant_policy_is_read_set_and_audited(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    let admin_token = api.token(&api.a, Role::Admin).await;
    let t = api
        .call("GET", "/api/v1/tenants/acme", Some(&owner), None)
        .await;
    assert_eq!(t.json["mfa"], "optional", "{}", t.json);

    // An admin may not change the tenant's settings; its owner may.
    let body = || Some(json!({ "mfa": "required" }));
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&admin_token), body())
        .await;
    assert_eq!(r.status, 403, "{}", r.json);
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&owner), body())
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["mfa"], "required");
    assert_eq!(r.json["display_name"], "acme");
    // What a login reads: the tenant through the cache, and the row itself.
    let cached = api.app.tenants.get(&api.app.store, "acme").await.unwrap();
    assert_eq!(cached.unwrap().mfa, MfaPolicy::Required);
    assert_eq!(
        admin::tenant(&api.app, "acme").await.unwrap().mfa,
        MfaPolicy::Required
    );
    let ev = events(&api.app, &api.a, "tenant.updated").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0],
        json!({ "mfa": { "from": "optional", "to": "required" } })
    );

    // A bad value names the field and changes nothing (not even the name sent with it).
    let bad = Some(json!({ "mfa": "always", "display_name": "Other" }));
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&owner), bad)
        .await;
    assert_eq!(r.status, 422, "{}", r.json);
    assert!(
        r.json["message"].as_str().unwrap().starts_with("mfa"),
        "{}",
        r.json
    );
    let t = api
        .call("GET", "/api/v1/tenants/acme", Some(&owner), None)
        .await;
    assert_eq!(
        (t.json["mfa"].as_str(), t.json["display_name"].as_str()),
        (Some("required"), Some("acme"))
    );
    // The same policy again is no change (no event); back to optional is one.
    api.call("PATCH", "/api/v1/tenants/acme", Some(&owner), body())
        .await;
    let back = Some(json!({ "mfa": "optional" }));
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&owner), back)
        .await;
    assert_eq!(r.json["mfa"], "optional");
    assert_eq!(events(&api.app, &api.a, "tenant.updated").await.len(), 2);
    // Another tenant's policy is untouched; the platform lists every tenant's.
    let po = api.token(&api.platform, Role::Owner).await;
    let list = api.call("GET", "/api/v1/tenants", Some(&po), None).await;
    let items = list.json["items"].as_array().unwrap();
    assert!(
        items.iter().all(|t| t["mfa"] == "optional"),
        "{}",
        list.json
    );
}
both_backends!(tenant_policy_is_read_set_and_audited);

async fn clients_carry_require_mfa(store: Store) {
    let api = Api::new(store).await;
    let admin_token = api.token(&api.a, Role::Admin).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let base = "/api/v1/tenants/acme/clients";
    let new = json!({ "client_name": "Bank", "redirect_uris": [crate::oauth_world::CB], "require_mfa": true });
    let c = api.call("POST", base, Some(&admin_token), Some(new)).await;
    assert_eq!(c.status, 201, "{}", c.json);
    assert_eq!(c.json["require_mfa"], true);
    let id = c.json["client_id"].as_str().unwrap().to_owned();
    let path = format!("{base}/{id}");
    // What /authorize reads.
    let stored = opentrusty::service::clients::get(&api.app, &api.a, &id)
        .await
        .unwrap();
    assert!(stored.require_mfa);
    // A change of something else keeps it; viewers read it and may not change it.
    let r = api
        .call(
            "PATCH",
            &path,
            Some(&admin_token),
            Some(json!({ "client_name": "Bank 2" })),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.json["require_mfa"]),
        (200, &json!(true)),
        "{}",
        r.json
    );
    let r = api.call("GET", &path, Some(&viewer), None).await;
    assert_eq!(r.json["require_mfa"], true);
    let off = || Some(json!({ "require_mfa": false }));
    assert_eq!(
        api.call("PATCH", &path, Some(&viewer), off()).await.status,
        403
    );
    let r = api.call("PATCH", &path, Some(&admin_token), off()).await;
    assert_eq!(r.json["require_mfa"], false, "{}", r.json);
    assert!(
        !opentrusty::service::clients::get(&api.app, &api.a, &id)
            .await
            .unwrap()
            .require_mfa
    );
    // Audited with the setting; a client registered without it has it off.
    let ev = events(&api.app, &api.a, "client.updated").await;
    assert_eq!(ev.last().unwrap(), &json!({ "require_mfa": false }));
    let plain = json!({ "client_name": "Shop", "redirect_uris": [crate::oauth_world::CB] });
    let c = api
        .call("POST", base, Some(&admin_token), Some(plain))
        .await;
    assert_eq!(c.json["require_mfa"], false);
    let bad = json!({ "client_name": "X", "redirect_uris": [crate::oauth_world::CB], "require_mfa": "yes" });
    let r = api.call("POST", base, Some(&admin_token), Some(bad)).await;
    assert_eq!(r.status, 422, "{}", r.json);
}
both_backends!(clients_carry_require_mfa);

async fn factors_are_listed_and_reset(store: Store) {
    let api = Api::new(store).await;
    let app = &api.app;
    let ann = user_with_totp(app, &api.a, "ann@acme.test", "Phone").await;
    let ola = user_with_totp(app, &api.a, "ola@acme.test", "Key").await;
    roles::set_role(
        app,
        &api.a,
        "ola@acme.test",
        Some(Role::Owner),
        &Context::cli(),
    )
    .await
    .unwrap();
    let bea = user_with_totp(app, &api.b, "bea@beta.test", "Phone").await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let admin_token = api.token(&api.a, Role::Admin).await;
    let path = |u: &User| format!("/api/v1/tenants/acme/users/{}/factors", u.id);

    let r = api.call("GET", &path(&ann), Some(&viewer), None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let items = r.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0]["kind"].as_str(), items[0]["name"].as_str()),
        (Some("totp"), Some("Phone"))
    );
    // The confirming code counts as a use.
    assert!(items[0]["last_used_at"].is_i64() && items[0]["created_at"].is_i64());
    // Never a secret: exactly the documented fields.
    let mut keys: Vec<&str> = items[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "id", "kind", "last_used_at", "name"]);
    // Another tenant's user, or no user, is not found (not an empty list).
    for other in [path(&bea), "/api/v1/tenants/acme/users/nope/factors".into()] {
        assert_eq!(
            api.call("GET", &other, Some(&viewer), None).await.status,
            404
        );
        assert_eq!(
            api.call("DELETE", &other, Some(&admin_token), None)
                .await
                .status,
            404
        );
    }
    // A viewer may not reset; an admin may not reset an owner's (a takeover step).
    assert_eq!(
        api.call("DELETE", &path(&ann), Some(&viewer), None)
            .await
            .status,
        403
    );
    let r = api
        .call("DELETE", &path(&ola), Some(&admin_token), None)
        .await;
    assert_eq!(r.status, 403, "{}", r.json);
    assert_eq!(
        opentrusty::service::factors::list(app, &api.a, ola.id)
            .await
            .unwrap()
            .len(),
        1
    );

    let r = api
        .call("DELETE", &path(&ann), Some(&admin_token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json, json!({ "factors_removed": 1 }));
    let r = api.call("GET", &path(&ann), Some(&viewer), None).await;
    assert_eq!(r.json["items"], json!([]));
    assert!(
        !opentrusty::service::factors::enrolled(app, &api.a, ann.id)
            .await
            .unwrap()
    );
    // Audited; B's user kept hers; a second reset finds nothing to remove.
    assert_eq!(
        events(app, &api.a, "mfa.reset").await,
        [json!({ "factors_removed": 1 })]
    );
    assert!(
        opentrusty::service::factors::enrolled(app, &api.b, bea.id)
            .await
            .unwrap()
    );
    let r = api
        .call("DELETE", &path(&ann), Some(&admin_token), None)
        .await;
    assert_eq!(r.json["factors_removed"], 0);
    // The tenant's owner may reset another owner's.
    let owner = api.token(&api.a, Role::Owner).await;
    let r = api.call("DELETE", &path(&ola), Some(&owner), None).await;
    assert_eq!(r.json["factors_removed"], 1, "{}", r.json);
}
both_backends!(factors_are_listed_and_reset);
