//! `/api/v1/tenants` and `whoami`: platform callers manage tenants, a tenant's owner updates
//! its own settings, everyone else is refused in the API's error shape.

use axum::http::StatusCode;
use opentrusty::domain::role::Role;
use opentrusty::store::Store;
use serde_json::json;

use super::harness::Api;
use crate::both_backends;

async fn platform_callers_manage_tenants(store: Store) {
    let api = Api::new(store).await;
    let root = api.token(&api.platform, Role::Owner).await;
    let me = api.call("GET", "/api/v1/whoami", Some(&root), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(me.json["tenant"], "platform");
    assert_eq!(me.json["kind"], "api_token");
    assert!(
        me.json["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("tenants:manage"))
    );

    let made = api
        .call(
            "POST",
            "/api/v1/tenants",
            Some(&root),
            Some(json!({"slug": "gamma", "display_name": "Gamma"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert_eq!(made.json["slug"], "gamma");
    assert!(made.json["issuer"].as_str().unwrap().ends_with("/t/gamma"));
    let dup = api
        .call(
            "POST",
            "/api/v1/tenants",
            Some(&root),
            Some(json!({"slug": "gamma"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json["error"], "conflict");
    assert!(
        !dup.json["request_id"].as_str().unwrap().is_empty(),
        "{}",
        dup.json
    );

    // Pages of 2 walk all four tenants in creation order.
    let mut seen = vec![];
    let mut path = "/api/v1/tenants?limit=2".to_owned();
    loop {
        let page = api.call("GET", &path, Some(&root), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.json);
        for t in page.json["items"].as_array().unwrap() {
            seen.push(t["slug"].as_str().unwrap().to_owned());
        }
        match page.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/tenants?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["platform", "acme", "beta", "gamma"]);

    let off = api
        .call("POST", "/api/v1/tenants/gamma/disable", Some(&root), None)
        .await;
    assert_eq!(
        (off.status, off.json["status"].as_str()),
        (StatusCode::OK, Some("disabled"))
    );
    let on = api
        .call("POST", "/api/v1/tenants/gamma/enable", Some(&root), None)
        .await;
    assert_eq!(on.json["status"], "active");
    let p = api
        .call(
            "POST",
            "/api/v1/tenants/platform/disable",
            Some(&root),
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.json);
}
both_backends!(platform_callers_manage_tenants);

async fn tenant_callers_stay_in_their_tenant(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    // The tenant list is the platform's: 403 for a tenant's owner.
    let l = api.call("GET", "/api/v1/tenants", Some(&owner), None).await;
    assert_eq!(l.status, StatusCode::FORBIDDEN, "{}", l.json);
    // Its own tenant: readable by all, writable by owners only, disable is the platform's.
    assert_eq!(
        api.call("GET", "/api/v1/tenants/acme", Some(&viewer), None)
            .await
            .status,
        StatusCode::OK
    );
    let renamed = api
        .call(
            "PATCH",
            "/api/v1/tenants/acme",
            Some(&owner),
            Some(json!({"display_name": "Acme Inc"})),
        )
        .await;
    assert_eq!(renamed.json["display_name"], "Acme Inc", "{}", renamed.json);
    let v = api
        .call(
            "PATCH",
            "/api/v1/tenants/acme",
            Some(&viewer),
            Some(json!({"display_name": "x"})),
        )
        .await;
    assert_eq!(v.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.call("POST", "/api/v1/tenants/acme/disable", Some(&owner), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Another tenant is indistinguishable from none.
    let other = api
        .call(
            "GET",
            &format!("/api/v1/tenants/{}", api.b.slug.as_str()),
            Some(&owner),
            None,
        )
        .await;
    let none = api
        .call("GET", "/api/v1/tenants/nope", Some(&owner), None)
        .await;
    assert_eq!(
        (other.status, none.status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(other.json["message"], none.json["message"]);
}
both_backends!(tenant_callers_stay_in_their_tenant);

async fn bad_requests_get_the_error_shape(store: Store) {
    let api = Api::new(store).await;
    let root = api.token(&api.platform, Role::Owner).await;
    let no = api.call("GET", "/api/v1/whoami", None, None).await;
    assert_eq!(no.status, StatusCode::UNAUTHORIZED);
    assert!(
        no.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(no.json["error"], "unauthorized");
    let bad = api
        .call("GET", "/api/v1/whoami", Some("otk_nope"), None)
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // Not JSON, malformed JSON, a field of the wrong type, an unknown field, too large.
    let req = |ct: &str, body: &str| {
        axum::http::Request::post("/api/v1/tenants")
            .header("authorization", format!("Bearer {root}"))
            .header("content-type", ct)
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap()
    };
    assert_eq!(
        api.raw(req("text/plain", "{}")).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        api.raw(req("application/json", "{")).await.status,
        StatusCode::BAD_REQUEST
    );
    let typed = api.raw(req("application/json", r#"{"slug": 5}"#)).await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        typed.json["message"]
            .as_str()
            .unwrap()
            .contains("field `slug`"),
        "{}",
        typed.json
    );
    let unknown = api
        .raw(req("application/json", r#"{"slug": "x1", "owner": 1}"#))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.json["message"].as_str().unwrap().contains("owner"));
    let bad_slug = api
        .raw(req("application/json", r#"{"slug": "Not A Slug"}"#))
        .await;
    assert_eq!(
        bad_slug.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_slug.json
    );
    let big = format!(r#"{{"slug": "{}"}}"#, "a".repeat(70_000));
    assert_eq!(
        api.raw(req("application/json", &big)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Limits out of range, and unknown paths under /api.
    let l = api
        .call("GET", "/api/v1/tenants?limit=501", Some(&root), None)
        .await;
    assert_eq!(l.status, StatusCode::UNPROCESSABLE_ENTITY);
    let u = api.call("GET", "/api/v1/nothing", Some(&root), None).await;
    assert_eq!(
        (u.status, u.json["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // The auth plane never answers /api/.
    let router = opentrusty::web::router(api.app.clone(), opentrusty::systemd::Plane::Auth);
    use tower::ServiceExt;
    let r = router
        .oneshot(
            axum::http::Request::get("/api/v1/openapi.json")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The document needs no token and is OpenAPI 3.1.
    let doc = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(
        doc.json["openapi"],
        "3.1.0",
        "{}",
        String::from_utf8_lossy(&doc.bytes)
    );
    assert!(doc.json["paths"]["/api/v1/tenants/{slug}"]["patch"]["security"].is_array());
}
both_backends!(bad_requests_get_the_error_shape);

async fn failed_authentications_are_throttled_per_ip(store: Store) {
    let app = crate::common::stores::app(
        store,
        &[
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", crate::oauth_world::KEK),
            ("OPENTRUSTY_API_AUTH_FAILURES_PER_IP", "20"),
        ],
    );
    let api = Api::with(app).await;
    let good = api.token(&api.a, Role::Viewer).await;
    for i in 0..20 {
        let r = api
            .call(
                "GET",
                "/api/v1/whoami",
                Some(&format!("otk_guess{i}")),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The 21st failure in the minute is throttled, and so is a good token from that address.
    let r = api
        .call("GET", "/api/v1/whoami", Some("otk_guess"), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let g = api.call("GET", "/api/v1/whoami", Some(&good), None).await;
    assert_eq!(g.status, StatusCode::TOO_MANY_REQUESTS);
}
both_backends!(failed_authentications_are_throttled_per_ip);

async fn disabled_tenants_tokens_are_refused_and_platform_actions_are_named(store: Store) {
    let api = Api::new(store).await;
    let root = api.token(&api.platform, Role::Owner).await;
    let a_owner = api.token(&api.a, Role::Owner).await;
    let renamed = api
        .call(
            "PATCH",
            "/api/v1/tenants/acme",
            Some(&root),
            Some(json!({"display_name": "By Root"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    // The platform caller's action is audited in acme, under its platform identity, via api.
    let events = opentrusty::service::audit::list(&api.app, Some(&api.a), 10)
        .await
        .unwrap();
    let e = events
        .iter()
        .find(|e| e.event_type == "tenant.updated")
        .expect("audited");
    let actor = e.actor.as_deref().unwrap();
    assert!(actor.starts_with("platform/api_token:"), "{actor}");
    assert!(e.metadata.contains("\"via\":\"api\""), "{}", e.metadata);
    // While acme is disabled its tokens are refused (401); enabled again, they work.
    assert_eq!(
        api.call("POST", "/api/v1/tenants/acme/disable", Some(&root), None)
            .await
            .status,
        StatusCode::OK
    );
    let off = api
        .call("GET", "/api/v1/whoami", Some(&a_owner), None)
        .await;
    assert_eq!(off.status, StatusCode::UNAUTHORIZED);
    // The platform still manages it.
    let got = api
        .call("GET", "/api/v1/tenants/acme", Some(&root), None)
        .await;
    assert_eq!(got.json["status"], "disabled");
    assert_eq!(
        api.call("POST", "/api/v1/tenants/acme/enable", Some(&root), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        api.call("GET", "/api/v1/whoami", Some(&a_owner), None)
            .await
            .status,
        StatusCode::OK
    );
}
both_backends!(disabled_tenants_tokens_are_refused_and_platform_actions_are_named);
