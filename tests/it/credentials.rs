//! Credentials die together (issue 9), on both backends, through the real endpoints the way a
//! client calls them (the router in process, a fixed clock): a password change, a disabled or
//! deleted user, a disabled tenant or client end the tokens that depend on them. The HTTP
//! helpers here serve `client_access.rs` too.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use opentrusty::domain::client::Client;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::Profile;
use opentrusty::protocol::secret;
use opentrusty::service::clients::{self, ClientPatch};
use opentrusty::service::{Context, admin, sessions};
use opentrusty::store::{AccessRow, Store, WriteSet, Written};
use opentrusty::systemd::Plane;
use serde_json::Value;
use tower::ServiceExt;

use crate::both_backends;
use opentrusty::service::authorize::Outcome;

use crate::oauth_world::{CB, World, client, code, code_in_session, world};

/// One HTTP answer: status, the `WWW-Authenticate` header, the body (JSON when it is JSON).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub body: Value,
}

pub(crate) async fn call(w: &World, req: Request<Body>) -> Answer {
    let router = opentrusty::web::router(w.app.clone(), Plane::All);
    let res = router.oneshot(req).await.unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        challenge,
        body,
    }
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A form POST to `/t/{tenant}{endpoint}`, the client authenticated with Basic.
pub(crate) fn post_basic(
    t: &Tenant,
    endpoint: &str,
    who: &(Client, String),
    pairs: &[(&str, &str)],
) -> Request<Body> {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", who.0.client_id, who.1));
    Request::post(format!("/t/{}{endpoint}", t.slug))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(form(pairs)))
        .unwrap()
}

/// A form POST with the client's credentials in the body (client_secret_post).
pub(crate) fn post_form(
    t: &Tenant,
    endpoint: &str,
    who: &(Client, String),
    pairs: &[(&str, &str)],
) -> Request<Body> {
    let mut all = vec![
        ("client_id", who.0.client_id.as_str()),
        ("client_secret", who.1.as_str()),
    ];
    all.extend_from_slice(pairs);
    Request::post(format!("/t/{}{endpoint}", t.slug))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&all)))
        .unwrap()
}

/// Redeems a code at `/token` for `rp` in tenant `a`.
pub(crate) async fn redeem(w: &World, code: &str) -> Value {
    let a = call(
        w,
        post_basic(
            &w.a,
            "/token",
            &w.rp,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

/// Refreshes at `/token`: the new tokens, or the error code.
pub(crate) async fn refresh(
    w: &World,
    who: &(Client, String),
    token: &str,
) -> Result<Value, String> {
    let a = call(
        w,
        post_basic(
            &w.a,
            "/token",
            who,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        ),
    )
    .await;
    if a.status == StatusCode::OK {
        Ok(a.body)
    } else {
        Err(a.body["error"].as_str().unwrap_or_default().to_owned())
    }
}

pub(crate) async fn userinfo(w: &World, access: &str) -> StatusCode {
    let req = Request::get(format!("/t/{}/userinfo", w.a.slug))
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    call(w, req).await.status
}

pub(crate) async fn introspect(w: &World, caller: &(Client, String), token: &str) -> Value {
    let a = call(
        w,
        post_basic(&w.a, "/introspect", caller, &[("token", token)]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

pub(crate) fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

/// A resource server allowed to introspect every client's access tokens.
async fn resource_server(w: &World) -> (Client, String) {
    let rs = client(&w.app, &w.a, &["client_credentials"], false).await;
    let patch = ClientPatch {
        introspection: Some(true),
    };
    clients::update(&w.app, &w.a, &rs.0.client_id, &patch, &Context::default())
        .await
        .unwrap();
    rs
}

/// A user of tenant `a` with a fresh session, and a code for `rp` from that session.
pub(crate) async fn sign_in(w: &World, email: &str) -> String {
    let user = match admin::user_create(
        &w.app,
        &w.a,
        admin::UserInput {
            email,
            password: Some("the first password"),
            profile: Profile::default(),
            email_verified: true,
        },
        &Context::default(),
    )
    .await
    {
        Ok(u) => u,
        Err(_) => admin::users_list(&w.app, &w.a)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.email.as_str() == email)
            .unwrap(),
    };
    let mut tx = w.app.store.begin().await.unwrap();
    let (session, _) = sessions::create(
        &mut tx.scope(&w.a),
        &user,
        &["pwd"],
        &Context::default(),
        w.app.clock.now(),
        3600,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // The browser part of the flow through the service (the cookie is not under test).
    code_in_session(w, &session, &[]).await.unwrap()
}

/// An access token written for `client_id` the way `/token` writes one, as a node would
/// whose cache had not yet seen a tenant or client disabled.
async fn stale_token(w: &World, client_id: &str) -> String {
    let now = w.app.clock.now();
    let token = secret::generate();
    let row = AccessRow {
        token_hash: secret::hash(&token),
        client_id: client_id.into(),
        user_id: None,
        scope: "api".into(),
        family_id: None,
        code_hash: None,
        auth_time: None,
        sid: None,
        expires_at: now + 3600,
        revoked_at: None,
        created_at: now,
        generation: None,
        amr: None,
    };
    let set = WriteSet::new(&w.a, now).access(row);
    assert_eq!(w.app.writes.write(set).await.unwrap(), Written::Done);
    token
}

/// Everything `tokens` (a token response) carried is dead, seen from outside.
async fn all_dead(w: &World, rs: &(Client, String), tokens: &Value, what: &str) {
    let (access, refresh_token) = (s(tokens, "access_token"), s(tokens, "refresh_token"));
    assert_eq!(
        refresh(w, &w.rp, &refresh_token).await.unwrap_err(),
        "invalid_grant",
        "{what}: the old refresh token must not refresh"
    );
    assert_eq!(
        userinfo(w, &access).await,
        StatusCode::UNAUTHORIZED,
        "{what}: the old access token must fail /userinfo"
    );
    assert_eq!(
        introspect(w, rs, &access).await["active"],
        false,
        "{what}: /introspect must say the access token is inactive"
    );
    assert_eq!(
        introspect(w, &w.rp, &refresh_token).await["active"],
        false,
        "{what}: /introspect must say the refresh token is inactive"
    );
}

async fn alive(w: &World, rs: &(Client, String), tokens: &Value) {
    assert_eq!(
        userinfo(w, &s(tokens, "access_token")).await,
        StatusCode::OK
    );
    assert_eq!(
        introspect(w, rs, &s(tokens, "access_token")).await["active"],
        true
    );
    assert_eq!(
        introspect(w, &w.rp, &s(tokens, "refresh_token")).await["active"],
        true
    );
}

async fn user_changes_end_tokens(store: Store) {
    let w = world(store).await;
    let rs = resource_server(&w).await;
    let ctx = Context::default();

    // A password change: the tokens, and a code not yet redeemed, die with the old password.
    let code = sign_in(&w, "ada@example.com").await;
    let before = redeem(&w, &code).await;
    let pending = sign_in(&w, "ada@example.com").await;
    alive(&w, &rs, &before).await;
    admin::user_set_password(&w.app, &w.a, "ada@example.com", "a new password", &ctx)
        .await
        .unwrap();
    all_dead(&w, &rs, &before, "set-password").await;
    let late = call(
        &w,
        post_basic(
            &w.a,
            "/token",
            &w.rp,
            &[
                ("grant_type", "authorization_code"),
                ("code", &pending),
                ("redirect_uri", CB),
            ],
        ),
    )
    .await;
    assert_eq!(
        late.body["error"], "invalid_grant",
        "a pending code dies too"
    );

    // Disabling the user.
    let before = redeem(&w, &sign_in(&w, "ada@example.com").await).await;
    alive(&w, &rs, &before).await;
    admin::user_disable(&w.app, &w.a, "ada@example.com", &ctx)
        .await
        .unwrap();
    all_dead(&w, &rs, &before, "disable").await;

    // Deleting a user erases it; its tokens are gone with it.
    let before = redeem(&w, &sign_in(&w, "bob@example.com").await).await;
    alive(&w, &rs, &before).await;
    admin::user_delete(&w.app, &w.a, "bob@example.com", &ctx)
        .await
        .unwrap();
    all_dead(&w, &rs, &before, "delete").await;
    assert!(
        admin::users_list(&w.app, &w.a)
            .await
            .unwrap()
            .iter()
            .all(|u| u.email.as_str() != "bob@example.com")
    );
    let audit = opentrusty::service::audit::list(&w.app, Some(&w.a), 1)
        .await
        .unwrap();
    assert_eq!(audit[0].event_type, "user.deleted");
    assert!(
        !audit[0].metadata.contains("bob"),
        "the audit event keeps the id only"
    );
}
both_backends!(user_changes_end_tokens);

async fn tenant_disable_ends_tokens(store: Store) {
    let w = world(store).await;
    let rs = resource_server(&w).await;
    let ctx = Context::default();
    let before = redeem(&w, &sign_in(&w, "ada@example.com").await).await;
    let service = call(
        &w,
        post_basic(
            &w.a,
            "/token",
            &w.svc,
            &[("grant_type", "client_credentials")],
        ),
    )
    .await
    .body;
    alive(&w, &rs, &before).await;
    admin::tenant_disable(&w.app, w.a.slug.as_str(), &ctx)
        .await
        .unwrap();
    // Disabled: the tenant is not there at all (and the change is seen at once here).
    assert_eq!(
        userinfo(&w, &s(&before, "access_token")).await,
        StatusCode::NOT_FOUND
    );
    // A node whose tenant cache still saw the tenant active mints a token meanwhile.
    let stale = stale_token(&w, &w.svc.0.client_id).await;
    // Enabled again: nothing that lived before comes back, nor what was minted meanwhile.
    admin::tenant_enable(&w.app, w.a.slug.as_str(), &ctx)
        .await
        .unwrap();
    assert_eq!(introspect(&w, &rs, &stale).await["active"], false);
    all_dead(&w, &rs, &before, "tenant disable").await;
    assert_eq!(
        introspect(&w, &rs, &s(&service, "access_token")).await["active"],
        false
    );
    // The session ended too: /authorize asks for a login again.
    match code(&w, &[("prompt", "none")]).await {
        Err(Outcome::Redirect(to)) => assert!(to.contains("error=login_required"), "{to}"),
        other => panic!("expected login_required, got {:?}", other.is_ok()),
    }
}
both_backends!(tenant_disable_ends_tokens);

async fn client_disable_ends_tokens(store: Store) {
    let w = world(store).await;
    let rs = resource_server(&w).await;
    let ctx = Context::default();
    let before = redeem(&w, &sign_in(&w, "ada@example.com").await).await;
    alive(&w, &rs, &before).await;
    let c = clients::disable(&w.app, &w.a, &w.rp.0.client_id, &ctx)
        .await
        .unwrap();
    assert_eq!(c.status.as_str(), "disabled");
    // It cannot authenticate any more ...
    let a = call(
        &w,
        post_basic(
            &w.a,
            "/token",
            &w.rp,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["error"], "invalid_client");
    // ... nor start a flow: /authorize shows the error page, never a redirect.
    let q = form(&[
        ("response_type", "code"),
        ("client_id", &w.rp.0.client_id),
        ("redirect_uri", CB),
        ("scope", "openid"),
    ]);
    let req = Request::get(format!("/t/{}/authorize?{q}", w.a.slug))
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let page = call(&w, req).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // Its tokens were revoked with it, and enabling it again revives none of them.
    assert_eq!(
        userinfo(&w, &s(&before, "access_token")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        introspect(&w, &rs, &s(&before, "access_token")).await["active"],
        false
    );
    // A node whose client cache still held the client as active mints a token meanwhile;
    // it is dead while the client is disabled, and stays dead once it is enabled again.
    let stale = stale_token(&w, &w.rp.0.client_id).await;
    assert_eq!(introspect(&w, &rs, &stale).await["active"], false);
    clients::enable(&w.app, &w.a, &w.rp.0.client_id, &ctx)
        .await
        .unwrap();
    assert_eq!(introspect(&w, &rs, &stale).await["active"], false);
    all_dead(&w, &rs, &before, "client disable").await;
    // Enabled, it works again for new tokens.
    let after = redeem(&w, &sign_in(&w, "ada@example.com").await).await;
    alive(&w, &rs, &after).await;
}
both_backends!(client_disable_ends_tokens);
