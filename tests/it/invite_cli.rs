//! `opentrusty user invite` (issue 13), on the database directly and through the daemon's
//! admin socket: the user without a password, the mail in the outbox; without mail the
//! command fails and names OPENTRUSTY_SMTP_URL.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::http::{self, Target};
use crate::common::{BIN, Launch, eventually, free_port, tempdir};
use crate::login_pages::{cli, cli_env};

const FROM: &str = "OpenTrusty <no-reply@example.test>";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// (recipient, text) of every mail in the outbox of a SQLite database.
fn outbox(db: &str) -> Vec<(String, String)> {
    use std::str::FromStr;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(db)
            .unwrap()
            .busy_timeout(Duration::from_secs(10));
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        let rows =
            sqlx::query_as("SELECT recipient, body_text FROM mail_outbox ORDER BY created_at")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        rows
    })
}

#[test]
fn offline_invite_queues_the_mail_or_names_the_setting() {
    let dir = tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    std::fs::create_dir_all(dir.path().join("mail")).unwrap();
    let mail = [
        (
            "OPENTRUSTY_SMTP_URL",
            format!("file:{}/mail", dir.path().display()),
        ),
        ("OPENTRUSTY_MAIL_FROM", FROM.to_owned()),
    ];
    let mail: Vec<(&str, &str)> = mail.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(
        cli(&db, &["tenant", "create", "acme"], None)
            .status
            .success()
    );

    // No mail configured: a clear error, nothing created.
    let out = cli(
        &db,
        &[
            "user",
            "invite",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("OPENTRUSTY_SMTP_URL"),
        "{}",
        stderr(&out)
    );
    let users = json_of(&cli(
        &db,
        &["user", "list", "--tenant", "acme", "--json"],
        None,
    ));
    assert_eq!(users.as_array().unwrap().len(), 0);

    let args = [
        "user",
        "invite",
        "--tenant",
        "acme",
        "--email",
        "bob@example.com",
        "--name",
        "Bob",
        "--json",
    ];
    let v = json_of(&cli_env(&db, &mail, &args, None));
    assert_eq!(v["email"], "bob@example.com");
    assert_eq!(v["created"], true);
    assert_eq!(v["profile"]["name"], "Bob");
    assert!(v["expires_at"].as_i64().unwrap() > 0);
    let text = String::from_utf8_lossy(&cli_env(&db, &mail, &args[..8], None).stdout).into_owned();
    assert!(
        text.starts_with("invited again bob@example.com to tenant acme"),
        "{text}"
    );
    let mails = outbox(&db);
    assert_eq!(mails.len(), 2);
    assert!(
        mails
            .iter()
            .all(|(to, text)| to == "bob@example.com" && text.contains("/t/acme/invite/"))
    );

    // A user with a password is not invited.
    let pw = "password-acme\n";
    let create = [
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "alice@example.com",
        "--password-file",
        "-",
    ];
    assert!(cli(&db, &create, Some(pw)).status.success());
    let out = cli_env(
        &db,
        &mail,
        &[
            "user",
            "invite",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("already has a password"),
        "{}",
        stderr(&out)
    );
}

/// The CLI with only the admin socket in its environment: the daemon's mail settings count.
fn remote(socket: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("OPENTRUSTY_ADMIN_SOCKET", socket)
        .output()
        .unwrap()
}

#[test]
fn invite_through_the_daemon() {
    for mail in [false, true] {
        let dir = tempdir();
        let socket = dir.path().join("admin.sock");
        let mut launch = Launch::new(dir.path())
            .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{}", free_port()))
            .env(
                "OPENTRUSTY_ADMIN_LISTEN",
                &format!("unix:{}", socket.display()),
            );
        if mail {
            std::fs::create_dir_all(dir.path().join("mail")).unwrap();
            launch = launch
                .env(
                    "OPENTRUSTY_SMTP_URL",
                    &format!("file:{}/mail", dir.path().display()),
                )
                .env("OPENTRUSTY_MAIL_FROM", FROM);
        }
        let daemon = launch.spawn();
        let target = Target::unix(&socket);
        assert!(
            eventually(Duration::from_secs(20), || http::get(
                &target,
                "/health/live"
            )
            .is_ok_and(|r| r.status == 200)),
            "{}",
            daemon.stderr()
        );
        assert!(
            remote(&socket, &["tenant", "create", "acme"])
                .status
                .success()
        );
        let args = [
            "user",
            "invite",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--json",
        ];
        let out = remote(&socket, &args);
        if !mail {
            assert_eq!(out.status.code(), Some(1));
            assert!(
                stderr(&out).contains("OPENTRUSTY_SMTP_URL"),
                "{}",
                stderr(&out)
            );
            continue;
        }
        let v = json_of(&out);
        assert_eq!(v["email"], "bob@example.com");
        assert_eq!(v["created"], true);
        let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
        // (The sender erases a body once it is sent: the recipient is what stays.)
        let mails = outbox(&db);
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].0, "bob@example.com");
        // The audit trail names the local operator.
        let out = remote(&socket, &["audit", "--tenant", "acme", "--json"]);
        let events = json_of(&out);
        let invited = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_type"] == "user.invited")
            .unwrap_or_else(|| panic!("{events}"))
            .clone();
        assert!(invited.to_string().contains("local:"), "{invited}");
    }
}
