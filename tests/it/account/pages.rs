//! The account page's self-service sections over HTTP (issue 13), the way a browser and a
//! relying party use them: the profile form (errors naming the field, claims at userinfo),
//! the password change (a wrong current password refused and counted; other browsers signed
//! out and refresh tokens dead at /token; this browser still in), and every form refused
//! without its CSRF token. The sessions and applications sections: `lists`.

use super::{Browser, field, sql};
use crate::common::http::{self, Response};
use crate::login_pages::{Site, cli, site, urlencode};

const CB: &str = "https://rp.example/cb";

/// A confidential relying party of `slug` that needs consent: (client_id, secret).
pub(super) fn relying_party(site: &Site, slug: &str, name: &str) -> (String, String) {
    let out = cli(
        &site.db,
        &[
            "client",
            "create",
            "--tenant",
            slug,
            "--name",
            name,
            "--redirect-uri",
            CB,
            "--auth-method",
            "client_secret_post",
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
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The hidden inputs of a form page, in order.
fn hidden(body: &str) -> Vec<(String, String)> {
    body.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|s| {
            let (name, rest) = s.split_once('"')?;
            let value = rest.strip_prefix(" value=\"")?.split('"').next()?;
            Some((name.to_owned(), super::unescape(value)))
        })
        .collect()
}

/// The authorization code flow in browser `b` at acme (allowing the client on the consent
/// page when it asks); the token response.
pub(super) fn tokens(b: &mut Browser, rp: &(String, String)) -> serde_json::Value {
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state=s",
        rp.0,
        urlencode(CB),
        urlencode("openid profile offline_access")
    );
    let mut res = b.get(&authorize);
    if res.status == 200 {
        assert!(res.body.contains("<h1>Allow "), "{}", res.body);
        let mut form: Vec<String> = hidden(&res.body)
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        form.push("decision=approve".into());
        let action = res
            .body
            .split("<form method=\"post\" action=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(super::unescape)
            .expect("the consent form");
        res = b.post(&action, &form.join("&"));
    }
    assert!(matches!(res.status, 302 | 303), "{}", res.body);
    let to = res.header("location").unwrap();
    let code = to
        .split("code=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap_or_else(|| panic!("no code in {to}"));
    let res = token(
        b.site,
        rp,
        &format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}",
            urlencode(CB)
        ),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

fn token(site: &Site, rp: &(String, String), grant: &str) -> Response {
    let form = format!("{grant}&client_id={}&client_secret={}", rp.0, rp.1);
    http::send(&site.target, "POST", "/t/acme/token", &[], Some(&form)).unwrap()
}

pub(super) fn refresh(site: &Site, rp: &(String, String), t: &serde_json::Value) -> Response {
    let r = t["refresh_token"].as_str().unwrap();
    token(
        site,
        rp,
        &format!("grant_type=refresh_token&refresh_token={r}"),
    )
}

pub(super) fn userinfo(site: &Site, t: &serde_json::Value) -> Response {
    let bearer = format!(
        "Authorization: Bearer {}",
        t["access_token"].as_str().unwrap()
    );
    http::send(&site.target, "GET", "/t/acme/userinfo", &[bearer], None).unwrap()
}

/// Signs `b` in at `slug` as `email` with `password`; the login's status.
pub(super) fn sign_in_as(b: &mut Browser, slug: &str, email: &str, password: &str) -> u16 {
    let page = b.get(&format!("/t/{slug}/login"));
    let form = format!(
        "csrf={}&email={}&password={}",
        field(&page.body, "csrf"),
        urlencode(email),
        urlencode(password)
    );
    b.post(&format!("/t/{slug}/login"), &form).status
}

#[test]
fn profile_and_password_from_the_pages() {
    let site = site(&[]);
    let rp = relying_party(&site, "acme", "Photo App");
    let (mut b, mut other) = (Browser::new(&site), Browser::new(&site));
    b.sign_in("acme");
    other.sign_in("acme");
    let page = b.get("/t/acme/account");
    assert_eq!(page.status, 200, "{}", page.body);
    for section in [
        "id=\"profile\"",
        "id=\"password\"",
        "id=\"sessions\"",
        "id=\"apps\"",
        "id=\"no-profile\"",
    ] {
        assert!(page.body.contains(section), "{section}");
    }
    assert_eq!(
        page.body
            .matches("<span class=\"badge\">This browser</span>")
            .count(),
        1
    );
    assert_eq!(
        page.body.matches("name=\"sid\"").count(),
        1,
        "End for the other one only"
    );
    let t = tokens(&mut other, &rp);

    // The profile: a bad field comes back with what was typed and its name; nothing stored.
    let form = b.get("/t/acme/account/profile");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("<h1>Your profile</h1>")
            && form.body.contains("autocomplete=\"given-name\"")
    );
    let fields = |locale: &str| {
        format!(
            "csrf={}&name=Ada+Lovelace&given_name=Ada&family_name=Lovelace&nickname=&locale={}&zoneinfo=Europe%2FLondon",
            field(&form.body, "csrf"),
            urlencode(locale)
        )
    };
    let res = b.post("/t/acme/account/profile", &fields("english please"));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body
            .contains("role=\"alert\" id=\"profile-error\">locale must be a language tag"),
        "{}",
        res.body
    );
    assert!(
        res.body.contains("value=\"english please\"") && res.body.contains("value=\"Lovelace\"")
    );
    assert!(res.body.contains("aria-invalid=\"true\""));
    assert_eq!(
        sql(
            &site,
            "SELECT COALESCE(family_name, '') FROM users WHERE email = 'alice@example.com'"
        ),
        ["", ""]
    );
    let res = b.post("/t/acme/account/profile", &fields("en-GB"));
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=profile")
    );
    let page = b.get("/t/acme/account?notice=profile");
    assert!(
        page.body.contains("Your profile was saved.")
            && page.body.contains("<dd>Ada Lovelace</dd>")
    );
    // The claims as a relying party reads them (the token was issued before the change).
    let claims = userinfo(&site, &t).json();
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["locale"], "en-GB");
    assert_eq!(claims["zoneinfo"], "Europe/London");
    let audit = sql(
        &site,
        "SELECT metadata FROM audit_events WHERE event_type = 'user.updated'",
    );
    assert!(
        audit.len() == 1 && audit[0].contains("\"via\":\"account\""),
        "{audit:?}"
    );
    // Unchanged: nothing written, said so.
    let res = b.post("/t/acme/account/profile", &fields("en-GB"));
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=profile-unchanged")
    );

    // The password: a wrong current one is refused and counted like a failed login.
    let form = b.get("/t/acme/account/password");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("autocomplete=\"current-password\""));
    let change = |current: &str, new: &str, again: &str| {
        format!(
            "csrf={}&current_password={}&new_password={}&new_password_repeat={}",
            field(&form.body, "csrf"),
            urlencode(current),
            urlencode(new),
            urlencode(again)
        )
    };
    let res = b.post(
        "/t/acme/account/password",
        &change("password-wrong", "new passphrase 1", "new passphrase 1"),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body
            .contains("Current password: that is not your current password.")
    );
    assert!(
        !res.body.contains("new passphrase 1"),
        "passwords are never echoed"
    );
    let failures = "SELECT CAST(failed_attempts AS TEXT) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = 'acme'";
    assert_eq!(sql(&site, failures), ["1"]);
    let res = b.post(
        "/t/acme/account/password",
        &change("password-acme", "new passphrase 1", "new passphrase 2"),
    );
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("New password again: the two new passwords differ.")
    );
    let res = b.post(
        "/t/acme/account/password",
        &change("password-acme", "short", "short"),
    );
    assert_eq!(res.status, 422);
    assert!(res.body.contains("New password: password is too short"));
    assert_eq!(
        other.get("/t/acme/account").status,
        200,
        "nothing ended yet"
    );
    assert_eq!(
        refresh(&site, &rp, &t).status,
        200,
        "the family lives (and rotates)"
    );
    let t = tokens(&mut other, &rp);

    let res = b.post(
        "/t/acme/account/password",
        &change("password-acme", "new passphrase 1", "new passphrase 1"),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=password")
    );
    let page = b.get("/t/acme/account?notice=password");
    assert_eq!(page.status, 200, "this browser stays signed in");
    assert!(
        page.body.contains("Your password was changed.")
            && page.body.contains("id=\"no-other-sessions\"")
    );
    let res = other.get("/t/acme/account");
    assert_eq!(res.status, 303, "the other browser is signed out");
    let res = refresh(&site, &rp, &t);
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "invalid_grant");
    assert_eq!(userinfo(&site, &t).status, 401);
    assert_eq!(sql(&site, failures), ["0"]);
    let audit = sql(
        &site,
        "SELECT metadata FROM audit_events WHERE event_type = 'password.changed'",
    );
    assert!(
        audit.len() == 1 && audit[0].contains("\"via\":\"account\""),
        "{audit:?}"
    );
    // The new password signs in, the old one no longer does.
    let mut fresh = Browser::new(&site);
    assert_ne!(
        sign_in_as(&mut fresh, "acme", "alice@example.com", "password-acme"),
        303
    );
    assert_eq!(
        sign_in_as(&mut fresh, "acme", "alice@example.com", "new passphrase 1"),
        303
    );
}

#[test]
fn forms_without_their_csrf_token_change_nothing() {
    let site = site(&[]);
    let rp = relying_party(&site, "acme", "Photo App");
    let (mut b, mut other) = (Browser::new(&site), Browser::new(&site));
    b.sign_in("acme");
    other.sign_in("acme");
    let t = tokens(&mut b, &rp);
    let page = b.get("/t/acme/account");
    let sid = field(&page.body, "sid");
    let beta_token = field(&b.get("/t/beta/login").body, "csrf");
    let state = || {
        [
            sql(
                &site,
                "SELECT COALESCE(given_name, '') || password_hash || CAST(failed_attempts AS TEXT) FROM users ORDER BY id",
            ),
            sql(&site, "SELECT sid FROM sessions ORDER BY sid"),
            sql(&site, "SELECT client_id FROM consents"),
            sql(&site, "SELECT event_type FROM audit_events ORDER BY id"),
        ]
    };
    let before = state();
    for csrf in ["", &"0".repeat(64), beta_token.as_str()] {
        let c = if csrf.is_empty() {
            String::new()
        } else {
            format!("csrf={csrf}&")
        };
        let forms = [
            ("/t/acme/account/profile", format!("{c}given_name=Mallory")),
            (
                "/t/acme/account/password",
                format!(
                    "{c}current_password=password-acme&new_password=evil+passphrase&new_password_repeat=evil+passphrase"
                ),
            ),
            ("/t/acme/account/sessions/end", format!("{c}sid={sid}")),
            ("/t/acme/account/sessions/end-others", c.clone()),
            ("/t/acme/account/apps/revoke", format!("{c}client={}", rp.0)),
        ];
        for (path, form) in forms {
            let res = b.post(path, &form);
            assert_eq!(res.status, 403, "{path} {csrf:?}: {}", res.body);
        }
    }
    assert_eq!(state(), before, "nothing changed");
    assert_eq!(userinfo(&site, &t).status, 200);
    assert_eq!(other.get("/t/acme/account").status, 200);
    // The pages need a session at all: without one, to sign in.
    let mut nobody = Browser::new(&site);
    for path in ["/t/acme/account/profile", "/t/acme/account/password"] {
        let res = nobody.get(path);
        assert_eq!(res.status, 303);
        assert_eq!(
            res.header("location"),
            Some(format!("/t/acme/login?return_to={}", urlencode(path)).as_str())
        );
    }
}
