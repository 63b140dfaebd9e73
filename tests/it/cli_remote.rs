//! The operator commands on an installed package (issue 10): with the daemon's admin socket
//! present they go to the daemon, which authenticates the peer by `SO_PEERCRED` (root, its own
//! user, group `opentrusty`) and does the work with its own configuration; a TCP admin listener
//! grants nothing without a token; `--offline` goes to the database, and refuses a database
//! file of another user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::http::{self, Target};
use crate::common::{BIN, Daemon, Launch, eventually, free_port, tempdir};

const START: Duration = Duration::from_secs(20);

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stdout));
    })
}

/// The CLI as a packaged operator runs it: from `cwd`, with nothing in its environment but
/// the socket's path (no database URL, no `OPENTRUSTY_ALLOW_ROOT`, no public URL).
fn remote(socket: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("OPENTRUSTY_ADMIN_SOCKET", socket)
        .output()
        .unwrap()
}

/// The CLI on the database directly.
fn offline(db_dir: &Path, args: &[&str]) -> Output {
    let db = format!("sqlite://{}/opentrusty.db", db_dir.display());
    Command::new(BIN)
        .args(args)
        .arg("--offline")
        .current_dir(db_dir)
        .env_clear()
        .env("OPENTRUSTY_DATABASE_URL", db)
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .env("STATE_DIRECTORY", db_dir)
        .output()
        .unwrap()
}

/// A daemon with its auth plane on loopback TCP and its admin plane on `dir/admin.sock`.
fn daemon_with_admin_socket(launch: Launch, dir: &Path) -> (Daemon, PathBuf) {
    let socket = dir.join("admin.sock");
    let daemon = launch
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{}", free_port()))
        .env(
            "OPENTRUSTY_ADMIN_LISTEN",
            &format!("unix:{}", socket.display()),
        )
        .spawn();
    let target = Target::unix(&socket);
    assert!(
        eventually(START, || http::get(&target, "/health/live")
            .is_ok_and(|r| r.status == 200)),
        "log:\n{}",
        daemon.stderr()
    );
    (daemon, socket)
}

fn audit_rows(db_dir: &Path, tenant: &str) -> Vec<Value> {
    let rows = ok_json(&offline(
        db_dir,
        &["audit", "--tenant", tenant, "--json", "--limit", "20"],
    ));
    rows.as_array().unwrap().clone()
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

#[test]
fn tenant_commands_go_to_the_daemon_and_are_audited_as_the_local_operator() {
    let dir = tempdir();
    let (_daemon, socket) = daemon_with_admin_socket(Launch::new(dir.path()), dir.path());
    let cwd = tempdir();
    let me = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .unwrap()
        .unwrap()
        .name;

    // The issuer is built from the daemon's public URL: the CLI has no configuration at all.
    let t = ok_json(&remote(
        &socket,
        cwd.path(),
        &["tenant", "create", "acme", "--name", "Acme Corp", "--json"],
    ));
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["name"], "Acme Corp");
    assert_eq!(t["status"], "active");
    assert_eq!(t["issuer"], "http://127.0.0.1:8080/t/acme");

    let out = remote(
        &socket,
        cwd.path(),
        &["tenant", "update", "acme", "--name", "Acme"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "renamed tenant acme to \"Acme\""
    );
    let t = ok_json(&remote(
        &socket,
        cwd.path(),
        &["tenant", "disable", "acme", "--json"],
    ));
    assert_eq!(t["status"], "disabled");
    let out = remote(&socket, cwd.path(), &["tenant", "enable", "acme"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "enabled tenant acme"
    );
    let list = ok_json(&remote(&socket, cwd.path(), &["tenant", "list", "--json"]));
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme"]);
    let text = remote(&socket, cwd.path(), &["tenant", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&text.stdout).trim(),
        "acme\tactive\tAcme"
    );

    // API errors come back as the offline commands report theirs: one line, exit 1.
    for (args, want) in [
        (&["tenant", "create", "acme"][..], "already"),
        (&["tenant", "disable", "nope"], "tenant not found"),
        (&["tenant", "create", "Not A Slug"], "slug"),
    ] {
        let out = remote(&socket, cwd.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let e = stderr(&out);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.starts_with("opentrusty: error: "), "{e}");
        assert!(e.to_lowercase().contains(want), "{args:?}: {e}");
    }
    // Nothing of the daemon's state landed where the CLI ran.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);

    // The daemon's audit trail names the operator by unix user, through the API.
    let rows = audit_rows(dir.path(), "acme");
    let created = rows
        .iter()
        .find(|r| r["event_type"] == "tenant.created")
        .expect("tenant.created");
    assert_eq!(created["actor"], format!("local:{me}"));
    let meta: Value = serde_json::from_str(created["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["via"], "api");
    assert!(rows.iter().any(|r| r["event_type"] == "tenant.disabled"));

    // `--offline` works on the database itself, with the same use case: audited `via: cli`.
    let t = ok_json(&offline(
        dir.path(),
        &["tenant", "create", "beta", "--json"],
    ));
    assert_eq!(t["slug"], "beta");
    let rows = audit_rows(dir.path(), "beta");
    assert_eq!(rows[0]["actor"], format!("local:{me}"));
    let meta: Value = serde_json::from_str(rows[0]["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["via"], "cli");
    let list = ok_json(&remote(&socket, cwd.path(), &["tenant", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2, "the daemon sees it too");

    // whoami over the socket: a platform owner named by the unix user.
    let who = http::get(&Target::unix(&socket), "/api/v1/whoami").unwrap();
    assert_eq!(who.status, 200, "{}", who.body);
    let who = who.json();
    assert_eq!(who["kind"], "local");
    assert_eq!(who["id"], me.as_str());
    assert_eq!(who["role"], "owner");
    assert_eq!(who["platform"], true);
}

#[test]
fn a_missing_socket_is_an_error_and_offline_commands_need_no_daemon() {
    let dir = tempdir();
    let gone = dir.path().join("no-such.sock");
    let out = remote(&gone, dir.path(), &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("OPENTRUSTY_ADMIN_SOCKET") && e.contains("--offline"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    // Commands without an API counterpart never look for the socket.
    let out = Command::new(BIN)
        .args(["check-config", "--json"])
        .env_clear()
        .env("OPENTRUSTY_ADMIN_SOCKET", &gone)
        .env("OPENTRUSTY_DATABASE_URL", "sqlite:///nonexistent/x.db")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A stale socket nobody listens on: the daemon is not running.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let out = remote(&stale, dir.path(), &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach the daemon"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_tcp_admin_listener_grants_nothing_without_a_token() {
    let dir = tempdir();
    let port = free_port();
    // A lone loopback listener serves every plane, the management API included.
    let daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(START, || http::get(&target, "/health/live")
            .is_ok_and(|r| r.status == 200)),
        "log:\n{}",
        daemon.stderr()
    );
    let res = http::get(&target, "/api/v1/whoami").unwrap();
    assert_eq!(res.status, 401, "{}", res.body);
    assert!(
        res.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    let res = http::get(&target, "/api/v1/tenants").unwrap();
    assert_eq!(res.status, 401, "{}", res.body);
}

/// Runs the CLI as `nobody` (uid 65534) through `runuser`.
fn as_nobody(socket: &Path, args: &[&str]) -> Option<Output> {
    if !is_root() || !Path::new("/usr/sbin/runuser").exists() {
        eprintln!("SKIPPED: running the CLI as nobody needs root and runuser");
        return None;
    }
    Some(
        Command::new("/usr/sbin/runuser")
            .args(["-u", "nobody", "--", BIN])
            .args(args)
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("OPENTRUSTY_ADMIN_SOCKET", socket)
            .output()
            .unwrap(),
    )
}

/// Lets every user reach the socket: admission is then the daemon's decision alone.
fn open_to_all(dir: &Path, socket: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).unwrap();
}

#[test]
fn a_peer_that_is_not_an_operator_gets_401() {
    let dir = tempdir();
    // The daemon runs as root here: nobody is neither root, its user, nor in `opentrusty`.
    let (_daemon, socket) = daemon_with_admin_socket(Launch::new(dir.path()), dir.path());
    open_to_all(dir.path(), &socket);
    if nix::unistd::Group::from_name("opentrusty")
        .ok()
        .flatten()
        .is_some()
    {
        eprintln!("note: group opentrusty exists on this host; nobody is not in it");
    }
    let Some(out) = as_nobody(&socket, &["tenant", "create", "acme"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("does not accept") && e.contains("opentrusty"),
        "{e}"
    );
    // The daemon's own 401 (the socket let nobody connect), not a refused connect.
    assert!(e.contains("bearer token is required"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let list = ok_json(&offline(dir.path(), &["tenant", "list", "--json"]));
    assert_eq!(list, serde_json::json!([]), "nothing was created");
}

#[test]
fn the_daemons_own_user_is_an_operator_and_offline_refuses_its_database() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to start the daemon as nobody");
        return;
    }
    let dir = tempdir();
    nix::unistd::chown(
        dir.path(),
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    let launch = Launch::new(dir.path())
        .without("OPENTRUSTY_ALLOW_ROOT")
        .env("OPENTRUSTY_USER", "65534:65534");
    let (_daemon, socket) = daemon_with_admin_socket(launch, dir.path());
    open_to_all(dir.path(), &socket);
    let Some(out) = as_nobody(&socket, &["tenant", "create", "acme", "--json"]) else {
        return;
    };
    assert_eq!(ok_json(&out)["slug"], "acme");
    // Root is an operator too, through the same daemon, from any directory.
    let cwd = tempdir();
    let list = ok_json(&remote(&socket, cwd.path(), &["tenant", "list", "--json"]));
    assert_eq!(list[0]["slug"], "acme");

    // The database belongs to the daemon's user: root working on it directly would leave
    // root-owned WAL files the daemon cannot open. Refused, naming both users.
    let db = dir.path().join("opentrusty.db");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&db).unwrap());
    assert_eq!(owner, 65534);
    let out = offline(dir.path(), &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("belongs to nobody, not to root"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let root_files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::os::unix::fs::MetadataExt::uid(&e.metadata().unwrap()) == 0
                && e.file_name().to_string_lossy().starts_with("opentrusty.db")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(root_files.is_empty(), "root created {root_files:?}");
}

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

/// `opentrusty bootstrap` with the daemon's socket there: the daemon creates the platform and
/// its owner in its own database, the generated password is shown once, and a second run is
/// refused. The new owner then holds the role the API reads.
#[test]
fn bootstrap_goes_to_the_daemon_once() {
    let dir = tempdir();
    let (_daemon, socket) = daemon_with_admin_socket(Launch::new(dir.path()), dir.path());
    let cwd = tempdir();
    let v = ok_json(&remote(
        &socket,
        cwd.path(),
        &["bootstrap", "--email", "Root@Example.com", "--json"],
    ));
    assert_eq!(v["tenant"]["slug"], "platform");
    assert_eq!(v["user"]["email"], "root@example.com");
    assert_eq!(v["user"]["role"], "owner");
    assert!(v["password"].as_str().is_some_and(|p| p.len() >= 32), "{v}");
    // Nothing was written where the CLI ran.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
    let again = remote(
        &socket,
        cwd.path(),
        &["bootstrap", "--email", "x@example.com"],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    // In the daemon's database, audited as the operator.
    let rows = audit_rows(dir.path(), "platform");
    assert!(
        rows.iter().any(|r| r["event_type"] == "user.created"
            && r["actor"].as_str().unwrap_or("").starts_with("local:")),
        "{rows:?}"
    );
}
