//! The user's account page over real HTTP (issue 12): adding an authenticator app from the
//! page (the code computed from the secret the page shows), the list, removal, recovery codes
//! (shown once; a new set kills the old). `checks`: re-authentication older than five minutes
//! sent back to sign in, `return_to` with the session stepped up, CSRF, tenant isolation.
//! `enrolment`: the use cases behind the page, on both backends. Issue 13: `self_service`
//! (the profile, password, sessions and applications use cases, both backends) and `pages`
//! (those sections over HTTP).

mod checks;
mod chromium;
mod enrolment;
mod lists;
mod pages;
mod self_service;
mod sign_in;

use std::collections::BTreeMap;

use opentrusty::protocol::totp;
use opentrusty::service::sessions;

use crate::common::http::{self, Response};
use crate::login_pages::{Site, site, urlencode};

/// A browser: keeps the cookies the site sets and sends them back.
pub(crate) struct Browser<'a> {
    site: &'a Site,
    jar: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(site: &'a Site) -> Browser<'a> {
        Browser {
            site,
            jar: BTreeMap::new(),
        }
    }

    pub(crate) fn cookie_header(&self) -> Vec<String> {
        let all: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if all.is_empty() {
            vec![]
        } else {
            vec![format!("Cookie: {}", all.join("; "))]
        }
    }

    pub(crate) fn send(&mut self, method: &str, path: &str, form: Option<&str>) -> Response {
        let res = http::send(&self.site.target, method, path, &self.cookie_header(), form).unwrap();
        for (k, v) in res.cookies() {
            if v.is_empty() {
                self.jar.remove(&k);
            } else {
                self.jar.insert(k, v);
            }
        }
        res
    }

    pub(crate) fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, None)
    }

    pub(crate) fn post(&mut self, path: &str, form: &str) -> Response {
        self.send("POST", path, Some(form))
    }

    /// Signs in at `slug` with the site's password for alice.
    pub(crate) fn sign_in(&mut self, slug: &str) {
        let page = self.get(&format!("/t/{slug}/login"));
        let form = format!(
            "csrf={}&email=alice%40example.com&password=password-{slug}",
            field(&page.body, "csrf")
        );
        let res = self.post(&format!("/t/{slug}/login"), &form);
        assert_eq!(res.status, 303, "{}", res.body);
    }

    pub(crate) fn session(&self, slug: &str) -> String {
        self.jar[&format!("opentrusty_session_{slug}")].clone()
    }
}

/// The value of a hidden or text input named `name`.
pub(crate) fn field(body: &str, name: &str) -> String {
    body.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(unescape)
        .unwrap_or_else(|| panic!("no field {name} in {body}"))
}

/// Decodes the entities the templates emit in attribute values.
pub(crate) fn unescape(s: &str) -> String {
    [
        ("&#38;", "&"),
        ("&#x2f;", "/"),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&quot;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to))
}

/// The secret the enrolment page shows (`<code id="totp-secret">`, grouped in fours).
pub(crate) fn shown_secret(body: &str) -> Vec<u8> {
    let text = body
        .split("<code id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("the secret as text");
    unbase32(&text.replace(' ', ""))
}

/// RFC 4648 base32 (no padding) back to bytes, as an authenticator app reads the secret.
pub(crate) fn unbase32(s: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {c}"),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The app's current code for `secret`.
pub(crate) fn current_code(secret: &[u8]) -> String {
    totp::code(secret, totp::step(now()))
}

/// The recovery codes of a codes page, in order.
pub(crate) fn shown_codes(body: &str) -> Vec<String> {
    let list = body
        .split("<ol id=\"recovery-codes\"")
        .nth(1)
        .and_then(|s| s.split("</ol>").next())
        .expect("the codes list");
    list.split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

/// Runs SQL on the site's SQLite database (what a clock five minutes ahead would see).
pub(crate) fn sql(site: &Site, q: &str) -> Vec<String> {
    use sqlx::Row;
    use std::str::FromStr;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&site.db)
            .unwrap()
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(q.to_owned()))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
            .collect()
    })
}

/// Adds an authenticator app named `name` from the page (its code computed from the secret
/// the page shows, as a phone would); returns the final response and the code it used.
pub(crate) fn enrol(b: &mut Browser, slug: &str, query: &str, name: &str) -> (Response, String) {
    let page = b.get(&format!("/t/{slug}/account/totp{query}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let code = current_code(&shown_secret(&page.body));
    let mut form = format!(
        "csrf={}&factor={}&name={}&code={code}",
        field(&page.body, "csrf"),
        field(&page.body, "factor"),
        urlencode(name),
    );
    if page.body.contains("name=\"return_to\"") {
        form.push_str(&format!(
            "&return_to={}",
            urlencode(&field(&page.body, "return_to"))
        ));
    }
    (b.post(&format!("/t/{slug}/account/totp"), &form), code)
}

#[test]
fn enrol_list_regenerate_and_remove_from_the_page() {
    let site = site(&[]);
    let mut b = Browser::new(&site);
    // Without a session: to the login page, which comes back here.
    let res = b.get("/t/acme/account");
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/login?return_to=%2Ft%2Facme%2Faccount")
    );
    b.sign_in("acme");
    let page = b.get("/t/acme/account");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Your account</h1>") && page.body.contains("id=\"no-factors\""));
    assert!(page.body.contains("Add an authenticator app"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(!page.body.contains("<script"));

    // The enrolment page: an inline SVG QR code, no prolog, no data: URL; the secret as text.
    let page = b.get("/t/acme/account/totp");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Add an authenticator app</h1>"));
    assert!(page.body.contains("<svg class=\"qr\""), "{}", page.body);
    assert!(!page.body.contains("<?xml") && !page.body.contains("data:"));
    assert!(
        page.body.contains("value=\"Authenticator app\"")
            && page.body.contains("autocomplete=\"one-time-code\"")
    );
    let secret = shown_secret(&page.body);
    assert_eq!(secret.len(), 20);
    // A wrong code: the same enrolment again, with the error.
    let wrong = format!(
        "{:06}",
        (current_code(&secret).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let form = |code: &str, p: &Response| {
        format!(
            "csrf={}&factor={}&name=Phone&code={code}",
            field(&p.body, "csrf"),
            field(&p.body, "factor")
        )
    };
    let res = b.post("/t/acme/account/totp", &form(&wrong, &page));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("id=\"enrol-error\""));
    assert_eq!(
        shown_secret(&res.body),
        secret,
        "the same secret is shown again"
    );
    assert!(res.body.contains("value=\"Phone\""));
    // The right code: the first factor shows the recovery codes at once.
    let res = b.post("/t/acme/account/totp", &form(&current_code(&secret), &res));
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("<h1>Recovery codes</h1>"));
    // The copy button's script is our own file under a CSP without inline script.
    let csp = res.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        res.body
            .contains("<script src=\"/assets/account-copy.js\"></script>")
    );
    let js = http::get(&site.target, "/assets/account-copy.js").unwrap();
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("navigator.clipboard.writeText"));
    let first_codes = shown_codes(&res.body);
    assert_eq!(first_codes.len(), 10);
    assert!(res.body.contains("href=\"/t/acme/account\""), "Continue");
    // The session counted the code as its second factor (stepped up in place).
    let token = b.session("acme");
    let amr = sql(
        &site,
        &format!(
            "SELECT amr FROM sessions WHERE id_hash = '{}'",
            sessions::hash_token(&token)
        ),
    );
    assert_eq!(amr, ["pwd otp mfa"]);

    // The list shows it.
    let page = b.get("/t/acme/account");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<td>Phone</td><td>Authenticator app</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("10 recovery codes left."));
    assert!(page.body.contains("aria-label=\"Remove Phone\""));

    // New codes: ten others, and only the new set is stored.
    let res = b.post(
        "/t/acme/account/recovery-codes",
        &format!("csrf={}", field(&page.body, "csrf")),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let second_codes = shown_codes(&res.body);
    assert_eq!(second_codes.len(), 10);
    assert!(second_codes.iter().all(|c| !first_codes.contains(c)));
    let stored = sql(&site, "SELECT code_hash FROM mfa_recovery_codes");
    let hash = |c: &String| sessions::hash_token(&c.replace('-', ""));
    assert_eq!(stored.len(), 10);
    assert!(second_codes.iter().all(|c| stored.contains(&hash(c))));
    assert!(
        first_codes.iter().all(|c| !stored.contains(&hash(c))),
        "old codes are gone"
    );

    // Remove it: the list is empty, the recovery codes went with the last factor.
    let factor = field(&page.body, "factor");
    let res = b.post(
        "/t/acme/account/remove",
        &format!("csrf={}&factor={factor}", field(&page.body, "csrf")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=removed")
    );
    let page = b.get("/t/acme/account?notice=removed");
    assert!(
        page.body.contains("The factor was removed.") && page.body.contains("id=\"no-factors\"")
    );
    assert!(sql(&site, "SELECT code_hash FROM mfa_recovery_codes").is_empty());
    // Removing it again: nothing to remove.
    let res = b.post(
        "/t/acme/account/remove",
        &format!("csrf={}&factor={factor}", field(&page.body, "csrf")),
    );
    assert_eq!(res.status, 404);
}
