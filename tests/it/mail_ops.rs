//! Operating mail delivery: the counters and the queue depth in `/metrics`, and start-up —
//! an SMTP server that does not answer does not hold up readiness, a `file:` directory that
//! cannot be made stops the daemon with exit code 78 naming the variable.

use std::time::Duration;

use crate::common::http::{self, Target};
use crate::common::{Launch, eventually, free_port};
use crate::mail_delivery::{Db, daemon};
use crate::mail_sink::{self, FROM, Sink};

/// The value of the sample `series` (name and labels as printed) in a `/metrics` body.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `/metrics`: the retry, failure and sent counters (per kind and error class) and the queue
/// depth, each moved by a daemon that meets a server that is down, one that rejects (550), and
/// one that accepts.
#[tokio::test]
async fn metrics_count_sent_retried_and_failed() {
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let retries = "opentrusty_mail_retries_total{kind=\"verify\",class=\"connect\"}";
    let failed = "opentrusty_mail_failed_total{kind=\"verify\",class=\"smtp\"}";
    let sent = "opentrusty_mail_sent_total{kind=\"verify\"}";
    let depth = "opentrusty_mail_queue_depth";
    let check = |target: &Target, series: &str, want: f64, log: &dyn Fn() -> String| {
        let body = || http::get(target, "/metrics").unwrap().body;
        assert!(
            eventually(Duration::from_secs(15), || sample(&body(), series)
                == Some(want)),
            "{series} != {want}\n{}\n{}",
            body(),
            log()
        );
    };

    let down = format!("smtp://127.0.0.1:{}?tls=none", free_port());
    let (d, target) = daemon(&db, &down, &[]);
    db.queue(1, 1).await;
    check(&target, retries, 1.0, &|| d.stderr());
    check(&target, depth, 1.0, &|| d.stderr());
    drop(d);

    // The first message is retried there (and refused for good), and so is a second one.
    let rejecting = Sink::start_with(mail_sink::Options {
        reject: Some("550 5.1.1 no such user".into()),
        ..Default::default()
    });
    let (d, target) = daemon(&db, &rejecting.url(), &[]);
    db.queue(2, 1).await;
    check(&target, failed, 2.0, &|| d.stderr());
    check(&target, depth, 0.0, &|| d.stderr());
    drop(d);

    let ok = Sink::start();
    let (d, target) = daemon(&db, &ok.url(), &[]);
    db.queue(3, 1).await;
    check(&target, sent, 1.0, &|| d.stderr());
    check(&target, depth, 0.0, &|| d.stderr());
}

/// An SMTP server nobody answers for does not hold up readiness; the mail waits.
#[tokio::test]
async fn unreachable_server_does_not_block_readiness() {
    let db = Db::sqlite();
    let url = format!("smtp://127.0.0.1:{}?tls=none", free_port());
    let (d, _) = daemon(&db, &url, &[]);
    assert!(
        eventually(Duration::from_secs(10), || d
            .stderr()
            .contains("cannot reach the SMTP server")),
        "{}",
        d.stderr()
    );
}

/// A `file:` directory that cannot be made: a start-up error naming the variable (exit 78).
#[tokio::test]
async fn bad_mail_directory_is_a_startup_error() {
    let db = Db::sqlite();
    let blocker = db.dir.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let mut launch = Launch::new(db.dir.path())
        .env("OPENTRUSTY_DATABASE_URL", &db.url)
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{}", free_port()))
        .env(
            "OPENTRUSTY_SMTP_URL",
            &format!("file:{}/mail", blocker.display()),
        )
        .env("OPENTRUSTY_MAIL_FROM", FROM)
        .spawn();
    assert_eq!(
        launch.wait_exit(Duration::from_secs(20)),
        Some(78),
        "{}",
        launch.stderr()
    );
    assert!(
        launch.stderr().contains("OPENTRUSTY_SMTP_URL"),
        "{}",
        launch.stderr()
    );
}
