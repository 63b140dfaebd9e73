//! Each tenant's session cookie is its own: a login or a logout at one tenant never replaces
//! or clears the browser's session at another (DESIGN §5; issue 9, defect 5).

use crate::common::http::{self, Response};
use crate::login_pages::{login_form, post_login, session_cookie, site};

fn signed_in(site: &crate::login_pages::Site, slug: &str, cookies: &str) -> bool {
    let page = http::send(
        &site.target,
        "GET",
        &format!("/t/{slug}/login"),
        &[format!("Cookie: {cookies}")],
        None,
    )
    .unwrap();
    page.body.contains("signed in as")
}

/// Every `Set-Cookie` of a response that names a session cookie.
fn session_set_cookies(res: &Response) -> Vec<String> {
    res.set_cookies
        .iter()
        .filter(|c| c.starts_with("opentrusty_session"))
        .cloned()
        .collect()
}

fn login(site: &crate::login_pages::Site, slug: &str) -> (Response, String) {
    let (csrf, token, _) = login_form(site, slug, "");
    let res = post_login(
        site,
        slug,
        &csrf,
        &format!("csrf={token}&email=alice%40example.com&password=password-{slug}"),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let cookie = session_cookie(&res).expect("session cookie");
    (res, cookie)
}

#[test]
fn a_tenant_never_replaces_or_clears_another_tenants_session() {
    let site = site(&[]);
    let (_, acme) = login(&site, "acme");
    assert!(acme.starts_with("opentrusty_session_acme="), "{acme}");

    // A login at beta sets beta's cookie only; the acme session lives on beside it.
    let (res, beta) = login(&site, "beta");
    assert!(beta.starts_with("opentrusty_session_beta="), "{beta}");
    let set = session_set_cookies(&res);
    assert!(
        set.iter()
            .all(|c| c.starts_with("opentrusty_session_beta=")),
        "{set:?}"
    );
    let both = format!("{acme}; {beta}");
    assert!(signed_in(&site, "acme", &both) && signed_in(&site, "beta", &both));

    // A logout at beta by a browser that has no beta session ends nothing and clears nothing.
    let (csrf, token, _) = login_form(&site, "beta", "");
    let res = http::send(
        &site.target,
        "POST",
        "/t/beta/logout",
        &[format!("Cookie: {acme}; {csrf}")],
        Some(&format!("csrf={token}")),
    )
    .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        session_set_cookies(&res).is_empty(),
        "{:?}",
        res.set_cookies
    );
    assert!(signed_in(&site, "acme", &acme));

    // An RP-initiated logout at beta (GET, no hint: a confirmation page) clears nothing either.
    let res = http::send(
        &site.target,
        "GET",
        "/t/beta/logout",
        &[format!("Cookie: {both}")],
        None,
    )
    .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        session_set_cookies(&res).is_empty(),
        "{:?}",
        res.set_cookies
    );

    // Beta's own logout ends beta's session and clears beta's cookie only.
    let (csrf, token, _) = login_form(&site, "beta", "");
    let res = http::send(
        &site.target,
        "POST",
        "/t/beta/logout",
        &[format!("Cookie: {both}; {csrf}")],
        Some(&format!("csrf={token}")),
    )
    .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let set = session_set_cookies(&res);
    assert!(
        set.len() == 1 && set[0].starts_with("opentrusty_session_beta="),
        "{set:?}"
    );
    assert!(!signed_in(&site, "beta", &both));
    assert!(signed_in(&site, "acme", &both));
}
