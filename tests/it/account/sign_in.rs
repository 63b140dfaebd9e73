//! The account page with the login's second step: once a factor is enrolled, a new sign-in
//! reaches the account page only through the factor page; the code used to enrol cannot be
//! replayed there, recovery codes of a replaced set are refused, a current one works.

use super::{Browser, enrol, field, shown_codes};
use crate::login_pages::site;

#[test]
fn the_next_sign_in_asks_for_the_enrolled_factor() {
    let site = site(&[]);
    let mut b = Browser::new(&site);
    b.sign_in("acme");
    let (res, enrol_code) = enrol(&mut b, "acme", "", "Phone");
    assert_eq!(res.status, 200, "{}", res.body);
    let old_codes = shown_codes(&res.body);
    let page = b.get("/t/acme/account");
    let res = b.post(
        "/t/acme/account/recovery-codes",
        &format!("csrf={}", field(&page.body, "csrf")),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let new_codes = shown_codes(&res.body);

    // A new sign-in (password only) is sent to the factor step first.
    b.sign_in("acme");
    let res = b.get("/t/acme/account");
    assert_eq!(res.status, 303);
    let factor_page = res.header("location").unwrap().to_owned();
    assert_eq!(
        factor_page,
        "/t/acme/login/factor?return_to=%2Ft%2Facme%2Faccount"
    );
    let page = b.get(&factor_page);
    assert_eq!(page.status, 200, "{}", page.body);
    let post = |b: &mut Browser, field_name: &str, value: &str| {
        let form = format!(
            "csrf={}&return_to=%2Ft%2Facme%2Faccount&{field_name}={value}",
            field(&page.body, "csrf")
        );
        b.post("/t/acme/login/factor", &form)
    };
    // The code that confirmed the enrolment was spent there.
    let res = post(&mut b, "code", &enrol_code);
    assert_eq!(res.status, 422, "the enrolment code replayed: {}", res.body);
    // A code of the replaced set is dead.
    let res = post(&mut b, "recovery_code", &old_codes[0]);
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(b.get("/t/acme/account").status, 303, "still not through");
    // A current one passes; the account page opens with one code fewer.
    let res = post(&mut b, "recovery_code", &new_codes[0]);
    assert!(matches!(res.status, 200 | 303), "{}", res.body);
    let page = b.get("/t/acme/account");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<td>Phone</td>"));
    assert!(
        page.body.contains("9 recovery codes left."),
        "{}",
        page.body
    );
}

/// A client asks for a second factor (`acr_values=urn:opentrusty:mfa`) for a user who has
/// none: the login sends the browser to this enrolment page with the authorization request as
/// `return_to`; after the app is added (and the codes shown), Continue resumes the request
/// with the session stepped up, and the code is issued.
#[test]
fn enrolment_at_sign_in_resumes_the_authorization_request() {
    let site = site(&[]);
    let out = crate::login_pages::cli(
        &site.db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "RP",
            "--redirect-uri",
            "https://rp.example/cb",
            "--first-party",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Frp.example%2Fcb\
         &scope=openid&state=s1&acr_values=urn%3Aopentrusty%3Amfa",
        c["client_id"].as_str().unwrap()
    );
    let mut b = Browser::new(&site);
    b.sign_in("acme");
    let res = b.get(&authorize);
    assert!(matches!(res.status, 302 | 303), "{}", res.body);
    let to = res.header("location").unwrap().to_owned();
    let query = to
        .strip_prefix("/t/acme/account/totp")
        .unwrap_or_else(|| panic!("to enrolment: {to}"));
    assert!(!to.contains("code="));
    let (res, _) = enrol(&mut b, "acme", query, "Phone");
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(shown_codes(&res.body).len(), 10);
    let next = res
        .body
        .split("<a class=\"button\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(super::unescape)
        .expect("Continue");
    // The same request (the authorize endpoint rebuilds its query in its own order).
    let params = |u: &str| {
        let mut v: Vec<String> = u
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    assert!(next.starts_with("/t/acme/authorize?"), "{next}");
    assert_eq!(params(&next), params(&authorize));
    let res = b.get(&next);
    assert!(matches!(res.status, 302 | 303), "{}", res.body);
    let landed = res.header("location").unwrap();
    assert!(
        landed.starts_with("https://rp.example/cb?code=") && landed.contains("state=s1"),
        "{landed}"
    );
}

/// The password POST itself sends a user with a factor on to the second step, keeping where
/// the sign-in was going; a user without one goes straight there.
#[test]
fn the_password_step_leads_straight_to_the_factor_page() {
    let site = site(&[]);
    let mut b = Browser::new(&site);
    let password_post = |b: &mut Browser, return_to: Option<&str>| {
        let page = b.get("/t/acme/login");
        let mut form = format!(
            "csrf={}&email=alice%40example.com&password=password-acme",
            field(&page.body, "csrf")
        );
        if let Some(r) = return_to {
            form.push_str(&format!("&return_to={r}"));
        }
        let res = b.post("/t/acme/login", &form);
        assert_eq!(res.status, 303, "{}", res.body);
        res.header("location").unwrap().to_owned()
    };
    // No factor yet: where the sign-in was going (the login page without a return_to).
    assert_eq!(password_post(&mut b, None), "/t/acme/login");
    assert_eq!(
        password_post(&mut b, Some("%2Ft%2Facme%2Faccount%2Fprofile")),
        "/t/acme/account/profile"
    );
    let (res, _) = enrol(&mut b, "acme", "", "Phone");
    assert_eq!(res.status, 200, "{}", res.body);
    let codes = shown_codes(&res.body);

    // Without a return_to the factor page's own default applies: back to the login page,
    // now signed in with both factors.
    let to = password_post(&mut b, None);
    assert_eq!(to, "/t/acme/login/factor");
    let page = b.get(&to);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Second step</h1>"), "{}", page.body);
    let form = format!(
        "csrf={}&return_to={}&recovery_code={}",
        field(&page.body, "csrf"),
        field(&page.body, "return_to").replace('/', "%2F"),
        codes[0]
    );
    let res = b.post("/t/acme/login/factor", &form);
    assert!(matches!(res.status, 200 | 303), "{}", res.body);
    assert_eq!(b.get("/t/acme/account/profile").status, 200);
    let to = password_post(&mut b, Some("%2Ft%2Facme%2Faccount%2Fprofile"));
    assert_eq!(
        to,
        "/t/acme/login/factor?return_to=%2Ft%2Facme%2Faccount%2Fprofile"
    );
    // A new sign-in is password-only until the step is done.
    assert_eq!(b.get("/t/acme/account/profile").status, 303);
    let page = b.get(&to);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Second step</h1>"), "{}", page.body);
}

/// The notice page a passkey sign-in goes on through (`{issuer}/login/factor/notice`): only
/// for a session through both steps, tells of recovery codes used once, then goes on.
#[test]
fn the_recovery_notice_page_tells_once() {
    let site = site(&[]);
    let mut b = Browser::new(&site);
    b.sign_in("acme");
    let (res, _) = enrol(&mut b, "acme", "", "Phone");
    assert_eq!(res.status, 200, "{}", res.body);
    let codes = shown_codes(&res.body);
    let notice = "/t/acme/login/factor/notice?return_to=%2Ft%2Facme%2Faccount";

    b.sign_in("acme");
    // Password only: sent to the second step, keeping where it was going.
    let res = b.get(notice);
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/login/factor?return_to=%2Ft%2Facme%2Faccount")
    );
    let page = b.get("/t/acme/login/factor?return_to=%2Ft%2Facme%2Faccount");
    let form = format!(
        "csrf={}&return_to=%2Ft%2Facme%2Faccount&recovery_code={}",
        field(&page.body, "csrf"),
        codes[0]
    );
    let res = b.post("/t/acme/login/factor", &form);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("You signed in with a recovery code"));
    // Through both steps: the use is news once (as after a passkey), then the page goes on.
    let res = b.get(notice);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.body.contains("A recovery code was used to sign in"),
        "{}",
        res.body
    );
    assert!(res.body.contains("<strong>9</strong>"), "{}", res.body);
    assert!(
        res.body.contains("href=\"/t/acme/account\""),
        "{}",
        res.body
    );
    let res = b.get(notice);
    assert_eq!(res.status, 303, "told once: {}", res.body);
    assert_eq!(res.header("location"), Some("/t/acme/account"));
    // Only this tenant's pages to go on to.
    let res = b.get("/t/acme/login/factor/notice?return_to=https%3A%2F%2Fevil.example%2F");
    assert_eq!(res.status, 400);
}
