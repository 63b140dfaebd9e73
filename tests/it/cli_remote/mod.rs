//! The operator commands on an installed package (issue 10): with the daemon's admin socket
//! present they go to the daemon, which authenticates the peer by `SO_PEERCRED` (root, its own
//! user, group `opentrusty`) and does the work with its own configuration; a TCP admin listener
//! grants nothing without a token; `--offline` goes to the database, and refuses a database
//! file of another user.

mod commands;
mod mfa;
mod peers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::http::{self, Target};
use crate::common::{BIN, Daemon, Launch, eventually, free_port, tempdir};

const START: Duration = Duration::from_secs(20);

pub(super) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(super) fn ok_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stdout));
    })
}

/// The CLI as a packaged operator runs it: from `cwd`, with nothing in its environment but
/// the socket's path (no database URL, no `OPENTRUSTY_ALLOW_ROOT`, no public URL).
pub(super) fn remote(socket: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("OPENTRUSTY_ADMIN_SOCKET", socket)
        .output()
        .unwrap()
}

/// The CLI on the database directly.
pub(super) fn offline(db_dir: &Path, args: &[&str]) -> Output {
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
pub(super) fn daemon_with_admin_socket(launch: Launch, dir: &Path) -> (Daemon, PathBuf) {
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

pub(super) fn audit_rows(db_dir: &Path, tenant: &str) -> Vec<Value> {
    let rows = ok_json(&offline(
        db_dir,
        &["audit", "--tenant", tenant, "--json", "--limit", "20"],
    ));
    rows.as_array().unwrap().clone()
}

pub(super) fn is_root() -> bool {
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
        "acme\tactive\tAcme\tmfa=optional"
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
