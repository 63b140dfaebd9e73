//! A user's sessions and consents through `/api/v1/tenants/{slug}/users/{user_id}/...`: listed
//! by public id, ended one by one or all; consents listed and revoked together with the
//! tokens they let the client obtain; and another tenant's users (and ids that are no ids),
//! indistinguishable from missing ones on every user endpoint. Both backends.

use axum::http::StatusCode;
use opentrusty::domain::role::Role;
use opentrusty::service::sessions;
use opentrusty::store::Store;
use serde_json::json;

use super::harness::Api;
use super::users::{create, session, users};
use crate::both_backends;
use crate::oauth_world::{by_code, by_refresh, code, exchange, tenant, world};

async fn sessions_listed_and_ended(store: Store) {
    let api = Api::new(store).await;
    let admin = api.token(&api.a, Role::Admin).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let ada = create(&api, &api.a, &admin, "ada@example.com").await;
    let id = ada["id"].as_str().unwrap();
    let path = format!("{}/{id}/sessions", users(&api.a));
    let cookies = [
        session(&api, &api.a, id).await,
        session(&api, &api.a, id).await,
        session(&api, &api.a, id).await,
    ];
    let list = api.call("GET", &path, Some(&viewer), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    let items = list.json["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_eq!(list.json["next_cursor"], json!(null));
    let listed: Vec<&str> = items.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for (c, s) in cookies.iter().zip(&items) {
        // The id is the public sid, neither the cookie value nor its stored hash.
        let live = sessions::current(&api.app, &api.a, c)
            .await
            .unwrap()
            .unwrap();
        assert!(listed.contains(&live.session.sid.as_str()));
        let text = s.to_string();
        assert!(!text.contains(c.as_str()) && !text.contains(&sessions::hash_token(c)));
        for k in ["created_at", "last_seen", "expires_at", "auth_time", "amr"] {
            assert!(s.get(k).is_some(), "{k}: {s}");
        }
    }
    // Viewers read; ending is sessions:write.
    let no = api.call("DELETE", &path, Some(&viewer), None).await;
    assert_eq!(no.status, StatusCode::FORBIDDEN);
    // End one: exactly that one.
    let first = sessions::current(&api.app, &api.a, &cookies[0])
        .await
        .unwrap()
        .unwrap();
    let one = format!("{path}/{}", first.session.sid);
    let d = api.call("DELETE", &one, Some(&admin), None).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.json);
    assert!(
        sessions::current(&api.app, &api.a, &cookies[0])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sessions::current(&api.app, &api.a, &cookies[1])
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        api.call("DELETE", &one, Some(&admin), None).await.status,
        StatusCode::NOT_FOUND
    );
    // A session of another user of the tenant is not this user's.
    let bob = create(&api, &api.a, &admin, "bob@example.com").await;
    let bob_id = bob["id"].as_str().unwrap();
    let bob_cookie = session(&api, &api.a, bob_id).await;
    let bob_sid = sessions::current(&api.app, &api.a, &bob_cookie)
        .await
        .unwrap()
        .unwrap();
    let cross = api
        .call(
            "DELETE",
            &format!("{path}/{}", bob_sid.session.sid),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
    // The cookie value is no id either.
    let by_cookie = api
        .call(
            "DELETE",
            &format!("{path}/{}", cookies[1]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(by_cookie.status, StatusCode::NOT_FOUND);
    // End all.
    let all = api.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    for c in &cookies {
        assert!(
            sessions::current(&api.app, &api.a, c)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        sessions::current(&api.app, &api.a, &bob_cookie)
            .await
            .unwrap()
            .is_some()
    );
    let empty = api.call("GET", &path, Some(&viewer), None).await;
    assert_eq!(empty.json["items"], json!([]));
    let mut tx = api.app.store.read().await.unwrap();
    let events = tx.scope(&api.a).audit_list(50).await.unwrap();
    let ended: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "session.ended")
        .collect();
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(
        ended
            .iter()
            .all(|e| e.target.as_deref() == Some(&format!("user:{id}")))
    );
}
both_backends!(sessions_listed_and_ended);

async fn consents_listed_and_revoked(store: Store) {
    let w = world(store).await;
    let api = Api {
        app: w.app.clone(),
        platform: tenant(&w.app, "platform").await,
        a: w.a.clone(),
        b: w.b.clone(),
    };
    let admin = api.token(&api.a, Role::Admin).await;
    let viewer = api.token(&api.a, Role::Viewer).await;
    let list = api
        .call(
            "GET",
            &format!("{}?email=ada", users(&api.a)),
            Some(&viewer),
            None,
        )
        .await;
    let id = list.json["items"][0]["id"].as_str().unwrap().to_owned();
    let rp = w.rp.0.client_id.clone();
    // Ada holds tokens of the relying party and remembers consenting to it.
    let issued = exchange(&w, &w.a, &w.rp, by_code(&code(&w, &[]).await.unwrap()))
        .await
        .unwrap();
    let now = api.app.clock.now();
    let mut tx = api.app.store.begin().await.unwrap();
    tx.scope(&api.a)
        .consent_put(&id, &rp, "openid profile", now, now + 86_400)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let path = format!("{}/{id}/consents", users(&api.a));
    let l = api.call("GET", &path, Some(&viewer), None).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.json);
    assert_eq!(l.json["items"].as_array().unwrap().len(), 1, "{}", l.json);
    assert_eq!(l.json["items"][0]["client_id"], rp.as_str());
    assert_eq!(l.json["items"][0]["scope"], "openid profile");
    assert_eq!(l.json["items"][0]["expires_at"], now + 86_400);

    let one = format!("{path}/{rp}");
    assert_eq!(
        api.call("DELETE", &one, Some(&viewer), None).await.status,
        StatusCode::FORBIDDEN
    );
    let d = api.call("DELETE", &one, Some(&admin), None).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.json);
    assert_eq!(
        api.call("GET", &path, Some(&viewer), None).await.json["items"],
        json!([])
    );
    assert_eq!(
        api.call("DELETE", &one, Some(&admin), None).await.status,
        StatusCode::NOT_FOUND
    );
    let unknown = format!("{path}/{}", "x".repeat(300));
    assert_eq!(
        api.call("DELETE", &unknown, Some(&admin), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // What the consent let the client obtain ended with it.
    let refresh = issued.refresh_token.unwrap();
    assert!(
        exchange(&w, &w.a, &w.rp, by_refresh(&refresh))
            .await
            .is_err()
    );
    let mut tx = api.app.store.read().await.unwrap();
    let events = tx.scope(&api.a).audit_list(50).await.unwrap();
    let e = events
        .iter()
        .find(|e| e.event_type == "consent.revoked")
        .unwrap();
    let meta: serde_json::Value = serde_json::from_str(&e.metadata).unwrap();
    assert_eq!(meta["client_id"], rp.as_str());
    assert_eq!(meta["refresh_tokens_revoked"], 1, "{meta}");
    assert!(
        meta["access_tokens_revoked"].as_u64().unwrap() >= 1,
        "{meta}"
    );
}
both_backends!(consents_listed_and_revoked);

async fn other_tenants_and_odd_ids(store: Store) {
    let api = Api::new(store).await;
    let a = api.token(&api.a, Role::Owner).await;
    let b = api.token(&api.b, Role::Owner).await;
    let theirs = create(&api, &api.b, &b, "bea@example.com").await;
    let bid = theirs["id"].as_str().unwrap();
    let missing = uuid::Uuid::now_v7().to_string();
    let huge = "9".repeat(5000);
    for base in [users(&api.a), users(&api.b)] {
        for id in [
            bid,
            missing.as_str(),
            "not-a-uuid",
            huge.as_str(),
            "%00",
            "..%2f",
        ] {
            for (m, tail, body) in [
                ("GET", "", None),
                ("PATCH", "", Some(json!({"given_name": "x"}))),
                ("DELETE", "", None),
                ("POST", "/unlock", None),
                (
                    "PUT",
                    "/password",
                    Some(json!({"password": "long enough pw"})),
                ),
                ("GET", "/sessions", None),
                ("DELETE", "/sessions", None),
                ("DELETE", "/sessions/abc", None),
                ("PUT", "/role", Some(json!({"role": "viewer"}))),
                ("DELETE", "/role", None),
                ("GET", "/consents", None),
                ("DELETE", "/consents/rp", None),
            ] {
                let r = api
                    .call(m, &format!("{base}/{id}{tail}"), Some(&a), body)
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{m} {base}/{id}{tail}: {}",
                    r.json
                );
                assert_eq!(r.json["error"], "not_found");
            }
        }
    }
    // Ids that are no ids, of an existing user's session or consent: 404 as well.
    let ours = create(&api, &api.a, &a, "ann@example.com").await;
    let ours = format!("{}/{}", users(&api.a), ours["id"].as_str().unwrap());
    for tail in [
        "/sessions/%00",
        "/sessions/..%2f",
        "/consents/%00",
        "/consents/%C3%A9",
    ] {
        let r = api
            .call("DELETE", &format!("{ours}{tail}"), Some(&a), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{tail}: {}", r.json);
    }
    let long = format!("{ours}/sessions/{}", "a".repeat(10_000));
    assert_eq!(
        api.call("DELETE", &long, Some(&a), None).await.status,
        StatusCode::NOT_FOUND
    );
    // The B user is untouched and B's own owner still sees it.
    let same = api
        .call("GET", &format!("{}/{bid}", users(&api.b)), Some(&b), None)
        .await;
    assert_eq!((same.status, &same.json), (StatusCode::OK, &theirs));
    assert_eq!(
        api.call("GET", &users(&api.b), Some(&a), None).await.status,
        StatusCode::NOT_FOUND
    );
    // A listing of A shows its own user and nothing of B.
    let list = api.call("GET", &users(&api.a), Some(&a), None).await;
    let items = list.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.json);
    assert_eq!(items[0]["email"], "ann@example.com");
}
both_backends!(other_tenants_and_odd_ids);
