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
