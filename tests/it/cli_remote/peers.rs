//! Who the admin socket admits: not a TCP peer without a token, not a user who is neither
//! root, the daemon's user nor in group opentrusty; and `--offline` on another user's database.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use super::*;
use crate::common::http::{self, Target};
use crate::common::{BIN, Launch, eventually, free_port, tempdir};

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
