//! The HTTP surface of the token, introspection and revocation endpoints as the RFCs spell
//! it (status codes, headers, error shapes, client authentication rules), and a signing key
//! rotated by the CLI that the daemon publishes after SIGHUP.

use crate::login_pages::site;
use crate::oidc_rp::{base, create_client};

#[tokio::test]
async fn http_surface_rules() {
    let site = tokio::task::spawn_blocking(|| site(&[])).await.unwrap();
    let base = base(&site);
    let c = create_client(&site, "acme", &[]);
    let b = create_client(
        &site,
        "beta",
        &["--grant", "client_credentials", "--scope", "api"],
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    // Discovery is cacheable and names RS256 and S256.
    let res = http
        .get(format!("{base}/t/acme/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let d: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // Unknown tenant: 404, no fallback.
    assert_eq!(
        http.get(format!("{base}/t/nope/jwks.json"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // JWKS keys have distinct kids, use=sig, alg.
    let jwks: serde_json::Value = http
        .get(format!("{base}/t/acme/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in jwks["keys"].as_array().unwrap() {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].is_string() && k["alg"].is_string());
    }
    // Unregistered redirect_uri: an error page, never a redirect.
    let res = http.get(format!("{base}/t/acme/authorize?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=openid")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.headers().get("location").is_none());
    // Other errors redirect with error, state and iss.
    let res = http.get(format!("{base}/t/acme/authorize?response_type=token&client_id={id}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&state=a%20b")).send().await.unwrap();
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(
        loc.starts_with("https://rp.example/cb?error=unsupported_response_type&"),
        "{loc}"
    );
    assert!(
        loc.contains("state=a+b") && loc.contains("iss=http"),
        "{loc}"
    );
    // Token endpoint errors: RFC 6749 §5.2 JSON, no-store, 401 + WWW-Authenticate for Basic.
    let res = http
        .post(format!("{base}/t/acme/token"))
        .basic_auth(id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let e: serde_json::Value = res.json().await.unwrap();
    assert_eq!(e["error"], "invalid_client");
    let res = http
        .post(format!("{base}/t/acme/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let res = http
        .post(format!("{base}/t/acme/token"))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=a&code=b")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // A beta client is unknown in acme; a beta token is unknown in acme.
    let (bid, bsecret) = (
        b["client_id"].as_str().unwrap(),
        b["client_secret"].as_str().unwrap(),
    );
    let res = http
        .post(format!("{base}/t/acme/token"))
        .basic_auth(bid, Some(bsecret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let t: serde_json::Value = http
        .post(format!("{base}/t/beta/token"))
        .basic_auth(bid, Some(bsecret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = http
        .get(format!("{base}/t/acme/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // Userinfo without a token: a bare Bearer challenge.
    let res = http
        .post(format!("{base}/t/acme/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    // Revocation of an unknown token is 200.
    let res = http
        .post(format!("{base}/t/acme/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// `keys rotate` from the CLI, then SIGHUP: the daemon publishes the new key at once (the
/// rotation is made active immediately here, so it also signs with it).
#[test]
fn cli_rotation_is_seen_after_sighup() {
    let site = site(&[]);
    let jwks = || {
        crate::common::http::get(&site.target, "/t/acme/jwks.json")
            .unwrap()
            .json()
    };
    let before = jwks();
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    // The CLI must use the daemon's key-encryption key: here the generated one beside the
    // database, found without STATE_DIRECTORY or a working directory in common.
    let out = std::process::Command::new(crate::common::BIN)
        .args([
            "keys",
            "rotate",
            "--tenant",
            "acme",
            "--activate-in",
            "0",
            "--json",
        ])
        .env_clear()
        .env("OPENTRUSTY_DATABASE_URL", &site.db)
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    site.daemon.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(
        crate::common::eventually(std::time::Duration::from_secs(5), || {
            jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == new["kid"])
        }),
        "the rotated key is published after SIGHUP"
    );
    let after = jwks();
    assert_eq!(
        after["keys"].as_array().unwrap().len(),
        2,
        "the old key stays published"
    );
    let list = std::process::Command::new(crate::common::BIN)
        .args(["keys", "list", "--tenant", "acme"])
        .env_clear()
        .env("OPENTRUSTY_DATABASE_URL", &site.db)
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("active") && text.contains("retired"),
        "{text}"
    );
}
