//! First run, as `make run` does it: the daemon started from a checkout on an empty database
//! (the default `./var/opentrusty.db`) logs the exact `bootstrap` command to copy and where to
//! sign in; running that command as printed, in the same directory, and signing in at the
//! printed URL reaches the console without a restart; the next start logs the console URL.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::browser::Browser;
use crate::common::http::{self, Target};
use crate::common::{BIN, Daemon, eventually, free_port, tempdir};

/// `target/release/opentrusty serve` started in `dir`, by that relative path (as cargo does
/// under `make run`), with the environment a newcomer has: no database URL, no state directory.
fn start(dir: &std::path::Path, port: u16, n: u32) -> Daemon {
    let stderr_path = dir.join(format!("daemon-{n}.log"));
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg("cd \"$0\" && exec target/release/opentrusty serve")
        .arg(dir)
        .env_clear()
        .envs(newcomer_env(port))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let daemon = Daemon { child, stderr_path };
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(Duration::from_secs(20), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "{}",
        daemon.stderr()
    );
    daemon
}

fn newcomer_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("OPENTRUSTY_LISTEN", format!("127.0.0.1:{port}")),
        ("OPENTRUSTY_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192".into()),
        ("OPENTRUSTY_ARGON2_ITERATIONS", "1".into()),
        // `make run` exports it when run as root (tests run as root).
        ("OPENTRUSTY_ALLOW_ROOT", "true".into()),
    ]
}

/// The text between the first pair of backticks after `marker` in the log.
fn quoted_after(log: &str, marker: &str) -> Option<String> {
    log.split(marker)
        .nth(1)?
        .split('`')
        .nth(1)
        .map(str::to_owned)
}

#[test]
fn make_run_leads_from_an_empty_database_to_a_signed_in_console() {
    let dir = tempdir();
    let bin = dir.path().join("target/release/opentrusty");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(BIN, &bin).unwrap();
    let port = free_port();
    let daemon = start(dir.path(), port, 1);
    let console = format!("http://127.0.0.1:{port}/console/");
    let marker = "no platform administrator yet: run ";
    assert!(
        eventually(Duration::from_secs(10), || daemon.stderr().contains(marker)),
        "{}",
        daemon.stderr()
    );
    let log = daemon.stderr();
    assert!(log.contains(&format!("then sign in at {console}")), "{log}");
    assert!(!log.contains("admin console: "), "{log}");
    // The command as printed: this binary by the path it was started with, runnable from the
    // same directory (and, as root, with the variable the CLI needs then too).
    let command = quoted_after(&log, marker).expect("a command in backticks");
    assert_eq!(
        command,
        "OPENTRUSTY_ALLOW_ROOT=true target/release/opentrusty bootstrap --email you@example.com"
    );
    assert!(dir.path().join("var/opentrusty.db").exists());

    // The newcomer runs it in a second terminal: same directory, same environment, no edits.
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("cd \"$0\" && {command}"))
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = stdout
        .split("password (shown once): ")
        .nth(1)
        .and_then(|s| s.lines().next())
        .expect("the generated password")
        .trim()
        .to_owned();

    // ... and signs in at the printed URL, the daemon still running.
    let mut browser = Browser::new(&[port]);
    let page = browser.sign_in(&console, "you@example.com", &password);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Dashboard</h1>"), "{}", page.body);
    assert!(page.body.contains("you@example.com"));
    drop(daemon);

    // The next start names the console instead of the bootstrap command.
    let again = start(dir.path(), port, 2);
    let want = format!("admin console: {console}");
    assert!(
        eventually(Duration::from_secs(10), || again.stderr().contains(&want)),
        "{}",
        again.stderr()
    );
    assert!(!again.stderr().contains("bootstrap"), "{}", again.stderr());
}
