//! The console's signing keys and API token pages: an owner rotates the keys and creates an
//! API token (shown once, working at once on the API) and revokes it (dead at once); both
//! actions need a recent authentication, and a session older than five minutes is sent back
//! through `/authorize` with `max_age`; a viewer sees neither the buttons nor the token page,
//! and a forged POST from its session is refused; another tenant's pages are not found.

use crate::common::http;

use super::browser::{Browser, field};
use super::{cli, console_site, ok, port_of};

fn code(body: &str, id: &str) -> Option<String> {
    body.split(&format!("<code id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::to_owned)
}

fn cells(body: &str, class: &str) -> Vec<String> {
    body.split(&format!("class=\"{class}\">"))
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

fn whoami(port: u16, token: &str) -> u16 {
    let target = http::Target::tcp(([127, 0, 0, 1], port).into());
    http::send(
        &target,
        "GET",
        "/api/v1/whoami",
        &[format!("Authorization: Bearer {token}")],
        None,
    )
    .unwrap()
    .status
}

/// Makes every console session of the database look signed in ten minutes ago.
async fn age_sessions(db: &str) {
    let pool = sqlx::SqlitePool::connect(db).await.unwrap();
    sqlx::query("UPDATE console_sessions SET auth_time = auth_time - 600")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[test]
fn owners_rotate_keys_and_make_and_revoke_api_tokens() {
    let s = console_site(&[]);
    let port = port_of(&s);
    let mut alice = Browser::new(&[port]);
    let home = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(home.status, 200, "{}", home.body);
    for nav in ["/console/t/acme/keys\"", "/console/t/acme/api-tokens\""] {
        assert!(home.body.contains(nav), "{nav}: {}", home.body);
    }

    // Keys: the list, then a rotation to ES256 through the form page.
    let (keys, _) = alice.open("/console/t/acme/keys");
    assert_eq!(keys.status, 200, "{}", keys.body);
    assert!(keys.body.contains("<h1>Signing keys</h1>"));
    let before = cells(&keys.body, "key-id").len();
    let (form, _) = alice.open("/console/t/acme/keys/rotate");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("<label for=\"alg\">Algorithm</label>"));
    let csrf = field(&form.body, "csrf").unwrap();
    let bad = alice.request(
        "POST",
        "/console/t/acme/keys/rotate",
        Some(&format!("csrf={csrf}&alg=HS256")),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"alg-error\""), "{}", bad.body);
    let done = alice.request(
        "POST",
        "/console/t/acme/keys/rotate",
        Some(&format!("csrf={csrf}&alg=ES256")),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let (keys, _) = alice.open("/console/t/acme/keys");
    // The first ES256 key signs at once; the rotation's key is published ahead of signing.
    assert!(cells(&keys.body, "key-id").len() > before, "{}", keys.body);
    assert!(
        keys.body
            .contains("<td>ES256</td><td class=\"key-state\">next</td>"),
        "{}",
        keys.body
    );

    // An API token: made with a bad lifetime (the field says so, the name stays), then for real.
    let (new, _) = alice.open("/console/t/acme/api-tokens/new");
    assert_eq!(new.status, 200, "{}", new.body);
    let csrf = field(&new.body, "csrf").unwrap();
    let bad = alice.request(
        "POST",
        "/console/t/acme/api-tokens/new",
        Some(&format!(
            "csrf={csrf}&name=deploy&role=admin&expires_in=soon"
        )),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"expires-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"deploy\""), "{}", bad.body);
    let made = alice.request(
        "POST",
        "/console/t/acme/api-tokens/new",
        Some(&format!(
            "csrf={csrf}&name=deploy&role=admin&expires_in=30d"
        )),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(made.header("cache-control"), Some("no-store"));
    let token = code(&made.body, "secret").expect("the token, shown once");
    assert!(token.starts_with("otk_"), "{token}");
    assert_eq!(whoami(port, &token), 200);

    let (list, _) = alice.open("/console/t/acme/api-tokens");
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(cells(&list.body, "token-name"), ["deploy"]);
    assert!(!list.body.contains(&token), "the token is shown only once");
    let revoke = list
        .body
        .split("<form method=\"post\" action=\"")
        .nth(2)
        .and_then(|s| s.split('"').next())
        .expect("a revoke form")
        .to_owned();
    assert!(revoke.ends_with("/revoke"), "{revoke}");
    let csrf = field(&list.body, "csrf").unwrap();
    let gone = alice.request("POST", &revoke, Some(&format!("csrf={csrf}")));
    assert_eq!(gone.status, 303, "{}", gone.body);
    assert_eq!(whoami(port, &token), 401);
    let (list, _) = alice.open("/console/t/acme/api-tokens");
    assert_eq!(cells(&list.body, "token-status"), ["revoked"]);
    // A revoke without the form token changes nothing and says so.
    let forged = alice.request("POST", &revoke, Some("csrf=forged"));
    assert_eq!(forged.status, 403);

    // Another tenant's pages are not found for acme's owner.
    for page in ["/console/t/beta/keys", "/console/t/beta/api-tokens/new"] {
        let (res, _) = alice.open(page);
        assert_eq!(res.status, 404, "{page}: {}", res.body);
    }

    // Ten minutes later, the sensitive forms go back through /authorize with max_age=300, and
    // a POST made with the old authentication changes nothing.
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(age_sessions(&s.db));
    let stale = alice.get("/console/t/acme/api-tokens/new");
    assert_eq!(stale.status, 303, "{}", stale.body);
    let to = stale.header("location").unwrap();
    assert!(
        to.contains("/t/acme/authorize?") && to.contains("max_age=300"),
        "{to}"
    );
    let keys_before = cells(&alice.open("/console/t/acme/keys").0.body, "key-id").len();
    let (keys_page, _) = alice.open("/console/t/acme/keys");
    let csrf = field(&keys_page.body, "csrf").unwrap();
    let stale = alice.request(
        "POST",
        "/console/t/acme/keys/rotate",
        Some(&format!("csrf={csrf}&alg=RS256")),
    );
    assert_eq!(stale.status, 303, "{}", stale.body);
    assert!(stale.header("location").unwrap().contains("max_age=300"));
    let (keys_page, _) = alice.open("/console/t/acme/keys");
    assert_eq!(cells(&keys_page.body, "key-id").len(), keys_before);
}

#[test]
fn viewers_see_keys_but_no_rotation_and_no_api_tokens() {
    let s = console_site(&[]);
    let port = port_of(&s);
    ok(cli(
        &s.db,
        &[
            "user",
            "role",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--role",
            "viewer",
        ],
        None,
    ));
    let mut bob = Browser::new(&[port]);
    let home = bob.sign_in("/console/t/acme/", "bob@example.com", "password-bob");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("/console/t/acme/keys\""));
    assert!(!home.body.contains("/console/t/acme/api-tokens\""));
    let (keys, _) = bob.open("/console/t/acme/keys");
    assert_eq!(keys.status, 200, "{}", keys.body);
    assert!(!keys.body.contains("Rotate keys"), "{}", keys.body);
    let csrf = field(&keys.body, "csrf").unwrap();
    for (path, body) in [
        (
            "/console/t/acme/keys/rotate",
            format!("csrf={csrf}&alg=RS256"),
        ),
        (
            "/console/t/acme/api-tokens/new",
            format!("csrf={csrf}&name=x&role=viewer&expires_in=1d"),
        ),
    ] {
        let res = bob.request("POST", path, Some(&body));
        assert_eq!(res.status, 403, "{path}: {}", res.body);
        assert!(
            !res.body.contains("\"error\""),
            "a page, not JSON: {}",
            res.body
        );
    }
    for page in ["/console/t/acme/api-tokens", "/console/t/acme/keys/rotate"] {
        let (res, _) = bob.open(page);
        assert_eq!(res.status, 403, "{page}: {}", res.body);
    }
}
