//! The second-factor page over real HTTP (issue 12), served in-process with a settable clock:
//! a relying party asks `acr_values=urn:opentrusty:mfa`; after the password the browser lands
//! on `{issuer}/login/factor` (no-store, CSP, CSRF), a wrong code is answered 422, the right
//! one goes back to `/authorize` and on to the client with a code; a recovery code works once
//! and is reported at the next sign-in; a tenant requiring a factor sends a user without one
//! to enrolment and issues no code. Both backends.

use opentrusty::app::AppState;
use opentrusty::domain::tenant::{MfaPolicy, Slug, Tenant};
use opentrusty::domain::user::{Profile, User};
use opentrusty::protocol::totp;
use opentrusty::service::Context;
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::factors::{recovery, totp as factor_totp};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use opentrusty::web::conn::{self, Limits};
use tokio::runtime::Runtime;

use crate::common::http::Response;
use crate::common::stores;
use crate::console::browser::{Browser, field};
use crate::login_pages::urlencode;
use crate::mfa_login::{totp_now, unbase32};
use crate::oauth_world::KEK;

const PW: &str = "password-acme";
const CB: &str = "https://rp.example/cb";

fn serve(rt: &Runtime, store: Store) -> (AppState, u16, tokio::sync::watch::Sender<bool>) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_PUBLIC_URL", &url),
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
        ],
    );
    let router = opentrusty::web::router(app.clone(), Plane::All);
    let limits = Limits::from_config(&app.config.http);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    rt.spawn(conn::serve(listener, router, limits, Plane::All, stopped));
    (app, port, stop)
}

async fn user(app: &AppState, t: &Tenant, email: &str) -> User {
    let input = UserInput {
        email,
        password: Some(PW),
        profile: Profile::default(),
        email_verified: true,
    };
    admin::user_create(app, t, input, &Context::cli())
        .await
        .unwrap()
}

/// A page's attribute value back to text (askama escapes `&`, quotes and angle brackets).
fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&#x26;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

/// Opens the RP's authorization request and signs in with the password; returns the page
/// the browser ends on and its location.
fn sign_in(b: &mut Browser, client_id: &str, email: &str) -> (Response, String) {
    sign_in_with(b, client_id, email, "")
}

/// [`sign_in`] with more authorization request parameters (`&k=v...`).
fn sign_in_with(b: &mut Browser, client_id: &str, email: &str, more: &str) -> (Response, String) {
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
         &scope=openid&state=s1&acr_values={}{more}",
        urlencode(CB),
        urlencode("urn:opentrusty:mfa")
    );
    let (page, at) = b.open(&authorize);
    assert!(at.contains("/t/acme/login?"), "{at}");
    let form = format!(
        "email={}&password={}&csrf={}&return_to={}",
        urlencode(email),
        urlencode(PW),
        field(&page.body, "csrf").unwrap(),
        urlencode(&unescape(&field(&page.body, "return_to").unwrap()))
    );
    let res = b.request("POST", "/t/acme/login", Some(&form));
    follow_to_page(b, res)
}

/// Follows redirects until a page (or a redirect to the RP, which is not followed).
fn follow_to_page(b: &mut Browser, mut res: Response) -> (Response, String) {
    let mut at = String::new();
    for _ in 0..10 {
        if !(300..400).contains(&res.status) {
            return (res, at);
        }
        at = res.header("location").unwrap().to_owned();
        if at.starts_with(CB) {
            return (res, at);
        }
        res = b.get(&at);
    }
    panic!("too many redirects at {at}");
}

fn factor_form(page: &Response, extra: &[(&str, &str)]) -> String {
    let mut f = format!(
        "csrf={}&return_to={}",
        field(&page.body, "csrf").unwrap(),
        urlencode(&unescape(&field(&page.body, "return_to").unwrap()))
    );
    for (k, v) in extra {
        f.push_str(&format!("&{k}={}", urlencode(v)));
    }
    f
}

fn the_factor_page_steps_the_sign_in_up(rt: Runtime, store: Store) {
    let (app, port, _stop) = serve(&rt, store);
    let (t, rp, seed, codes) = rt.block_on(async {
        let t = admin::tenant_create(&app, "acme", Some("Acme"), &Context::cli())
            .await
            .unwrap();
        let alice = user(&app, &t, "alice@example.com").await;
        user(&app, &t, "bob@example.com").await;
        let rp = clients::create(
            &app,
            &t,
            &NewClient {
                name: "RP".into(),
                redirect_uris: vec![CB.into()],
                grant_types: vec!["authorization_code".into()],
                first_party: true,
                ..NewClient::default()
            },
            &Context::default(),
        )
        .await
        .unwrap()
        .client;
        let e = factor_totp::begin(&app, &t, &alice, "Phone").await.unwrap();
        let seed = unbase32(&e.secret);
        let code = totp_now(&app, &seed);
        factor_totp::confirm(&app, &t, &alice, &e.factor_id, &code, &Context::default())
            .await
            .unwrap();
        let codes = recovery::create(&app, &t, &alice, &Context::default())
            .await
            .unwrap();
        (t, rp, seed, codes)
    });
    app.clock.advance(30);

    // Password, then the factor page.
    let mut b = Browser::new(&[port]);
    let (page, at) = sign_in(&mut b, &rp.client_id, "alice@example.com");
    assert!(
        at.contains("/t/acme/login/factor?return_to="),
        "{at} {} {}",
        page.status,
        page.body
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Second step</h1>"), "{}", page.body);
    for needle in [
        "Code from your authenticator app",
        "autocomplete=\"one-time-code\"",
        "inputmode=\"numeric\"",
        ">Verify</button>",
        "Use a recovery code",
        "name=\"recovery_code\"",
        ">Use recovery code</button>",
    ] {
        assert!(page.body.contains(needle), "{needle}: {}", page.body);
    }
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.header("content-security-policy").is_some());
    assert_eq!(page.header("x-frame-options"), Some("DENY"));

    // A forged form changes nothing; a wrong code is answered on the page.
    let forged =
        factor_form(&page, &[("code", &totp_now(&app, &seed))]).replacen("csrf=", "csrf=x", 1);
    assert_eq!(
        b.request("POST", "/t/acme/login/factor", Some(&forged))
            .status,
        403
    );
    let wrong = totp::code(&seed, app.clock.now() / 30 + 7);
    let res = b.request(
        "POST",
        "/t/acme/login/factor",
        Some(&factor_form(&page, &[("code", &wrong)])),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("That code is not valid"), "{}", res.body);
    // The right code: back to /authorize, and on to the client with a code.
    let good = totp_now(&app, &seed);
    let res = b.request(
        "POST",
        "/t/acme/login/factor",
        Some(&factor_form(&res, &[("code", &good)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(
        res.header("location")
            .unwrap()
            .contains("/t/acme/authorize?")
    );
    let (_, at) = follow_to_page(&mut b, res);
    assert!(
        at.starts_with(CB) && at.contains("code=") && at.contains("state=s1"),
        "{at}"
    );
    // The factor page of a stepped-up session just goes on.
    let again = b.get(&format!(
        "/t/acme/login/factor?return_to={}",
        urlencode("/t/acme/authorize?x=1")
    ));
    assert_eq!(again.status, 303);
    // prompt=login and an exceeded max_age: the password again, then the factor again.
    for more in ["&prompt=login", "&max_age=0"] {
        app.clock.advance(1);
        let (page, at) = sign_in_with(&mut b, &rp.client_id, "alice@example.com", more);
        assert!(at.contains("/t/acme/login/factor?"), "{more}: {at}");
        assert!(page.body.contains("<h1>Second step</h1>"), "{more}");
    }

    // A second browser: the same code again is a replay.
    let mut b2 = Browser::new(&[port]);
    let (page, _) = sign_in(&mut b2, &rp.client_id, "alice@example.com");
    let res = b2.request(
        "POST",
        "/t/acme/login/factor",
        Some(&factor_form(&page, &[("code", &good)])),
    );
    assert_eq!(res.status, 422, "a code is accepted once");
    // A recovery code instead: the page after says it was used and how many are left.
    let res = b2.request(
        "POST",
        "/t/acme/login/factor",
        Some(&factor_form(&res, &[("recovery_code", &codes[0])])),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.body.contains("You signed in with a recovery code"),
        "{}",
        res.body
    );
    assert!(
        res.body.contains("<strong>9</strong> recovery codes left"),
        "{}",
        res.body
    );
    let cont = res
        .body
        .split("id=\"continue\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(unescape)
        .unwrap();
    let res = b2.get(&cont);
    let (_, at) = follow_to_page(&mut b2, res);
    assert!(at.starts_with(CB) && at.contains("code="), "{at}");

    // The next sign-in is told about it, once.
    app.clock.advance(60);
    for told in [true, false] {
        let mut b3 = Browser::new(&[port]);
        let (page, _) = sign_in(&mut b3, &rp.client_id, "alice@example.com");
        let res = b3.request(
            "POST",
            "/t/acme/login/factor",
            Some(&factor_form(&page, &[("code", &totp_now(&app, &seed))])),
        );
        if told {
            assert_eq!(res.status, 200, "{}", res.body);
            assert!(
                res.body.contains("A recovery code was used to sign in"),
                "{}",
                res.body
            );
            assert!(res.body.contains("<strong>9</strong>"), "{}", res.body);
        } else {
            assert_eq!(res.status, 303, "told once: {}", res.body);
        }
        app.clock.advance(30);
    }

    // The tenant requires a factor: bob has none and is sent to enrolment; no code.
    rt.block_on(async {
        let mut tx = app.store.begin().await.unwrap();
        tx.tenant_set_mfa(
            &Slug::parse("acme").unwrap(),
            MfaPolicy::Required,
            app.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    });
    // The CLI (W3) does this through the service, which forgets the cached tenant.
    app.tenants.invalidate(t.slug.as_str());
    let mut b4 = Browser::new(&[port]);
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s",
        rp.client_id,
        urlencode(CB)
    );
    let (page, at) = b4.open(&authorize);
    assert!(at.contains("/t/acme/login?"), "{at}");
    let form = format!(
        "email={}&password={}&csrf={}&return_to={}",
        urlencode("bob@example.com"),
        urlencode(PW),
        field(&page.body, "csrf").unwrap(),
        urlencode(&unescape(&field(&page.body, "return_to").unwrap()))
    );
    // The password step itself sends bob on to enrolment, then back to the authorization.
    let res = b4.request("POST", "/t/acme/login", Some(&form));
    assert_eq!(res.status, 303);
    let to = res.header("location").unwrap_or_default().to_owned();
    assert!(
        to.starts_with("/t/acme/account/totp?return_to=%2Ft%2Facme%2Fauthorize%3F"),
        "{to}"
    );
    assert!(!to.contains("code="), "no code before enrolment: {to}");
    // `/authorize` decides the same on its own: enrolment, no code.
    let res = b4.get(&authorize);
    let to = res.header("location").unwrap_or_default().to_owned();
    assert!(
        (300..400).contains(&res.status) && to.contains("/t/acme/account/totp?return_to="),
        "{} {to}",
        res.status
    );
    assert!(!to.contains("code="), "no code before enrolment: {to}");
    // The factor page says the same for a user without a factor.
    let res = b4.get(&format!(
        "/t/acme/login/factor?return_to={}",
        urlencode(&authorize)
    ));
    assert_eq!(res.status, 303);
    assert!(
        res.header("location")
            .unwrap()
            .contains("/t/acme/account/totp?return_to=")
    );
}

#[test]
fn sqlite() {
    let dir = crate::common::tempdir();
    let rt = Runtime::new().unwrap();
    let store = rt.block_on(stores::sqlite(dir.path()));
    the_factor_page_steps_the_sign_in_up(rt, store);
}

#[test]
fn postgres() {
    let rt = Runtime::new().unwrap();
    if let Some(store) = rt.block_on(stores::postgres("mfa_pages")) {
        the_factor_page_steps_the_sign_in_up(rt, store);
    }
}
