//! Every forwarded user, client, keys, api-token and audit command, end to end through the
//! daemon (each group where the build serves its endpoints).

use std::path::Path;

use super::*;
use crate::common::http::{self, Target};
use crate::common::{Launch, tempdir};

/// The document's paths, to run each group below once its endpoints are served.
fn api_paths(socket: &Path) -> Vec<String> {
    let doc = http::get(&Target::unix(socket), "/api/v1/openapi.json").unwrap();
    assert_eq!(doc.status, 200);
    doc.json()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn user_client_key_token_and_audit_commands_go_to_the_daemon() {
    let dir = tempdir();
    let (_daemon, socket) = daemon_with_admin_socket(Launch::new(dir.path()), dir.path());
    let cwd = tempdir();
    let files = tempdir();
    let paths = api_paths(&socket);
    let served = |p: &str| {
        let on = paths.iter().any(|x| x == p);
        if !on {
            eprintln!("SKIPPED: {p} is not served by this build");
        }
        on
    };
    let run = |args: &[&str]| ok_json(&remote(&socket, cwd.path(), args));
    assert_eq!(run(&["tenant", "create", "acme", "--json"])["slug"], "acme");

    if served("/api/v1/tenants/{slug}/users") {
        let pw = files.path().join("pw");
        std::fs::write(&pw, "correct horse battery staple\n").unwrap();
        let pw = pw.to_str().unwrap();
        let who = ["--tenant", "acme", "--email", "ada@example.com", "--json"];
        let u = run(&[
            &[
                "user",
                "create",
                "--given-name",
                "Ada",
                "--password-file",
                pw,
            ][..],
            &who,
        ]
        .concat());
        assert_eq!(u["email"], "ada@example.com");
        assert_eq!(u["profile"]["given_name"], "Ada");
        assert_eq!(u["status"], "active");
        let list = run(&["user", "list", "--tenant", "acme", "--json"]);
        assert_eq!(list[0]["id"], u["id"]);
        let v = run(&[&["user", "update", "--given-name", "Augusta"][..], &who].concat());
        assert_eq!(v["profile"]["given_name"], "Augusta");
        let v = run(&[&["user", "role", "--role", "admin"][..], &who].concat());
        assert_eq!(v["role"], "admin");
        let v = run(&[&["user", "set-password", "--password-file", pw][..], &who].concat());
        assert_eq!(v["password_set"], "ada@example.com");
        assert_eq!(
            run(&[&["user", "unlock"][..], &who].concat())["unlocked"],
            "ada@example.com"
        );
        assert_eq!(
            run(&[&["user", "disable"][..], &who].concat())["status"],
            "disabled"
        );
        assert_eq!(
            run(&[&["user", "delete"][..], &who].concat())["deleted"],
            u["id"]
        );
        let out = remote(
            &socket,
            cwd.path(),
            &[&["user", "unlock"][..], &who].concat(),
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("user not found"), "{}", stderr(&out));
    }
    if served("/api/v1/tenants/{slug}/clients") {
        let c = run(&[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--json",
        ]);
        let id = c["client_id"].as_str().unwrap().to_owned();
        let first = c["client_secret"]
            .as_str()
            .expect("a secret, once")
            .to_owned();
        assert_eq!(
            (c["name"].as_str(), c["kind"].as_str()),
            (Some("App"), Some("confidential"))
        );
        let list = run(&["client", "list", "--tenant", "acme", "--json"]);
        assert_eq!(list[0]["client_id"], id.as_str());
        assert!(list[0].get("client_secret").is_none(), "never listed");
        let v = run(&[
            "client",
            "update",
            "--tenant",
            "acme",
            &id,
            "--introspection",
            "true",
            "--json",
        ]);
        assert_eq!(v["introspection"], true);
        let v = run(&["client", "rotate-secret", "--tenant", "acme", &id, "--json"]);
        assert_ne!(v["client_secret"].as_str().unwrap(), first);
        assert_eq!(
            run(&["client", "disable", "--tenant", "acme", &id, "--json"])["status"],
            "disabled"
        );
        assert_eq!(
            run(&["client", "enable", "--tenant", "acme", &id, "--json"])["status"],
            "active"
        );
        assert_eq!(
            run(&["client", "delete", "--tenant", "acme", &id, "--json"])["deleted"],
            id.as_str()
        );
    }
    if served("/api/v1/tenants/{slug}/keys/rotate") {
        let k = run(&[
            "keys", "rotate", "--tenant", "acme", "--alg", "ES256", "--json",
        ]);
        assert_eq!(k["alg"], "ES256");
        let list = run(&["keys", "list", "--tenant", "acme", "--json"]);
        let mine = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kid"] == k["kid"])
            .expect("listed");
        assert_eq!(mine["state"], "next");
    }
    if served("/api/v1/tenants/{slug}/api-tokens") {
        let t = run(&[
            "api-token",
            "create",
            "--tenant",
            "acme",
            "--role",
            "admin",
            "--name",
            "ci",
            "--expires-in",
            "30d",
            "--json",
        ]);
        assert!(t["token"].as_str().unwrap().starts_with("otk_"));
        let id = t["id"].as_str().unwrap().to_owned();
        assert_eq!(
            run(&["api-token", "revoke", "--tenant", "acme", &id, "--json"])["revoked"],
            id.as_str()
        );
        let list = run(&["api-token", "list", "--tenant", "acme", "--json"]);
        assert!(!list[0]["revoked_at"].is_null());
        assert!(list[0].get("token").is_none(), "never listed");
    }
    if served("/api/v1/tenants/{slug}/audit") {
        let rows = run(&["audit", "--tenant", "acme", "--json", "--limit", "3"]);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        let times: Vec<i64> = rows
            .iter()
            .map(|r| r["created_at"].as_i64().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {times:?}"
        );
        let me = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .unwrap()
            .unwrap()
            .name;
        assert!(
            rows.iter().all(|r| r["actor"] == format!("local:{me}")),
            "{rows:?}"
        );
        assert_eq!(rows[0]["event_type"], "api_token.revoked", "{rows:?}");
        // Without --tenant: the platform's trail, which holds acme's events too.
        let all = run(&["audit", "--json", "--limit", "1"]);
        assert_eq!(all.as_array().unwrap().len(), 1);
        let text = remote(
            &socket,
            cwd.path(),
            &["audit", "--tenant", "acme", "--limit", "2"],
        );
        assert_eq!(String::from_utf8_lossy(&text.stdout).lines().count(), 2);
    }
}
