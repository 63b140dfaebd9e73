//! The console's users pages over real HTTP, signed in through the real login page: an
//! owner's whole journey with a user (`journey`), what viewers, admins and other tenants'
//! consoles may not do (`rules`), and the recent-authentication round trips of granting a
//! role and deleting a user with a clock that can age the sign-in (`recent`, both backends).

mod factors;
mod journey;
mod recent;
mod rules;

use crate::common::http::Response;
use crate::login_pages::urlencode;

/// An `application/x-www-form-urlencoded` body.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The form token of a console page.
fn csrf(body: &str) -> String {
    super::browser::field(body, "csrf").expect("a form token")
}

/// The id of the user a create form's 303 leads to (`.../users/{id}`).
fn created_id(res: &Response) -> String {
    let to = res.header("location").expect("a location");
    let id = to.rsplit('/').next().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{to}");
    id
}

/// The id in the link of `email` on a users list page.
fn id_on_list(body: &str, email: &str) -> String {
    body.split("class=\"user-email\" href=\"")
        .skip(1)
        .find(|s| s.contains(&format!("\">{email}</a>")))
        .and_then(|s| s.split('"').next())
        .and_then(|href| href.rsplit('/').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{email} on the list: {body}"))
}

/// The values of the hidden `name` fields of a page (sids, client ids), in order.
fn hidden(body: &str, name: &str) -> Vec<String> {
    body.split(&format!("name=\"{name}\" value=\""))
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}
