//! The authorization matrix: every endpoint of the management API × twelve callers → the
//! status each must get, as one table. Objects a row acts on are made fresh for each cell, so
//! a cell's success cannot change what the next one sees; a row's cells that should succeed
//! run after those that should not (the tenant `disable` row is last: it ends A's tokens).
//! A second test checks that the table names exactly the routes of the OpenAPI document.

use std::collections::BTreeSet;

use opentrusty::domain::role::Role;
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

#[rustfmt::skip]
const ROWS: &[Row] = &[
    //   method  path                                    body                  PO   PV   AO   AA   AV   AN   BO   tok  exp  rev  nos  none
    Row("GET",  "/api/v1/openapi.json",                 None,               [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    Row("GET",  "/api/v1/whoami",                       None,               [200, 200, 200, 200, 200, 401, 200, 200, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants",                      None,               [200, 200, 403, 403, 403, 401, 403, 403, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants",                      Some(new_tenant),   [201, 403, 403, 403, 403, 401, 403, 403, 401, 401, 401, 401]),
    Row("GET",  "/api/v1/tenants/{slug}",               None,               [200, 200, 200, 200, 200, 401, 404, 200, 401, 401, 401, 401]),
    Row("PATCH","/api/v1/tenants/{slug}",               Some(tenant_patch), [200, 403, 200, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    Row("POST", "/api/v1/tenants/{slug}/enable",        None,               [200, 403, 403, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
    // Last: a success ends every credential of A.
    Row("POST", "/api/v1/tenants/{slug}/disable",       None,               [200, 403, 403, 403, 403, 401, 404, 403, 401, 401, 401, 401]),
];

async fn fill(_api: &Api, template: &str, _f: &Fresh) -> String {
    template.replace("{slug}", "acme")
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
