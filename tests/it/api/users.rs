//! `/api/v1/tenants/{slug}/users`: create, list (filters, keyset pages stable under inserts),
//! read, update, disable, delete, unlock, passwords and roles, driven like a script would, on
//! both backends. Sessions, consents and other tenants' users: `user_sessions.rs`.

use axum::http::StatusCode;
use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::User;
use opentrusty::service::{Context, sessions};
use opentrusty::store::Store;
use serde_json::{Value, json};

use super::harness::Api;
use crate::both_backends;

pub(crate) fn users(t: &Tenant) -> String {
    format!("/api/v1/tenants/{}/users", t.slug.as_str())
}

/// Creates a user through the API and returns its JSON.
pub(crate) async fn create(api: &Api, t: &Tenant, token: &str, email: &str) -> Value {
    let body = json!({"email": email, "password": "correct horse battery", "given_name": "Ada"});
    let r = api.call("POST", &users(t), Some(token), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.json
}

pub(crate) async fn user(api: &Api, t: &Tenant, id: &str) -> User {
    let mut tx = api.app.store.read().await.unwrap();
    let u = tx.scope(t).user_by_id(id.parse().unwrap()).await.unwrap();
    u.unwrap()
}

/// A login session for the user; returns the cookie value.
pub(crate) async fn session(api: &Api, t: &Tenant, id: &str) -> String {
    let u = user(api, t, id).await;
    let now = api.app.clock.now();
    let mut tx = api.app.store.begin().await.unwrap();
    let (token, _) = sessions::create(
        &mut tx.scope(t),
        &u,
        &["pwd"],
        &Context::default(),
        now,
        3600,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    token
}

async fn alive(api: &Api, t: &Tenant, cookie: &str) -> bool {
    sessions::current(&api.app, t, cookie)
        .await
        .unwrap()
        .is_some()
}

/// Every email of a listing, page after page, with `insert` (a writer's token and an email)
/// created after the first page.
async fn walk(
    api: &Api,
    token: &str,
    query: &str,
    mut insert: Option<(&str, &str)>,
) -> Vec<String> {
    let (mut seen, mut cursor) = (vec![], None::<String>);
    loop {
        let c = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = api
            .call(
                "GET",
                &format!("{}?{query}{c}", users(&api.a)),
                Some(token),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.json);
        for u in page.json["items"].as_array().unwrap() {
            seen.push(u["email"].as_str().unwrap().to_owned());
        }
        if let Some((writer, email)) = insert.take() {
            create(api, &api.a, writer, email).await;
        }
        match page.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

async fn create_list_get_patch(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let ada = create(&api, &api.a, &admin, "  Ada@Example.com ").await;
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["status"], "active");
    assert_eq!(ada["role"], Value::Null);
    assert_eq!(ada["email_verified"], false);
    assert_eq!(ada["given_name"], "Ada");
    assert_eq!(ada["locked"], false);
    for k in ["id", "family_name", "created_at", "updated_at"] {
        assert!(ada.get(k).is_some(), "{k} missing: {ada}");
    }
    assert!(ada.get("password_hash").is_none() && ada.get("password").is_none());
    let dup = api
        .call(
            "POST",
            &users(&api.a),
            Some(&admin),
            Some(json!({"email": "ADA@example.com"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.json);
    // Viewers read, and only read.
    let no = api
        .call(
            "POST",
            &users(&api.a),
            Some(&viewer),
            Some(json!({"email": "v@example.com"})),
        )
        .await;
    assert_eq!(no.status, StatusCode::FORBIDDEN);
    for i in 0..5 {
        create(&api, &api.a, &admin, &format!("bob{i}@example.com")).await;
    }
    let id = ada["id"].as_str().unwrap();
    let one = api
        .call(
            "GET",
            &format!("{}/{id}", users(&api.a)),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!((one.status, &one.json), (StatusCode::OK, &ada));

    // Pages of two, with a user created between pages: each user once, in creation order.
    let seen = walk(&api, &viewer, "limit=2", Some((&admin, "zed@example.com"))).await;
    let mut want = vec!["ada@example.com".to_owned()];
    want.extend((0..5).map(|i| format!("bob{i}@example.com")));
    want.push("zed@example.com".into());
    assert_eq!(seen, want);
    // Filters: an email prefix (compared lowercased) and a status.
    assert_eq!(walk(&api, &viewer, "email=BOB", None).await.len(), 5);
    assert_eq!(
        walk(&api, &viewer, "email=bob3&limit=1", None).await,
        ["bob3@example.com"]
    );
    assert_eq!(walk(&api, &viewer, "email=b%25", None).await.len(), 0);
    let patch = |body: Value| {
        let path = format!("{}/{id}", users(&api.a));
        let admin = admin.clone();
        let api = &api;
        async move { api.call("PATCH", &path, Some(&admin), Some(body)).await }
    };
    let p = patch(json!({"family_name": "Lovelace", "email_verified": true})).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.json);
    assert_eq!(
        (
            p.json["family_name"].as_str(),
            p.json["email_verified"].as_bool()
        ),
        (Some("Lovelace"), Some(true))
    );
    assert_eq!(p.json["given_name"], "Ada");
    // Disabling ends the user's sessions at once; enabling revives none.
    let cookie = session(&api, &api.a, id).await;
    assert!(alive(&api, &api.a, &cookie).await);
    let off = patch(json!({"status": "disabled"})).await;
    assert_eq!(off.json["status"], "disabled", "{}", off.json);
    assert!(!alive(&api, &api.a, &cookie).await);
    assert_eq!(
        walk(&api, &viewer, "status=disabled", None).await,
        ["ada@example.com"]
    );
    assert_eq!(walk(&api, &viewer, "status=active", None).await.len(), 6);
    let on = patch(json!({"status": "active"})).await;
    assert_eq!(on.json["status"], "active");
    assert!(!alive(&api, &api.a, &cookie).await);
    // Bad input: 422 naming the field, never a 500.
    for (body, field) in [
        (json!({"status": "gone"}), "status"),
        (json!({"given_name": "x".repeat(501)}), "given_name"),
        (json!({"family_name": "a\u{0}b"}), "family_name"),
        (json!({}), "nothing to change"),
        (json!({"email": "new@example.com"}), "email"),
    ] {
        let r = patch(body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
        assert!(
            r.json["message"].as_str().unwrap().contains(field),
            "{}",
            r.json
        );
    }
    for (body, field) in [
        (json!({"email": "not-an-email"}), "email"),
        (
            json!({"email": "w@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "w@example.com", "status": "active"}),
            "status",
        ),
        (
            json!({"email": "w@example.com", "given_name": "\u{0}"}),
            "given_name",
        ),
        (json!({"email": "w\u{0}@example.com"}), "email"),
    ] {
        let r = api
            .call("POST", &users(&api.a), Some(&admin), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
        assert!(
            r.json["message"].as_str().unwrap().contains(field),
            "{}",
            r.json
        );
    }
    for q in [
        "status=gone",
        "limit=0",
        "limit=501",
        "limit=x",
        "email=%00",
        "cursor=%00",
    ] {
        let r = api
            .call(
                "GET",
                &format!("{}?{q}", users(&api.a)),
                Some(&viewer),
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.json
        );
    }
}
both_backends!(create_list_get_patch);

async fn delete_unlock_password(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let ada = create(&api, &api.a, &admin, "ada@example.com").await;
    let id = ada["id"].as_str().unwrap().to_owned();
    let path = format!("{}/{id}", users(&api.a));

    // Locked by failed logins, unlocked by an admin.
    {
        let now = api.app.clock.now();
        let mut tx = api.app.store.begin().await.unwrap();
        tx.scope(&api.a)
            .user_record_failure(id.parse().unwrap(), now, 1, 600)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        api.call("GET", &path, Some(&admin), None).await.json["locked"],
        true
    );
    let u = api
        .call("POST", &format!("{path}/unlock"), Some(&admin), None)
        .await;
    assert_eq!(
        (u.status, &u.json["locked"]),
        (StatusCode::OK, &json!(false)),
        "{}",
        u.json
    );

    // A new password ends the sessions the old one opened.
    let cookie = session(&api, &api.a, &id).await;
    let weak = api
        .call(
            "PUT",
            &format!("{path}/password"),
            Some(&admin),
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.json["message"].as_str().unwrap().contains("password"));
    assert!(
        alive(&api, &api.a, &cookie).await,
        "a refused password changes nothing"
    );
    let before = user(&api, &api.a, &id).await.password_hash;
    let pw = api
        .call(
            "PUT",
            &format!("{path}/password"),
            Some(&admin),
            Some(json!({"password": "a much better one"})),
        )
        .await;
    assert_eq!(pw.status, StatusCode::OK, "{}", pw.json);
    assert!(!alive(&api, &api.a, &cookie).await);
    assert_ne!(user(&api, &api.a, &id).await.password_hash, before);

    // Deleted: gone (404 everywhere), and the audit trail names it by id only.
    let d = api.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.json);
    assert!(d.bytes.is_empty());
    for (m, p) in [
        ("GET", path.clone()),
        ("DELETE", path.clone()),
        ("POST", format!("{path}/unlock")),
    ] {
        assert_eq!(
            api.call(m, &p, Some(&admin), None).await.status,
            StatusCode::NOT_FOUND,
            "{m} {p}"
        );
    }
    let mut tx = api.app.store.read().await.unwrap();
    let events = tx.scope(&api.a).audit_list(100).await.unwrap();
    let about: Vec<_> = events
        .iter()
        .filter(|e| e.target.as_deref() == Some(&format!("user:{id}")))
        .collect();
    let kinds: Vec<_> = about.iter().map(|e| e.event_type.as_str()).collect();
    for k in [
        "user.created",
        "account.unlocked",
        "password.changed",
        "user.deleted",
    ] {
        assert!(kinds.contains(&k), "{k} not in {kinds:?}");
    }
    for e in &about {
        assert!(
            !e.metadata.contains("ada@"),
            "{}: {}",
            e.event_type,
            e.metadata
        );
        assert!(
            e.actor.as_deref().unwrap().starts_with("api_token:"),
            "{:?}",
            e.actor
        );
    }
    assert!(
        events
            .iter()
            .all(|e| !e.metadata.contains("ada@example.com"))
    );
}
both_backends!(delete_unlock_password);

async fn roles_and_the_last_owner(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let u1 = create(&api, &api.a, &admin, "one@example.com").await;
    let u2 = create(&api, &api.a, &admin, "two@example.com").await;
    let role = |u: &Value| format!("{}/{}/role", users(&api.a), u["id"].as_str().unwrap());
    let put = |path: String, token: String, r: &str| {
        let body = json!({"role": r});
        let api = &api;
        async move { api.call("PUT", &path, Some(&token), Some(body)).await }
    };
    // Admins grant nothing (roles:write is the owners'), not even through a token of theirs.
    let esc = put(role(&u1), admin.clone(), "owner").await;
    assert_eq!(esc.status, StatusCode::FORBIDDEN, "{}", esc.json);
    let esc = put(role(&u1), admin.clone(), "viewer").await;
    assert_eq!(esc.status, StatusCode::FORBIDDEN);
    let ok = put(role(&u1), owner.clone(), "owner").await;
    assert_eq!(
        (ok.status, &ok.json["role"]),
        (StatusCode::OK, &json!("owner")),
        "{}",
        ok.json
    );
    let bad = put(role(&u2), owner.clone(), "root").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.json["message"].as_str().unwrap().contains("role"));
    // u1 is the last active owner: not removed, demoted, disabled or deleted.
    let u1_path = format!("{}/{}", users(&api.a), u1["id"].as_str().unwrap());
    assert_eq!(
        api.call("DELETE", &role(&u1), Some(&owner), None)
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        put(role(&u1), owner.clone(), "admin").await.status,
        StatusCode::CONFLICT
    );
    let off = api
        .call(
            "PATCH",
            &u1_path,
            Some(&owner),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(off.status, StatusCode::CONFLICT, "{}", off.json);
    assert_eq!(
        api.call("DELETE", &u1_path, Some(&owner), None)
            .await
            .status,
        StatusCode::CONFLICT
    );
    // An admin cannot take over or remove an owner (a password would let it act as one).
    let pw = api
        .call(
            "PUT",
            &format!("{u1_path}/password"),
            Some(&admin),
            Some(json!({"password": "taken over!"})),
        )
        .await;
    assert_eq!(pw.status, StatusCode::FORBIDDEN, "{}", pw.json);
    assert_eq!(
        api.call("DELETE", &u1_path, Some(&admin), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // With a second owner, the first may go.
    assert_eq!(
        put(role(&u2), owner.clone(), "owner").await.status,
        StatusCode::OK
    );
    let gone = api.call("DELETE", &role(&u1), Some(&owner), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.json);
    let now = api.call("GET", &u1_path, Some(&admin), None).await;
    assert_eq!(now.json["role"], Value::Null);
    let listed = api
        .call(
            "GET",
            &format!("{}?email=two", users(&api.a)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(listed.json["items"][0]["role"], "owner");
}
both_backends!(roles_and_the_last_owner);

async fn every_user_route_is_documented(store: Store) {
    let api = Api::new(store).await;
    let doc = api.call("GET", "/api/v1/openapi.json", None, None).await;
    let base = "/api/v1/tenants/{slug}/users";
    for (path, methods) in [
        ("", &["get", "post"][..]),
        ("/{user_id}", &["get", "patch", "delete"]),
        ("/{user_id}/unlock", &["post"]),
        ("/{user_id}/password", &["put"]),
        ("/{user_id}/sessions", &["get", "delete"]),
        ("/{user_id}/sessions/{session_id}", &["delete"]),
        ("/{user_id}/role", &["put", "delete"]),
        ("/{user_id}/consents", &["get"]),
        ("/{user_id}/consents/{client_id}", &["delete"]),
    ] {
        for m in methods {
            let op = &doc.json["paths"][format!("{base}{path}")][m];
            assert!(op["security"].is_array(), "{m} {path} missing: {op}");
            assert!(op["responses"]["404"].is_object(), "{m} {path}: {op}");
        }
    }
}
both_backends!(every_user_route_is_documented);
