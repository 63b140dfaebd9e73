//! `/api/v1/tenants/{slug}/keys`: viewers see public parts only; admins rotate, and the new
//! key is in the tenant's JWKS at once (published before it signs).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use opentrusty::domain::role::Role;
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::harness::Api;
use crate::both_backends;
use crate::common::stores::T0;

async fn jwks_kids(api: &Api) -> Vec<String> {
    let router = opentrusty::web::router(api.app.clone(), Plane::Auth);
    let req = Request::get("/t/acme/jwks.json")
        .body(Body::empty())
        .unwrap();
    let res = router.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_public(jwk: &Value) {
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(jwk.get(private).is_none(), "{jwk} has {private}");
    }
}

async fn keys_list_and_rotate(store: Store) {
    let api = Api::new(store).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let path = "/api/v1/tenants/acme/keys";
    let first = api.call("GET", path, Some(&viewer), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    let items = first.json["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", first.json);
    assert_eq!(
        (items[0]["alg"].as_str(), items[0]["state"].as_str()),
        (Some("RS256"), Some("active"))
    );
    assert_eq!(items[0]["jwk"]["kid"], items[0]["kid"]);
    assert_public(&items[0]["jwk"]);
    assert!(first.json["next_cursor"].is_null());

    let denied = api
        .call("POST", &format!("{path}/rotate"), Some(&viewer), None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // No body: RS256, signing in an hour.
    let rs = api
        .call("POST", &format!("{path}/rotate"), Some(&admin), None)
        .await;
    assert_eq!(rs.status, StatusCode::CREATED, "{}", rs.json);
    assert_eq!(
        (rs.json["alg"].as_str(), rs.json["generation"].as_i64()),
        (Some("RS256"), Some(2))
    );
    assert_eq!(rs.json["activates_at"], T0 + 3600);
    let es = api
        .call(
            "POST",
            &format!("{path}/rotate"),
            Some(&admin),
            Some(json!({"alg": "ES256", "activate_in": 0})),
        )
        .await;
    assert_eq!(es.status, StatusCode::CREATED, "{}", es.json);
    assert_eq!(es.json["alg"], "ES256");
    let kids = jwks_kids(&api).await;
    for k in [&rs.json["kid"], &es.json["kid"]] {
        assert!(
            kids.contains(&k.as_str().unwrap().to_owned()),
            "{k} not in {kids:?}"
        );
    }
    let listed = api.call("GET", path, Some(&viewer), None).await;
    let items = listed.json["items"].as_array().unwrap();
    let new = items.iter().find(|k| k["kid"] == rs.json["kid"]).unwrap();
    assert_eq!(new["state"], "next");
    assert_eq!(new["jwk"]["kid"], rs.json["kid"]);
    for k in items {
        assert_public(&k["jwk"]);
    }

    for (body, status, field) in [
        (
            json!({"alg": "HS256"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alg",
        ),
        (
            json!({"activate_in": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "activate_in",
        ),
        (
            json!({"kid": "mine"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kid",
        ),
    ] {
        let r = api
            .call("POST", &format!("{path}/rotate"), Some(&admin), Some(body))
            .await;
        assert_eq!(r.status, status, "{}", r.json);
        assert!(
            r.json["message"].as_str().unwrap().contains(field),
            "{}",
            r.json
        );
    }
    let text = Request::post(format!("{path}/rotate"))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "text/plain")
        .body(Body::from("RS256"))
        .unwrap();
    assert_eq!(
        api.raw(text).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    // Another tenant cannot see or rotate acme's keys.
    let b_owner = api.token(&api.b, Role::Owner).await;
    assert_eq!(
        api.call("GET", path, Some(&b_owner), None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = api
        .call("POST", &format!("{path}/rotate"), Some(&b_owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Rotations are audited as API changes.
    let audit = api
        .call(
            "GET",
            "/api/v1/tenants/acme/audit?type=key.rotated",
            Some(&viewer),
            None,
        )
        .await;
    let events = audit.json["items"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{}", audit.json);
    assert!(events.iter().all(|e| e["metadata"]["via"] == "api"));
}
both_backends!(keys_list_and_rotate);
