//! Two daemons on one PostgreSQL database, changed through node 1's management API (issue
//! 10, "Tests"): an API token revoked on node 1 is refused by node 2 on its next request; a
//! client disabled, a secret rotated, a role removed and a tenant disabled through node 1 take
//! effect on node 2 within 1 s. Delays are printed. PostgreSQL only.

use serde_json::{Value, json};

use crate::cluster::{Node, cli, cli_json, client, within_bound};
use crate::common::http;
use crate::common::pg;

fn api(node: &Node, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let res = http::send_json(&node.target, method, path, token, body.as_ref()).unwrap();
    let json = serde_json::from_str(&res.body).unwrap_or(Value::Null);
    (res.status, json)
}

fn token(db: &str, tenant: &str, role: &str) -> String {
    let v = cli_json(
        db,
        &[
            "api-token",
            "create",
            "--tenant",
            tenant,
            "--role",
            role,
            "--name",
            "t",
            "--expires-in",
            "1h",
            "--json",
        ],
    );
    v["token"].as_str().unwrap().to_owned()
}

#[test]
fn api_changes_on_node_1_reach_node_2() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(pg::fresh_database("api_changes_on_node_1_reach_node_2")) else {
        return;
    };
    let node1 = Node::start(&db);
    let node2 = Node::start(&db);
    cli(&db, &["bootstrap", "--email", "root@example.com"]);
    cli(&db, &["tenant", "create", "acme"]);
    let root = token(&db, "platform", "owner");
    let owner = token(&db, "acme", "owner");
    let (svc, svc_secret) = client(&db);
    let (rot, rot_secret) = client(&db);

    // An API token revoked on node 1 is refused by node 2 on its very next request.
    let (status, made) = api(
        &node1,
        "POST",
        "/api/v1/tenants/acme/api-tokens",
        &owner,
        Some(json!({"name": "ci", "role": "admin", "expires_in": "1h"})),
    );
    assert_eq!(status, 201, "{made}");
    let ci = made["token"].as_str().unwrap().to_owned();
    assert_eq!(api(&node2, "GET", "/api/v1/whoami", &ci, None).0, 200);
    let path = format!(
        "/api/v1/tenants/acme/api-tokens/{}",
        made["id"].as_str().unwrap()
    );
    assert_eq!(api(&node1, "DELETE", &path, &owner, None).0, 204);
    assert_eq!(
        api(&node2, "GET", "/api/v1/whoami", &ci, None).0,
        401,
        "the next request"
    );

    // A client disabled through node 1: node 2 had it cached, and refuses it within 1 s.
    assert_eq!(node2.token(&svc, &svc_secret), 200);
    let (status, body) = api(
        &node1,
        "PATCH",
        &format!("/api/v1/tenants/acme/clients/{svc}"),
        &owner,
        Some(json!({"status": "disabled"})),
    );
    assert_eq!(status, 200, "{body}");
    within_bound("the client disabled through the API", || {
        node2.token(&svc, &svc_secret) == 401
    });

    // A secret rotated through node 1: the old one is refused, the new one works.
    assert_eq!(node2.token(&rot, &rot_secret), 200);
    let (status, body) = api(
        &node1,
        "POST",
        &format!("/api/v1/tenants/acme/clients/{rot}/secret"),
        &owner,
        None,
    );
    assert_eq!(status, 200, "{body}");
    let new_secret = body["client_secret"].as_str().unwrap().to_owned();
    within_bound("the secret rotated through the API", || {
        node2.token(&rot, &rot_secret) == 401 && node2.token(&rot, &new_secret) == 200
    });

    // A role removed through node 1: the user's access ends on node 2 at once (roles are read
    // on every request). The user is made through the API and given the admin role.
    let (status, user) = api(
        &node1,
        "POST",
        "/api/v1/tenants/acme/users",
        &owner,
        Some(json!({"email": "ops@example.com"})),
    );
    assert_eq!(status, 201, "{user}");
    let role_path = format!(
        "/api/v1/tenants/acme/users/{}/role",
        user["id"].as_str().unwrap()
    );
    let (status, body) = api(
        &node1,
        "PUT",
        &role_path,
        &owner,
        Some(json!({"role": "admin"})),
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    let (_, listed) = api(
        &node2,
        "GET",
        "/api/v1/tenants/acme/users?email=ops",
        &owner,
        None,
    );
    assert_eq!(listed["items"][0]["role"], "admin", "{listed}");
    let (status, _) = api(&node1, "DELETE", &role_path, &owner, None);
    assert!(status == 200 || status == 204);
    within_bound("the role removed through the API", || {
        let (_, l) = api(
            &node2,
            "GET",
            "/api/v1/tenants/acme/users?email=ops",
            &owner,
            None,
        );
        l["items"][0]["role"].is_null()
    });

    // A tenant disabled through node 1: node 2's discovery goes 404 within 1 s.
    assert_eq!(node2.discovery("acme"), 200);
    assert_eq!(
        api(&node1, "POST", "/api/v1/tenants/acme/disable", &root, None).0,
        200
    );
    within_bound("the tenant disabled through the API", || {
        node2.discovery("acme") == 404
    });
    assert_eq!(api(&node2, "GET", "/api/v1/whoami", &owner, None).0, 401);
}
