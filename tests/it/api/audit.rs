//! `/api/v1/tenants/{slug}/audit` and `/api/v1/audit`: every change made through the API is
//! in the trail with `via: api` and its actor; filters, keyset pages and the NDJSON export of
//! the whole filtered range (many pages of the store).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use opentrusty::domain::role::Role;
use opentrusty::store::Store;
use opentrusty::store::audit::AuditRow;
use serde_json::{Value, json};

use super::harness::{Answer, Api};
use super::relying_party::register;
use crate::both_backends;
use crate::common::stores::T0;

async fn ndjson(api: &Api, path: &str, bearer: &str) -> (Answer, Vec<Value>) {
    let req = Request::get(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("accept", "application/x-ndjson")
        .body(Body::empty())
        .unwrap();
    let a = api.raw(req).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.bytes)
    );
    assert_eq!(a.headers["content-type"], "application/x-ndjson");
    let text = String::from_utf8(a.bytes.clone()).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    let lines = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (a, lines)
}

/// Every item of a paged list, following `next_cursor`.
async fn walk(api: &Api, path: &str, bearer: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut next = path.to_owned();
    loop {
        let page = api.call("GET", &next, Some(bearer), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.json);
        out.extend(page.json["items"].as_array().unwrap().iter().cloned());
        match page.json["next_cursor"].as_str() {
            Some(c) => next = format!("{path}&cursor={c}"),
            None => return out,
        }
    }
}

async fn api_changes_are_audited(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let me = api.call("GET", "/api/v1/whoami", Some(&owner), None).await;
    let actor = format!("api_token:{}", me.json["id"].as_str().unwrap());

    // Changes through the API, some of them ten seconds apart on the fixed clock.
    let client = register(&api, &owner, json!({})).await;
    let cid = client["client_id"].as_str().unwrap().to_owned();
    let cpath = format!("/api/v1/tenants/acme/clients/{cid}");
    api.app.clock.advance(10);
    api.call(
        "PATCH",
        &cpath,
        Some(&owner),
        Some(json!({"client_name": "n"})),
    )
    .await;
    api.app.clock.advance(10);
    api.call("POST", &format!("{cpath}/secret"), Some(&owner), None)
        .await;
    api.app.clock.advance(10);
    api.call(
        "PATCH",
        &cpath,
        Some(&owner),
        Some(json!({"status": "disabled"})),
    )
    .await;
    let tok = api
        .call(
            "POST",
            "/api/v1/tenants/acme/api-tokens",
            Some(&owner),
            Some(json!({"name": "ci", "role": "viewer", "expires_in": "1d"})),
        )
        .await;
    let tid = tok.json["id"].as_str().unwrap().to_owned();
    api.call(
        "DELETE",
        &format!("/api/v1/tenants/acme/api-tokens/{tid}"),
        Some(&owner),
        None,
    )
    .await;
    api.call(
        "POST",
        "/api/v1/tenants/acme/keys/rotate",
        Some(&owner),
        None,
    )
    .await;
    api.call("DELETE", &cpath, Some(&owner), None).await;
    // Noise in the other tenant.
    let b_owner = api.token(&api.b, Role::Owner).await;
    let theirs = api
        .call(
            "POST",
            "/api/v1/tenants/beta/clients",
            Some(&b_owner),
            Some(json!({"client_name": "b", "redirect_uris": ["https://b.example/cb"]})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);

    let all = walk(&api, "/api/v1/tenants/acme/audit?limit=2", &viewer).await;
    let mine: Vec<&Value> = all
        .iter()
        .filter(|e| e["actor"] == actor.as_str())
        .collect();
    let kinds: Vec<&str> = mine.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "client.created",
            "client.updated",
            "client.secret_rotated",
            "client.disabled",
            "api_token.created",
            "api_token.revoked",
            "key.rotated",
            "client.deleted"
        ]
    );
    let tenant_id = api.a.id.to_string();
    for e in &mine {
        assert_eq!(e["metadata"]["via"], "api", "{e}");
        assert_eq!(e["tenant"], tenant_id.as_str());
        assert!(e["request_id"].is_string(), "{e}");
        for field in ["id", "target", "ip", "user_agent", "created_at"] {
            assert!(e.get(field).is_some(), "{e} lacks {field}");
        }
    }
    let ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "pages in creation order"
    );

    // Filters.
    let q = |query: &str| format!("/api/v1/tenants/acme/audit?limit=500&{query}");
    let items = |a: &Answer| a.json["items"].as_array().unwrap().clone();
    let by_type = api
        .call("GET", &q("type=client.updated"), Some(&viewer), None)
        .await;
    assert_eq!(items(&by_type).len(), 1, "{}", by_type.json);
    let by_target = api
        .call(
            "GET",
            &q(&format!("target=client:{cid}")),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(items(&by_target).len(), 5, "{}", by_target.json);
    let by_actor = api
        .call("GET", &q(&format!("actor={actor}")), Some(&viewer), None)
        .await;
    assert_eq!(items(&by_actor).len(), mine.len());
    let window = api
        .call(
            "GET",
            &q(&format!("since={}&until={}", T0 + 10, T0 + 20)),
            Some(&viewer),
            None,
        )
        .await;
    let kinds: Vec<Value> = items(&window).iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, [json!("client.updated")], "{}", window.json);
    for bad in [
        "since=yesterday",
        "until=1.5",
        "limit=0",
        "limit=501",
        "limit=x",
        "cursor=%20x",
    ] {
        let r = api.call("GET", &q(bad), Some(&viewer), None).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.json
        );
        let field = bad.split('=').next().unwrap();
        assert!(
            r.json["message"].as_str().unwrap().contains(field),
            "{}",
            r.json
        );
    }

    // The NDJSON export holds exactly the same events.
    let (_, lines) = ndjson(&api, "/api/v1/tenants/acme/audit", &viewer).await;
    assert_eq!(lines, all);
    let (_, lines) = ndjson(&api, &q("type=client.updated"), &viewer).await;
    assert_eq!(lines.len(), 1);

    // Scope: another tenant's caller gets 404; tenant callers get no installation trail.
    let b_view = api
        .call("GET", "/api/v1/tenants/acme/audit", Some(&b_owner), None)
        .await;
    assert_eq!(b_view.status, StatusCode::NOT_FOUND);
    let r = api.call("GET", "/api/v1/audit", Some(&owner), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let root = api.token(&api.platform, Role::Viewer).await;
    let every = walk(&api, "/api/v1/audit?limit=500", &root).await;
    let tenants: std::collections::BTreeSet<&str> =
        every.iter().filter_map(|e| e["tenant"].as_str()).collect();
    assert!(
        tenants.contains(tenant_id.as_str()) && tenants.contains(api.b.id.to_string().as_str())
    );
    let beta = walk(&api, "/api/v1/audit?limit=500&tenant=beta", &root).await;
    assert!(!beta.is_empty());
    assert!(
        beta.iter()
            .all(|e| e["tenant"] == api.b.id.to_string().as_str())
    );
    let (_, lines) = ndjson(&api, "/api/v1/audit?tenant=beta", &root).await;
    assert_eq!(lines, beta);
    let nope = api
        .call("GET", "/api/v1/audit?tenant=nope", Some(&root), None)
        .await;
    assert_eq!(nope.status, StatusCode::NOT_FOUND);
}
both_backends!(api_changes_are_audited);

/// An export spanning several store pages (1000 rows each) has every event once, in order.
async fn export_spans_many_pages(store: Store) {
    let api = Api::new(store).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    const N: usize = 2_345;
    let mut tx = api.app.store.begin().await.unwrap();
    for i in 0..N {
        let row = AuditRow {
            event_type: if i % 2 == 0 {
                "login.succeeded"
            } else {
                "login.failed"
            }
            .into(),
            tenant_id: Some(api.a.id),
            actor: Some(format!("user:{i}")),
            target: None,
            ip: Some("192.0.2.1".into()),
            user_agent: None,
            request_id: None,
            metadata: json!({ "i": i }).to_string(),
            created_at: T0 + i as i64,
        };
        tx.audit_insert(&row).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (_, lines) = ndjson(
        &api,
        "/api/v1/tenants/acme/audit?type=login.failed",
        &viewer,
    )
    .await;
    assert_eq!(lines.len(), N / 2);
    let is: Vec<i64> = lines
        .iter()
        .map(|e| e["metadata"]["i"].as_i64().unwrap())
        .collect();
    assert!(
        is.windows(2).all(|w| w[0] + 2 == w[1]),
        "every event once, in order"
    );
    let (_, lines) = ndjson(&api, "/api/v1/tenants/acme/audit", &viewer).await;
    let logins = lines
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("login."))
        .count();
    assert_eq!(logins, N);
    // An export can resume after a cursor (the id of the last line it got).
    let cursor = lines[999]["id"].as_str().unwrap();
    let (_, rest) = ndjson(
        &api,
        &format!("/api/v1/tenants/acme/audit?cursor={cursor}"),
        &viewer,
    )
    .await;
    assert_eq!(rest.len(), lines.len() - 1000);
    assert_eq!(rest[0], lines[1000]);
}
both_backends!(export_spans_many_pages);

/// The document has these routes, and both answers of the audit trail.
async fn document_has_these_routes(store: Store) {
    let api = Api::new(store).await;
    let doc = api.call("GET", "/api/v1/openapi.json", None, None).await;
    let paths = &doc.json["paths"];
    for (path, methods) in [
        ("/api/v1/tenants/{slug}/clients", &["get", "post"][..]),
        (
            "/api/v1/tenants/{slug}/clients/{client_id}",
            &["get", "patch", "delete"],
        ),
        (
            "/api/v1/tenants/{slug}/clients/{client_id}/secret",
            &["post"],
        ),
        ("/api/v1/tenants/{slug}/keys", &["get"]),
        ("/api/v1/tenants/{slug}/keys/rotate", &["post"]),
        ("/api/v1/tenants/{slug}/api-tokens", &["get", "post"]),
        ("/api/v1/tenants/{slug}/api-tokens/{id}", &["delete"]),
        ("/api/v1/tenants/{slug}/audit", &["get"]),
        ("/api/v1/audit", &["get"]),
    ] {
        for m in methods {
            assert!(paths[path][m]["security"].is_array(), "{m} {path} missing");
        }
    }
    for path in ["/api/v1/tenants/{slug}/audit", "/api/v1/audit"] {
        let content = &paths[path]["get"]["responses"]["200"]["content"];
        assert!(content["application/json"].is_object(), "{content}");
        assert!(content["application/x-ndjson"].is_object(), "{content}");
    }
}
both_backends!(document_has_these_routes);
