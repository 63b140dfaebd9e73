//! The account page's guards: a sign-in older than five minutes (password or second factor)
//! is sent back to sign in and returns with its `return_to`; forged forms, another tenant's
//! session, another user's enrolment, over-long fields and foreign `return_to` are refused.

use opentrusty::service::sessions;

use super::{Browser, current_code, enrol, field, shown_codes, shown_secret, sql};
use crate::common::http;
use crate::login_pages::{Site, site, urlencode};

/// Ages the browser's session at `slug` by `secs` (password and second factor alike).
fn age_session(site: &Site, b: &Browser, slug: &str, secs: i64) {
    let id = sessions::hash_token(&b.session(slug));
    sql(
        site,
        &format!(
            "UPDATE sessions SET auth_time = auth_time - {secs}, \
             mfa_at = mfa_at - {secs} WHERE id_hash = '{id}' RETURNING sid"
        ),
    );
}

#[test]
fn changes_need_a_sign_in_younger_than_five_minutes() {
    let site = site(&[]);
    let mut b = Browser::new(&site);
    b.sign_in("acme");
    age_session(&site, &b, "acme", 301);
    // Looking is fine, with a note; every change goes back to sign in first.
    let page = b.get("/t/acme/account");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"reauth\""));
    let csrf = field(&page.body, "csrf");
    let res = b.get("/t/acme/account/totp");
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/login?return_to=%2Ft%2Facme%2Faccount%2Ftotp")
    );
    let res = b.post("/t/acme/account/recovery-codes", &format!("csrf={csrf}"));
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/login?return_to=%2Ft%2Facme%2Faccount")
    );
    let res = b.post("/t/acme/account/remove", &format!("csrf={csrf}&factor=x"));
    assert_eq!(res.status, 303);
    // With its return_to kept through the sign-in.
    let authorize = "/t/acme/authorize?client_id=app&state=s";
    let res = b.get(&format!(
        "/t/acme/account/totp?return_to={}",
        urlencode(authorize)
    ));
    assert_eq!(res.status, 303);
    let login = res.header("location").unwrap().to_owned();
    let back = format!("/t/acme/account/totp?return_to={}", urlencode(authorize));
    assert_eq!(
        login,
        format!("/t/acme/login?return_to={}", urlencode(&back))
    );
    let page = b.get(&login);
    let form = format!(
        "csrf={}&email=alice%40example.com&password=password-acme&return_to={}",
        field(&page.body, "csrf"),
        urlencode(&back)
    );
    let res = b.post("/t/acme/login", &form);
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(back.as_str()));

    // A fresh password login and an authenticator app added with return_to: the session is
    // stepped up and the codes page continues to the authorization request.
    let (res, _) = enrol(
        &mut b,
        "acme",
        &format!("?return_to={}", urlencode(authorize)),
        "Phone",
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(shown_codes(&res.body).len(), 10);
    assert!(
        res.body
            .contains(&format!("href=\"{}\"", authorize.replace('&', "&#38;"))),
        "{}",
        res.body
    );
    let id = sessions::hash_token(&b.session("acme"));
    let row = sql(
        &site,
        &format!(
            "SELECT amr || ' ' || CAST(mfa_at IS NOT NULL AS TEXT) FROM sessions WHERE id_hash = '{id}'"
        ),
    );
    assert_eq!(row, ["pwd otp mfa 1"]);

    // With a factor, a stale second factor is stale too, and a new password login alone
    // is sent on to the factor step (the login's second page) before the account page.
    age_session(&site, &b, "acme", 301);
    let res = b.get("/t/acme/account/totp");
    assert_eq!(res.status, 303);
    b.sign_in("acme");
    let res = b.get("/t/acme/account");
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/login/factor?return_to=%2Ft%2Facme%2Faccount")
    );
    // A second app added with return_to goes straight back there (no codes page).
    let id = sessions::hash_token(&b.session("acme"));
    sql(
        &site,
        &format!(
            "UPDATE sessions SET amr = 'pwd otp mfa', mfa_at = auth_time WHERE id_hash = '{id}' RETURNING sid"
        ),
    );
    let (res, _) = enrol(
        &mut b,
        "acme",
        &format!("?return_to={}", urlencode(authorize)),
        "Tablet",
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(authorize));
    let page = b.get("/t/acme/account");
    assert!(page.body.contains("<td>Tablet</td>") && page.body.contains("<td>Phone</td>"));
}

#[test]
fn forged_forms_other_tenants_and_bad_return_to_are_refused() {
    let site = site(&[]);
    let mut b = Browser::new(&site);
    b.sign_in("acme");
    let page = b.get("/t/acme/account/totp");
    assert_eq!(page.status, 200);
    let factor = field(&page.body, "factor");
    // Forged: no token, a wrong one, beta's token.
    let beta_token = field(&b.get("/t/beta/login").body, "csrf");
    for csrf in ["", &"0".repeat(64), beta_token.as_str()] {
        let forms = [
            (
                "/t/acme/account/totp",
                format!("csrf={csrf}&factor={factor}&name=x&code=123456"),
            ),
            (
                "/t/acme/account/remove",
                format!("csrf={csrf}&factor={factor}"),
            ),
            ("/t/acme/account/recovery-codes", format!("csrf={csrf}")),
        ];
        for (path, form) in forms {
            let res = b.post(path, &form);
            assert_eq!(res.status, 403, "{path} {csrf:?}: {}", res.body);
        }
    }
    // Another tenant's session does not open this tenant's page: neither beta's cookie as
    // it is, nor acme's session token presented under beta's cookie name.
    let acme = b.session("acme");
    let res = http::send(
        &site.target,
        "GET",
        "/t/beta/account",
        &[format!("Cookie: opentrusty_session_acme={acme}")],
        None,
    )
    .unwrap();
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/t/beta/login?return_to=%2Ft%2Fbeta%2Faccount")
    );
    let res = http::send(
        &site.target,
        "GET",
        "/t/beta/account",
        &[format!("Cookie: opentrusty_session_beta={acme}")],
        None,
    )
    .unwrap();
    assert_eq!(res.status, 303);
    // Another user's (or tenant's) pending enrolment id is not found for this user: a new
    // enrolment replaces it with an explanation, nothing is confirmed.
    let mut other = Browser::new(&site);
    other.sign_in("beta");
    let theirs = other.get("/t/beta/account/totp");
    let secret = shown_secret(&theirs.body);
    let csrf = field(&b.get("/t/acme/account").body, "csrf");
    let res = b.post(
        "/t/acme/account/totp",
        &format!(
            "csrf={csrf}&factor={}&name=x&code={}",
            field(&theirs.body, "factor"),
            current_code(&secret)
        ),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("That enrolment has expired"));
    let factor = field(&res.body, "factor");
    assert!(sql(&site, "SELECT id FROM mfa_factors WHERE confirmed").is_empty());
    // Bounded input: an over-long name or code, a foreign return_to.
    let res = b.post(
        "/t/acme/account/totp",
        &format!(
            "csrf={csrf}&factor={factor}&name={}&code=1",
            "n".repeat(300)
        ),
    );
    assert_eq!(res.status, 422);
    assert!(res.body.contains("Name: use 1 to 64 characters."));
    for bad in [
        "https://evil.example/",
        "/t/beta/authorize",
        "/t/acme/account/../login",
    ] {
        let res = b.get(&format!(
            "/t/acme/account/totp?return_to={}",
            urlencode(bad)
        ));
        assert_eq!(res.status, 400, "{bad}");
        assert!(res.body.contains("return_to"));
    }
}
