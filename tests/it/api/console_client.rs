//! The admin console's built-in client through the management API (issue 11): it exists in
//! every tenant, is never in the client list (pages keep their size), and DELETE is 409.

use axum::http::StatusCode;
use opentrusty::domain::role::Role;
use opentrusty::store::Store;
use serde_json::json;

use super::harness::Api;
use crate::both_backends;

async fn builtin_client_not_listed_not_deletable(store: Store) {
    let api = Api::new(store).await;
    // The fixtures insert tenants below the use cases (as a build before the console did);
    // the daemon's start adds their built-in clients.
    assert_eq!(
        opentrusty::service::console::reconcile(&api.app)
            .await
            .unwrap(),
        3
    );
    let admin = api.token(&api.a, Role::Admin).await;
    let base = "/api/v1/tenants/acme/clients";
    let one = format!("{base}/opentrusty-console");
    let got = api.call("GET", &one, Some(&admin), None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.json);
    assert_eq!(got.json["scope"], "openid opentrusty:admin");
    assert_eq!(got.json["require_pkce"], true);

    let list = api.call("GET", base, Some(&admin), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["items"], json!([]), "{}", list.json);
    for name in ["one", "two"] {
        let body = json!({"client_name": name, "redirect_uris": ["https://app.example.com/cb"]});
        let r = api.call("POST", base, Some(&admin), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    // Pages of one: the built-in client neither shows up nor leaves a page short.
    let first = api
        .call("GET", &format!("{base}?limit=1"), Some(&admin), None)
        .await;
    assert_eq!(
        first.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        first.json
    );
    let cursor = first.json["next_cursor"].as_str().expect("a second page");
    let second = api
        .call(
            "GET",
            &format!("{base}?limit=1&cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await;
    // (The test clock is fixed: both share created_at, and the random ids order them.)
    let mut names: Vec<&str> = [&first, &second]
        .iter()
        .map(|p| p.json["items"][0]["client_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["one", "two"]);
    assert!(second.json["next_cursor"].is_null(), "{}", second.json);

    let del = api.call("DELETE", &one, Some(&admin), None).await;
    assert_eq!(del.status, StatusCode::CONFLICT, "{}", del.json);
    assert_eq!(del.json["error"], "conflict");
    assert!(
        del.json["message"]
            .as_str()
            .unwrap()
            .contains("cannot be deleted"),
        "{}",
        del.json
    );
    // Nor changed, disabled or given a secret: it stays as the configuration says.
    let changes = [
        (
            "PATCH",
            one.clone(),
            Some(serde_json::json!({"redirect_uris": ["https://evil.example/cb"]})),
        ),
        (
            "PATCH",
            one.clone(),
            Some(serde_json::json!({"status": "disabled"})),
        ),
        ("POST", format!("{one}/secret"), None),
    ];
    for (method, path, body) in changes {
        let r = api.call(method, &path, Some(&admin), body).await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "{method} {path}: {}",
            r.json
        );
    }
    let kept = api.call("GET", &one, Some(&admin), None).await;
    assert_eq!(kept.status, StatusCode::OK);
    assert_eq!(kept.json["status"], "active", "{}", kept.json);
    assert!(!kept.json.to_string().contains("evil.example"));
}
both_backends!(builtin_client_not_listed_not_deletable);
