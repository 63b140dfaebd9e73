//! The authorization matrix: every endpoint of the management API × twelve callers → the
//! status each must get, as one table. Objects a row acts on are made fresh for each cell, so
//! a cell's success cannot change what the next one sees; a row's cells that should succeed
//! run after those that should not (the tenant `disable` row is last: it ends A's tokens).
//! A second test checks that the table names exactly the routes of the OpenAPI document.

use std::collections::BTreeSet;

use opentrusty::domain::role::Role;
use opentrusty::domain::user::Profile;
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::{Context, admin, api_tokens, sessions};
use opentrusty::store::Store;
use serde_json::{Value, json};

use super::callers::{ALL, Callers, Who};
use super::harness::Api;
use crate::both_backends;

/// What a cell's request may refer to: fresh objects of tenant A, and a counter for names.
pub(crate) struct Fresh {
    pub(crate) n: usize,
}

type Body = fn(&Fresh) -> Value;

/// One endpoint: method, path template (`{slug}` is tenant A), an optional body, and the
/// expected status per caller in [`ALL`] order.
struct Row(&'static str, &'static str, Option<Body>, [u16; 12]);

fn new_tenant(f: &Fresh) -> Value {
    json!({ "slug": format!("t{}", f.n) })
}

fn tenant_patch(f: &Fresh) -> Value {
    json!({ "display_name": format!("Acme {}", f.n) })
}

fn bootstrap(_: &Fresh) -> Value {
    json!({ "email": "second-root@platform.test" })
}

fn new_user(f: &Fresh) -> Value {
    json!({ "email": format!("new{}@acme.test", f.n), "given_name": "New" })
}

fn invitation(f: &Fresh) -> Value {
    json!({ "email": format!("invited{}@acme.test", f.n), "name": "New" })
}

fn user_patch(_: &Fresh) -> Value {
    json!({ "given_name": "Changed" })
}

fn password(_: &Fresh) -> Value {
    json!({ "password": "correct horse battery staple" })
}

fn viewer_role(_: &Fresh) -> Value {
    json!({ "role": "viewer" })
}

fn new_client(f: &Fresh) -> Value {
    json!({ "client_name": format!("c{}", f.n), "redirect_uris": [crate::oauth_world::CB] })
}

fn client_patch(_: &Fresh) -> Value {
    json!({ "client_name": "Changed" })
}

fn new_token(f: &Fresh) -> Value {
    json!({ "name": format!("t{}", f.n), "role": "viewer", "expires_in": "1d" })
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    //   method  path                                    body                  PO   PV   AO   AA   AV   AN   BO   tok  exp  rev  nos  none
    Row("GET",  "/api/v1/openapi.json",                 None,               [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    Row("GET",  "/api/v1/whoami",                       None,               [200, 200, 200, 200, 200, 401, 200, 200, 401, 401, 401, 401]),
    // Operators on the admin socket only (peer credentials), never a bearer token.
    Row("POST", "/api/v1/bootstrap",                    Some(bootstrap),    [403, 403, 403, 403, 403, 401, 403, 403, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants",                      None,               [200, 200, 403, 403, 403, 401, 403, 403, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants",                      Some(new_tenant),   [201, 403, 403, 403, 403, 401, 403, 403, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}",               None,               [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("PATCH","/api/v1/tenants/{slug}",               Some(tenant_patch), [200, 403, 200, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/users",         None,               [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/users",         Some(new_user),     [201, 403, 201, 201, 403, 401, 404, 201, 401, 401, 401, 401]),
    // The matrix's app sends no mail: a caller allowed to invite gets the 409 that says so.
    Row("POST", "/api/v1/tenants/{slug}/invitations",   Some(invitation),   [409, 403, 409, 409, 403, 401, 404, 409, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/users/{user_id}", None,             [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("PATCH","/api/v1/tenants/{slug}/users/{user_id}", Some(user_patch), [200, 403, 200, 200, 403, 401, 404, 200, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/users/{user_id}", None,            [204, 403, 204, 204, 403, 401, 404, 204, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/users/{user_id}/unlock", None,      [200, 403, 200, 200, 403, 401, 404, 200, 401, 401, 401, 401]),
    Row("PUT",  "/api/v1/tenants/{slug}/users/{user_id}/password", Some(password), [200, 403, 200, 200, 403, 401, 404, 200, 401, 401, 401, 401]),
    Row("PUT",  "/api/v1/tenants/{slug}/users/{user_id}/role", Some(viewer_role), [200, 403, 200, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/users/{user_id}/role", None,       [204, 403, 204, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/users/{user_id}/sessions", None,    [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/users/{user_id}/sessions", None,   [204, 403, 204, 204, 403, 401, 404, 204, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/users/{user_id}/sessions/{session_id}", None, [204, 403, 204, 204, 403, 401, 404, 204, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/users/{user_id}/factors", None,     [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/users/{user_id}/factors", None,    [200, 403, 200, 200, 403, 401, 404, 200, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/users/{user_id}/consents", None,    [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/users/{user_id}/consents/{client_id}", None, [204, 403, 204, 204, 403, 401, 404, 204, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/clients",       None,               [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/clients",       Some(new_client),   [201, 403, 201, 201, 403, 401, 404, 201, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/clients/{client_id}", None,         [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("PATCH","/api/v1/tenants/{slug}/clients/{client_id}", Some(client_patch), [200, 403, 200, 200, 403, 401, 404, 200, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/clients/{client_id}", None,        [204, 403, 204, 204, 403, 401, 404, 204, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/clients/{client_id}/secret", None,  [200, 403, 200, 200, 403, 401, 404, 200, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/keys",          None,               [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/keys/rotate",   None,               [201, 403, 201, 201, 403, 401, 404, 201, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/api-tokens",    None,               [200, 403, 200, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/api-tokens",    Some(new_token),    [201, 403, 201, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("DELETE","/api/v1/tenants/{slug}/api-tokens/{id}", None,            [204, 403, 204, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}/audit",         None,               [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/audit",                        None,               [200, 200, 403, 403, 403, 401, 403, 403, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/enable",        None,               [200, 403, 403, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    // Last: a success ends every credential of A.
    Row("POST", "/api/v1/tenants/{slug}/disable",       None,               [200, 403, 403, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
];

/// The concrete path of a cell: `{slug}` is A; the objects it names are made fresh in A (a
/// user without a role, with a live session and a consent for a fresh client).
async fn fill(api: &Api, template: &str, f: &Fresh) -> String {
    let mut path = template.replace("{slug}", "acme");
    let app = &api.app;
    let ctx = Context::default();
    if template.contains("/api-tokens/{id}") {
        let day = std::time::Duration::from_secs(86_400);
        let t = api_tokens::create(app, &api.a, "t", Role::Viewer, day, None, &ctx)
            .await
            .unwrap();
        return path.replace("{id}", &t.row.id);
    }
    if !template.contains("{user_id}") && !template.contains("{client_id}") {
        return path;
    }
    let client = clients::create(
        app,
        &api.a,
        &NewClient {
            name: format!("c{}", f.n),
            redirect_uris: vec![crate::oauth_world::CB.into()],
            grant_types: vec!["authorization_code".into()],
            ..NewClient::default()
        },
        &ctx,
    )
    .await
    .unwrap()
    .client;
    if template.contains("{user_id}") {
        let input = admin::UserInput {
            email: &format!("u{}@acme.test", f.n),
            password: None,
            profile: Profile::default(),
            email_verified: true,
        };
        let user = admin::user_create(app, &api.a, input, &ctx).await.unwrap();
        let now = app.clock.now();
        let mut tx = app.store.begin().await.unwrap();
        let mut scope = tx.scope(&api.a);
        let (_, session) = sessions::create(&mut scope, &user, &["pwd"], &ctx, now, 3600)
            .await
            .unwrap();
        scope
            .consent_put(
                &user.id.to_string(),
                &client.client_id,
                "openid",
                now,
                now + 3600,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        path = path
            .replace("{user_id}", &user.id.to_string())
            .replace("{session_id}", &session.sid);
    }
    path.replace("{client_id}", &client.client_id)
}

async fn every_endpoint_for_every_caller(store: Store) {
    let api = Api::new(store).await;
    let callers = Callers::mint(&api).await;
    let mut failures = vec![];
    let mut n = 0;
    for Row(method, template, body, expect) in ROWS {
        // Cells expected to fail first, then the ones that change things.
        let mut cells: Vec<(Who, u16)> = ALL.iter().copied().zip(expect.iter().copied()).collect();
        cells.sort_by_key(|(_, status)| *status < 300);
        for (who, want) in cells {
            n += 1;
            let fresh = Fresh { n };
            let path = fill(&api, template, &fresh).await;
            let body = body.map(|b| b(&fresh));
            let got = api.call(method, &path, callers.bearer(who), body).await;
            if got.status.as_u16() != want {
                failures.push(format!(
                    "{method} {template} as {who:?}: want {want}, got {} {}",
                    got.status, got.json
                ));
            }
            if got.status.as_u16() >= 400 {
                assert!(
                    got.json["request_id"].is_string() && got.json["error"].is_string(),
                    "{method} {template} as {who:?}: not the error shape: {}",
                    got.json
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
both_backends!(every_endpoint_for_every_caller);

/// The table covers exactly the routes of the OpenAPI document.
#[tokio::test]
async fn the_matrix_covers_every_documented_route() {
    let dir = crate::common::tempdir();
    let api = Api::new(crate::common::stores::sqlite(dir.path()).await).await;
    let token = api.token(&api.platform, Role::Owner).await;
    let doc = api
        .call("GET", "/api/v1/openapi.json", Some(&token), None)
        .await
        .json;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tabled: BTreeSet<(String, String)> = ROWS
        .iter()
        .map(|Row(m, p, _, _)| (m.to_string(), normalise(p)))
        .collect();
    let missing: Vec<_> = documented.difference(&tabled).collect();
    let extra: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes not in the matrix: {missing:?}; matrix rows not documented: {extra:?}"
    );
}

/// The document names path parameters as the handlers do; the table uses the same names.
fn normalise(p: &str) -> String {
    p.to_owned()
}
