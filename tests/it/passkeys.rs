//! The passkey JSON endpoints over real HTTP (issue 12), what needs no authenticator: the
//! page's script and its CSP, bad bodies (wrong type, not JSON, oversized, a field of the
//! wrong shape) answered 4xx naming the field, the CSRF token, a ceremony that is another
//! tenant's or another browser's, replayed, or expired (and purged), requests without a
//! session, a stale sign-in, and an installation whose public URL cannot be an RP id. Both
//! backends.

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::Profile;
use opentrusty::service::Context;
use opentrusty::service::admin::{self, UserInput};
use opentrusty::store::Store;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::common::http::{self, Response, Target};
use crate::common::stores;
use crate::console::browser::{Browser, field};
use crate::passkeys_browser::serve;

const PW: &str = "password-acme";

/// A JSON POST with the browser's cookies.
fn post(b: &Browser, path: &str, content_type: &str, body: &str) -> Response {
    let cookies: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        cookies.join("; "),
        body.len()
    );
    http::raw(
        &Target::tcp(([127, 0, 0, 1], b.port).into()),
        req.as_bytes(),
    )
    .unwrap()
}

fn json_post(b: &Browser, path: &str, body: &Value) -> Response {
    post(b, path, "application/json", &body.to_string())
}

/// Asserts a JSON error: status, `error` code, and the start of `message`.
fn refused(res: &Response, status: u16, code: &str, message_starts: &str) {
    assert_eq!(res.status, status, "{}", res.body);
    let v = res.json();
    assert_eq!(v["error"], code, "{}", res.body);
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(message_starts), "{message}");
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

/// Tenants `acme` and `beta`, each with alice; returns acme.
async fn setup(app: &AppState) -> Tenant {
    let mut first = None;
    for slug in ["acme", "beta"] {
        let t = admin::tenant_create(app, slug, Some("Acme"), &Context::cli())
            .await
            .unwrap();
        let input = UserInput {
            email: "alice@example.com",
            password: Some(PW),
            profile: Profile::default(),
            email_verified: true,
        };
        admin::user_create(app, &t, input, &Context::cli())
            .await
            .unwrap();
        first.get_or_insert(t);
    }
    first.unwrap()
}

/// A well-formed answer no authenticator made (and without a user handle).
fn bogus() -> Value {
    json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": { "clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA" },
        "clientExtensionResults": {}
    })
}

fn the_json_endpoints_refuse_bad_input(rt: Runtime, store: Store) {
    let (app, port, _stop) = serve(&rt, store, "localhost");
    let t = rt.block_on(setup(&app));
    let mut b = Browser::new(&[port]);

    // The login page offers a passkey: our script, allowed with fetch to our origin only.
    let page = b.get("/t/acme/login");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-passkey=\"signin\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<script src=\"/assets/opentrusty.js\"></script>")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("connect-src 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let js = http::get(
        &Target::tcp(([127, 0, 0, 1], port).into()),
        "/assets/opentrusty.js",
    )
    .unwrap();
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    for needle in [
        "parseRequestOptionsFromJSON",
        "parseCreationOptionsFromJSON",
        "toJSON()",
        "navigator.clipboard.writeText",
    ] {
        assert!(js.body.contains(needle), "{needle}");
    }
    let csrf = field(&page.body, "csrf").unwrap();
    let options = "/t/acme/login/passkey/options";

    // Bodies that are not what the endpoint reads.
    refused(
        &post(&b, options, "text/plain", "{}"),
        415,
        "invalid_request",
        "content-type:",
    );
    refused(
        &post(&b, options, "application/json", "{"),
        400,
        "invalid_request",
        "body:",
    );
    refused(
        &json_post(&b, options, &json!({ "csrf": 5 })),
        400,
        "invalid_request",
        "csrf:",
    );
    let big = json!({ "csrf": "x".repeat(20_000) });
    refused(&json_post(&b, options, &big), 413, "too_large", "body:");
    refused(
        &json_post(&b, options, &json!({ "csrf": "forged" })),
        403,
        "csrf",
        "csrf:",
    );
    refused(&json_post(&b, options, &json!({})), 403, "csrf", "csrf:");

    // A started sign-in: request options for a discoverable credential with UV required.
    let start = |b: &Browser, csrf: &str| {
        let res = json_post(b, options, &json!({ "csrf": csrf }));
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()
    };
    let started = start(&b, &csrf);
    let pk = &started["publicKey"];
    assert_eq!(pk["rpId"], "localhost", "{started}");
    assert_eq!(pk["userVerification"], "required");
    assert!(pk["challenge"].as_str().is_some_and(|c| c.len() >= 43));
    assert!(
        pk.get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty))
    );
    let ceremony = started["ceremony"].as_str().unwrap().to_owned();

    let finish = "/t/acme/login/passkey";
    let fin = |c: &Value, cred: Value| json!({ "csrf": csrf, "ceremony": c, "credential": cred });
    refused(
        &json_post(&b, finish, &fin(&json!(7), bogus())),
        400,
        "invalid_request",
        "ceremony:",
    );
    let no_credential = json!({ "csrf": csrf, "ceremony": ceremony });
    refused(
        &json_post(&b, finish, &no_credential),
        400,
        "invalid_request",
        "body: missing field `credential`",
    );
    refused(
        &json_post(&b, finish, &fin(&json!(ceremony), json!({ "id": "x" }))),
        400,
        "invalid_request",
        "credential",
    );
    let bad_return = json!({ "csrf": csrf, "ceremony": ceremony, "credential": bogus(), "return_to": "https://evil.example/" });
    refused(
        &json_post(&b, finish, &bad_return),
        400,
        "invalid_request",
        "return_to:",
    );

    // Another tenant never sees this tenant's ceremony (same browser, beta's own token).
    let beta = b.get("/t/beta/login");
    let beta_csrf = field(&beta.body, "csrf").unwrap();
    let at_beta = json!({ "csrf": beta_csrf, "ceremony": ceremony, "credential": bogus() });
    refused(
        &json_post(&b, "/t/beta/login/passkey", &at_beta),
        400,
        "ceremony_expired",
        "ceremony:",
    );
    // Nor does another browser (its own pre-login cookie and token).
    let mut other = Browser::new(&[port]);
    let other_csrf = field(&other.get("/t/acme/login").body, "csrf").unwrap();
    let theirs = json!({ "csrf": other_csrf, "ceremony": ceremony, "credential": bogus() });
    refused(
        &json_post(&other, finish, &theirs),
        400,
        "ceremony_expired",
        "ceremony:",
    );

    // The right browser with an answer no authenticator made: refused, and audited.
    refused(
        &json_post(&b, finish, &fin(&json!(ceremony), bogus())),
        401,
        "passkey_refused",
        "credential:",
    );
    // The ceremony was used by that answer: a replay finds nothing.
    refused(
        &json_post(&b, finish, &fin(&json!(ceremony), bogus())),
        400,
        "ceremony_expired",
        "ceremony:",
    );
    let failed = rt
        .block_on(opentrusty::service::audit::list(&app, Some(&t), 50))
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "login.failed" && e.metadata.contains("no_user_handle"))
        .count();
    assert_eq!(failed, 1);

    // Five minutes later a started ceremony is gone, and the housekeeping purges its row.
    let started = start(&b, &csrf);
    app.clock.advance(301);
    refused(
        &json_post(&b, finish, &fin(&started["ceremony"], bogus())),
        400,
        "ceremony_expired",
        "ceremony:",
    );
    let count = |app: &AppState| {
        rt.block_on(async {
            let mut tx = app.store.read().await.unwrap();
            tx.scope(&t).ceremonies_count().await.unwrap()
        })
    };
    assert_eq!(count(&app), 1, "expired, not yet purged");
    rt.block_on(opentrusty::service::housekeeping::round(&app))
        .unwrap();
    assert_eq!(count(&app), 0);

    // Without a session: no registration, no second step.
    let reg = json!({ "csrf": csrf, "name": "Key" });
    refused(
        &json_post(&b, "/t/acme/account/passkeys/options", &reg),
        401,
        "not_signed_in",
        "session:",
    );
    refused(
        &json_post(&b, "/t/acme/account/passkeys", &fin(&json!("x"), bogus())),
        401,
        "not_signed_in",
        "session:",
    );
    let factor = json!({ "csrf": csrf });
    refused(
        &json_post(&b, "/t/acme/login/factor/passkey/options", &factor),
        401,
        "not_signed_in",
        "session:",
    );

    // Signed in with the password: the account page offers a passkey.
    let page = b.sign_in("/t/acme/account", "alice@example.com", PW);
    assert!(
        page.body.contains("data-passkey=\"register\""),
        "{}",
        page.body
    );
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    let csrf = field(&page.body, "csrf").unwrap();
    let reg_options = "/t/acme/account/passkeys/options";
    let long = json!({ "csrf": csrf, "name": "n".repeat(65) });
    refused(
        &json_post(&b, reg_options, &long),
        400,
        "invalid_request",
        "name",
    );
    refused(
        &json_post(&b, reg_options, &json!({ "csrf": csrf, "name": " " })),
        400,
        "invalid_request",
        "name",
    );
    let res = json_post(&b, reg_options, &json!({ "csrf": csrf, "name": "YubiKey" }));
    assert_eq!(res.status, 200, "{}", res.body);
    let pk = res.json()["publicKey"].clone();
    assert_eq!(pk["rp"]["id"], "localhost", "{pk}");
    assert_eq!(pk["rp"]["name"], "Acme");
    assert_eq!(pk["user"]["name"], "alice@example.com");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    let reg_ceremony = res.json()["ceremony"].clone();
    let reg_finish = json!({ "csrf": csrf, "ceremony": reg_ceremony, "credential": { "id": "x" } });
    refused(
        &json_post(&b, "/t/acme/account/passkeys", &reg_finish),
        400,
        "invalid_request",
        "credential",
    );
    // A registration ceremony is not a sign-in's (nor the other way round).
    refused(
        &json_post(&b, finish, &fin(&reg_ceremony, bogus())),
        400,
        "ceremony_expired",
        "ceremony:",
    );
    // No passkey yet: nothing to use as a second step.
    refused(
        &json_post(
            &b,
            "/t/acme/login/factor/passkey/options",
            &json!({ "csrf": csrf }),
        ),
        404,
        "not_found",
        "passkey:",
    );
    // Five minutes after the sign-in: sign in again first.
    app.clock.advance(301);
    let res = json_post(&b, reg_options, &json!({ "csrf": csrf, "name": "YubiKey" }));
    refused(&res, 403, "reauthenticate", "session:");
    assert!(
        res.json()["next"]
            .as_str()
            .unwrap()
            .starts_with("/t/acme/login?return_to="),
        "{}",
        res.body
    );
}

#[test]
fn json_endpoints_refuse_bad_input_sqlite() {
    let dir = crate::common::tempdir();
    let rt = Runtime::new().unwrap();
    let store = rt.block_on(stores::sqlite(dir.path()));
    the_json_endpoints_refuse_bad_input(rt, store);
}

#[test]
fn json_endpoints_refuse_bad_input_postgres() {
    let rt = Runtime::new().unwrap();
    if let Some(store) = rt.block_on(stores::postgres("passkeys_json")) {
        the_json_endpoints_refuse_bad_input(rt, store);
    }
}

/// A public URL on an IP address cannot be a WebAuthn RP id: no passkey block, no script,
/// and the endpoints say why.
#[test]
fn an_ip_address_public_url_offers_no_passkeys() {
    let dir = crate::common::tempdir();
    let rt = Runtime::new().unwrap();
    let store = rt.block_on(stores::sqlite(dir.path()));
    let (app, port, _stop) = serve(&rt, store, "127.0.0.1");
    rt.block_on(setup(&app));
    let mut b = Browser::new(&[port]);
    let page = b.get("/t/acme/login");
    assert!(!page.body.contains("data-passkey") && !page.body.contains("<script"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
    let csrf = field(&page.body, "csrf").unwrap();
    refused(
        &json_post(
            &b,
            "/t/acme/login/passkey/options",
            &json!({ "csrf": csrf }),
        ),
        409,
        "conflict",
        "passkeys need OPENTRUSTY_PUBLIC_URL",
    );
}
