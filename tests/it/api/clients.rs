//! `/api/v1/tenants/{slug}/clients`: a client registered, changed and rotated through the API
//! serves a real authorization-code flow; bad registrations are 422s naming the field; the
//! `opentrusty:admin` scope reaches the API only through a client registered for it.

use axum::http::StatusCode;
use opentrusty::domain::role::Role;
use opentrusty::service::{Context, roles};
use opentrusty::store::Store;
use serde_json::{Value, json};

use super::harness::Api;
use super::relying_party::{CB, code, exchange, register, signed_in};
use crate::both_backends;

const CB2: &str = "https://rp.example/cb2";

fn no_secret_hash(v: &Value) {
    let text = v.to_string();
    assert!(!text.contains("secret_hash"), "{text}");
}

async fn api_clients_serve_a_real_flow(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let made = register(&api, &admin, json!({"post_logout_redirect_uris": [CB]})).await;
    let id = made["client_id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(made["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(made["scope"], "offline_access openid profile");
    assert_eq!(
        made["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(made["status"], "active");
    no_secret_hash(&made);

    // Viewers read it, never a secret.
    let path = format!("/api/v1/tenants/acme/clients/{id}");
    let one = api.call("GET", &path, Some(&viewer), None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.json);
    assert!(one.json.get("client_secret").is_none(), "{}", one.json);
    assert_eq!(one.json["post_logout_redirect_uris"], json!([CB]));
    no_secret_hash(&one.json);
    let all = api
        .call("GET", "/api/v1/tenants/acme/clients", Some(&viewer), None)
        .await;
    assert_eq!(all.json["items"][0]["client_id"], id.as_str());
    assert!(all.json["items"][0].get("client_secret").is_none());
    let denied = api
        .call(
            "PATCH",
            &path,
            Some(&viewer),
            Some(json!({"client_name": "x"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // A relying party logs a user in with it.
    let session = signed_in(&api, &api.a, "ada@example.com").await;
    let c = code(&api, &session, &id, CB, "openid profile")
        .await
        .unwrap();
    let issued = exchange(&api, &id, &secret, &c, CB).await.unwrap();
    assert!(issued.id_token.is_some());

    // New redirect URIs: the old one is refused, the new one works.
    let patched = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"redirect_uris": [CB2], "client_name": "Portal 2"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json);
    assert_eq!(patched.json["redirect_uris"], json!([CB2]));
    assert_eq!(patched.json["client_name"], "Portal 2");
    assert!(code(&api, &session, &id, CB, "openid").await.is_err());
    let c = code(&api, &session, &id, CB2, "openid").await.unwrap();

    // A new secret: returned once; the old one is refused at once, the new one works.
    let rotated = api
        .call("POST", &format!("{path}/secret"), Some(&admin), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    let new_secret = rotated.json["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(exchange(&api, &id, &secret, &c, CB2).await.is_err());
    let c = code(&api, &session, &id, CB2, "openid").await.unwrap();
    exchange(&api, &id, &new_secret, &c, CB2).await.unwrap();
    let again = api.call("GET", &path, Some(&admin), None).await;
    assert!(again.json.get("client_secret").is_none());

    // Disabled: no flow starts; enabled again: flows work.
    let off = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(
        (off.status, off.json["status"].as_str()),
        (StatusCode::OK, Some("disabled"))
    );
    assert!(code(&api, &session, &id, CB2, "openid").await.is_err());
    let on = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(on.json["status"], "active");
    code(&api, &session, &id, CB2, "openid").await.unwrap();

    // Another tenant's caller cannot tell it exists; on another tenant's path it is unknown.
    let b_owner = api.token(&api.b, Role::Owner).await;
    let theirs = api.call("GET", &path, Some(&b_owner), None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let elsewhere = api
        .call(
            "GET",
            &format!("/api/v1/tenants/beta/clients/{id}"),
            Some(&b_owner),
            None,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);

    let gone = api.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert!(gone.bytes.is_empty());
    assert_eq!(
        api.call("GET", &path, Some(&admin), None).await.status,
        StatusCode::NOT_FOUND
    );
}
both_backends!(api_clients_serve_a_real_flow);

async fn pages_walk_every_client(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let mut made = vec![];
    for i in 0..5 {
        let c = register(&api, &admin, json!({"client_name": format!("c{i}")})).await;
        made.push(c["client_id"].as_str().unwrap().to_owned());
    }
    let mut seen = vec![];
    let mut path = "/api/v1/tenants/acme/clients?limit=2".to_owned();
    loop {
        let page = api.call("GET", &path, Some(&admin), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.json);
        assert!(page.json["items"].as_array().unwrap().len() <= 2);
        for c in page.json["items"].as_array().unwrap() {
            seen.push(c["client_id"].as_str().unwrap().to_owned());
        }
        match page.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/tenants/acme/clients?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut want = made.clone();
    want.sort(); // one fixed clock: same creation second, ordered by id
    assert_eq!(seen, want);
    let bad = api
        .call(
            "GET",
            "/api/v1/tenants/acme/clients?cursor=nonsense",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(pages_walk_every_client);

async fn bad_registrations_name_the_field(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let cases = [
        (
            json!({"redirect_uris": ["http://rp.example/cb"]}),
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb#x"]}),
            "redirect_uris",
        ),
        (json!({"redirect_uris": []}), "redirect_uris"),
        (
            json!({"post_logout_redirect_uris": ["javascript:alert(1)"]}),
            "post_logout_redirect_uris",
        ),
        (json!({"grant_types": ["implicit"]}), "grant_types"),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "grant_types",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "token_endpoint_auth_method",
        ),
        (
            json!({"id_token_signed_response_alg": "HS256"}),
            "id_token_signed_response_alg",
        ),
        (json!({"access_token_ttl": 0}), "access_token_ttl"),
        (
            json!({"refresh_token_ttl": 400_000_000}),
            "refresh_token_ttl",
        ),
        (json!({"id_token_ttl": 1_000_000}), "id_token_ttl"),
        (json!({"scope": "openid \"x"}), "scope"),
        (json!({"client_name": " "}), "client_name"),
        (
            json!({"introspection": true, "token_endpoint_auth_method": "none"}),
            "introspection",
        ),
        (json!({"secret_hash": "x"}), "secret_hash"),
    ];
    let base = json!({"client_name": "x", "redirect_uris": [CB]});
    for (extra, field) in cases {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = api
            .call(
                "POST",
                "/api/v1/tenants/acme/clients",
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {}",
            r.json
        );
        assert_eq!(r.json["error"], "invalid_field");
        let msg = r.json["message"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg:?} does not name {field}");
    }
    // The same rules on PATCH, and a refused change changes nothing.
    let made = register(&api, &admin, json!({})).await;
    let path = format!(
        "/api/v1/tenants/acme/clients/{}",
        made["client_id"].as_str().unwrap()
    );
    for (body, field) in [
        (
            json!({"redirect_uris": ["http://rp.example/cb"]}),
            "redirect_uris",
        ),
        (json!({"grant_types": ["password"]}), "grant_types"),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "token_endpoint_auth_method",
        ),
        (
            json!({"id_token_signed_response_alg": "none"}),
            "id_token_signed_response_alg",
        ),
        (json!({"access_token_ttl": 86_401}), "access_token_ttl"),
        (json!({"status": "deleted"}), "status"),
        (json!({}), "nothing to change"),
    ] {
        let r = api
            .call("PATCH", &path, Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {}",
            r.json
        );
        let msg = r.json["message"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg:?} does not name {field}");
    }
    let after = api.call("GET", &path, Some(&admin), None).await;
    assert_eq!(after.json["redirect_uris"], json!([CB]));
    assert_eq!(after.json["access_token_ttl"], made["access_token_ttl"]);
    // A public client: no secret, PKCE required; its secret cannot be rotated.
    let spa = register(&api, &admin, json!({"token_endpoint_auth_method": "none"})).await;
    assert!(spa.get("client_secret").is_none(), "{spa}");
    assert_eq!(spa["require_pkce"], true);
    let rot = api
        .call(
            "POST",
            &format!(
                "/api/v1/tenants/acme/clients/{}/secret",
                spa["client_id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rot.status, StatusCode::NOT_FOUND, "{}", rot.json);
}
both_backends!(bad_registrations_name_the_field);

async fn admin_scope_needs_a_registered_client(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let session = signed_in(&api, &api.a, "ada@example.com").await;
    roles::set_role(
        &api.app,
        &api.a,
        "ada@example.com",
        Some(Role::Admin),
        &Context::default(),
    )
    .await
    .unwrap();
    let scope = "openid opentrusty:admin";

    // Not registered for it: never granted.
    let plain = register(&api, &admin, json!({})).await;
    let plain_id = plain["client_id"].as_str().unwrap();
    let refused = code(&api, &session, plain_id, CB, scope).await.unwrap_err();
    assert!(refused.contains("invalid_scope"), "{refused}");
    // Its tokens for the same user (with a role) do not reach the API.
    let c = code(&api, &session, plain_id, CB, "openid").await.unwrap();
    let t = exchange(
        &api,
        plain_id,
        plain["client_secret"].as_str().unwrap(),
        &c,
        CB,
    )
    .await
    .unwrap();
    let r = api
        .call("GET", "/api/v1/whoami", Some(&t.access_token), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Registered for it: granted, and the token acts with the user's role, read per request.
    let console = register(&api, &admin, json!({"scope": "openid opentrusty:admin"})).await;
    let id = console["client_id"].as_str().unwrap();
    let c = code(&api, &session, id, CB, scope).await.unwrap();
    let t = exchange(&api, id, console["client_secret"].as_str().unwrap(), &c, CB)
        .await
        .unwrap();
    assert!(t.scope.contains("opentrusty:admin"));
    let me = api
        .call("GET", "/api/v1/whoami", Some(&t.access_token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(
        (me.json["kind"].as_str(), me.json["role"].as_str()),
        (Some("user"), Some("admin"))
    );
    assert_eq!(me.json["tenant"], "acme");
    let listed = api
        .call(
            "GET",
            "/api/v1/tenants/acme/clients",
            Some(&t.access_token),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    roles::set_role(
        &api.app,
        &api.a,
        "ada@example.com",
        Some(Role::Viewer),
        &Context::default(),
    )
    .await
    .unwrap();
    let me = api
        .call("GET", "/api/v1/whoami", Some(&t.access_token), None)
        .await;
    assert_eq!(me.json["role"], "viewer");
    roles::set_role(
        &api.app,
        &api.a,
        "ada@example.com",
        None,
        &Context::default(),
    )
    .await
    .unwrap();
    let me = api
        .call("GET", "/api/v1/whoami", Some(&t.access_token), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.json);
}
both_backends!(admin_scope_needs_a_registered_client);
