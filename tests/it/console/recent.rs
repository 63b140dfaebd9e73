//! `require_recent_auth`: an authentication older than five minutes sends the browser through
//! the home tenant's `/authorize` with `max_age=300`; a younger one lets the action through.

use axum_extra::extract::cookie::CookieJar;
use opentrusty::service::authz::Principal;
use opentrusty::service::console::session::Live;
use opentrusty::service::{Context, admin};
use opentrusty::web::console::session::require_recent_auth;

use crate::common::stores::{T0, app, sqlite};

#[tokio::test]
async fn old_authentications_go_back_through_authorize_with_max_age() {
    let dir = crate::common::tempdir();
    let app = app(sqlite(dir.path()).await, &[]);
    let acme = admin::tenant_create(&app, "acme", None, &Context::cli())
        .await
        .unwrap();
    let live = |auth_time| Live {
        principal: Principal::local_operator("test"),
        home: acme.clone(),
        auth_time,
    };
    let back = "/console/t/acme/keys";
    let fresh = require_recent_auth(&app, CookieJar::new(), &live(T0 - 299), back, "r").await;
    assert!(fresh.is_none());
    let res = require_recent_auth(&app, CookieJar::new(), &live(T0 - 300), back, "r")
        .await
        .expect("a round trip");
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with("https://id.example.test/t/acme/authorize?"),
        "{to}"
    );
    assert!(
        to.contains("max_age=300") && to.contains("code_challenge_method=S256"),
        "{to}"
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-opentrusty_console_login="),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
}
