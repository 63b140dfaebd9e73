//! `/api/v1/tenants/{slug}/api-tokens`: owners create (the secret shown once), list and revoke
//! tokens; a revoked token is refused on its next request; another tenant's tokens are
//! "not found".

use axum::http::StatusCode;
use opentrusty::domain::role::Role;
use opentrusty::store::Store;
use serde_json::json;

use super::harness::Api;
use crate::both_backends;
use crate::common::stores::T0;

const PATH: &str = "/api/v1/tenants/acme/api-tokens";

async fn tokens_through_the_api(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    let made = api
        .call(
            "POST",
            PATH,
            Some(&owner),
            Some(json!({"name": "ci", "role": "admin", "expires_in": "30d"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let token = made.json["token"].as_str().unwrap().to_owned();
    let id = made.json["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("otk_"));
    assert_eq!(made.json["role"], "admin");
    assert_eq!(made.json["expires_at"], T0 + 30 * 86_400);
    assert_eq!(made.json["created_at"], T0);
    assert!(made.json["last_used_at"].is_null());
    let secs = api
        .call(
            "POST",
            PATH,
            Some(&owner),
            Some(json!({"name": "hourly", "role": "viewer", "expires_in": 3600})),
        )
        .await;
    assert_eq!(secs.json["expires_at"], T0 + 3600, "{}", secs.json);

    // The new token works, with its role.
    let me = api.call("GET", "/api/v1/whoami", Some(&token), None).await;
    assert_eq!(
        (me.json["kind"].as_str(), me.json["role"].as_str()),
        (Some("api_token"), Some("admin"))
    );

    // Listed without secrets (and only to owners), with the use recorded.
    let list = api.call("GET", PATH, Some(&owner), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    let items = list.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", list.json); // the harness's owner token, ci, hourly
    assert!(!list.json.to_string().contains("otk_") && !list.json.to_string().contains("hash"));
    let ci = items.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert_eq!(ci["last_used_at"], T0);
    for bearer in [&token, &api.token(&api.a, Role::Viewer).await] {
        let r = api.call("GET", PATH, Some(bearer), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    }
    // Pages of one walk them all in creation order.
    let mut seen = vec![];
    let mut path = format!("{PATH}?limit=1");
    loop {
        let page = api.call("GET", &path, Some(&owner), None).await;
        let items = page.json["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(items.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match page.json["next_cursor"].as_str() {
            Some(c) => path = format!("{PATH}?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["acme-owner", "ci", "hourly", "acme-viewer"]);

    // Another tenant's owner: not found on either path, and nothing is revoked.
    let b_owner = api.token(&api.b, Role::Owner).await;
    let theirs = api
        .call("DELETE", &format!("{PATH}/{id}"), Some(&b_owner), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let beta = format!("/api/v1/tenants/beta/api-tokens/{id}");
    assert_eq!(
        api.call("DELETE", &beta, Some(&b_owner), None).await.status,
        StatusCode::NOT_FOUND
    );
    let b_list = api
        .call(
            "GET",
            "/api/v1/tenants/beta/api-tokens",
            Some(&b_owner),
            None,
        )
        .await;
    assert!(!b_list.json.to_string().contains(&id));
    assert_eq!(
        api.call("GET", "/api/v1/whoami", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );

    // Revoked: refused on its next request.
    let gone = api
        .call("DELETE", &format!("{PATH}/{id}"), Some(&owner), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let after = api.call("GET", "/api/v1/whoami", Some(&token), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after.headers.contains_key("www-authenticate"));
    let twice = api
        .call("DELETE", &format!("{PATH}/{id}"), Some(&owner), None)
        .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
    let list = api.call("GET", PATH, Some(&owner), None).await;
    let ci = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .cloned();
    assert_eq!(ci.unwrap()["revoked_at"], T0);
}
both_backends!(tokens_through_the_api);

async fn bad_token_requests(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    for (body, field) in [
        (
            json!({"name": "x", "role": "root", "expires_in": "1d"}),
            "role",
        ),
        (
            json!({"name": "x", "role": "viewer", "expires_in": "1y"}),
            "expires_in",
        ),
        (
            json!({"name": "x", "role": "viewer", "expires_in": 5}),
            "expires_in",
        ),
        (
            json!({"name": "x", "role": "viewer", "expires_in": "400d"}),
            "expires_in",
        ),
        (
            json!({"name": "x", "role": "viewer", "expires_in": true}),
            "expires_in",
        ),
        (json!({"name": "x", "role": "viewer"}), "expires_in"),
        (
            json!({"name": "", "role": "viewer", "expires_in": "1d"}),
            "name",
        ),
        (
            json!({"name": "x", "role": "viewer", "expires_in": "1d", "token": "otk_mine"}),
            "token",
        ),
    ] {
        let r = api
            .call("POST", PATH, Some(&owner), Some(body.clone()))
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
    // Owners may grant owner; the platform's owner too (its role holds on every tenant).
    let root = api.token(&api.platform, Role::Owner).await;
    for bearer in [&owner, &root] {
        let r = api
            .call(
                "POST",
                PATH,
                Some(bearer),
                Some(json!({"name": "o", "role": "owner", "expires_in": "1h"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    // A platform admin holds no api_tokens:write anywhere.
    let p_admin = api.token(&api.platform, Role::Admin).await;
    let r = api
        .call(
            "POST",
            PATH,
            Some(&p_admin),
            Some(json!({"name": "o", "role": "viewer", "expires_in": "1h"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
both_backends!(bad_token_requests);
