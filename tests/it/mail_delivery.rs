//! Mail delivery by the real daemon to a real SMTP server (aiosmtpd, `mail_sink`): a queued
//! message arrives within 5 s; the server down, then back: retried, then delivered once; the
//! daemon killed with SIGKILL after the commit: delivered after the restart, exactly once;
//! two daemons on one PostgreSQL database deliver N messages exactly once in total; the
//! `file:` transport; the counters in `/metrics`; start-up with an unreachable server and with
//! a bad mail setting. Messages are queued the way the flows do it, through
//! `service::mail::queue` in a committed transaction on the daemon's database (here from the
//! test process: another writer, as the CLI or another node would be). TLS is in `mail_tls`.

use std::time::{Duration, Instant};

use opentrusty::config::DatabaseUrl;
use opentrusty::service::mail;
use opentrusty::store::Store;

use crate::common::http::{self, Target};
use crate::common::{Daemon, Launch, eventually, free_port, pg, tempdir};
use crate::login_pages::cli_env;
use crate::mail_outbox::rows;
use crate::mail_sink::{self, FROM, Sink};
use crate::oauth_world::KEK;

/// What the issue demands between the commit and the message leaving.
const BOUND: Duration = Duration::from_secs(5);

/// A database with tenant `acme`: SQLite in `dir`, or a fresh PostgreSQL one.
pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempdir();
        let url = format!("sqlite://{}/opentrusty.db", dir.path().display());
        Db::with_tenant(url, dir)
    }

    pub async fn postgres(test: &str) -> Option<Db> {
        let url = pg::fresh_database(test).await?;
        Some(Db::with_tenant(url, tempdir()))
    }

    fn with_tenant(url: String, dir: tempfile::TempDir) -> Db {
        let out = cli_env(
            &url,
            &[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)],
            &["tenant", "create", "acme", "--name", "Acme Corp"],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Db { url, dir }
    }

    /// Queues `n` messages (to `user{i}@example.com`, i from `first`) in one transaction.
    pub async fn queue(&self, first: usize, n: usize) {
        let store = self.store().await;
        let mut tx = store.begin().await.unwrap();
        let tenant = tx.tenant_by_slug("acme").await.unwrap().unwrap();
        for i in first..first + n {
            let m = mail::Mail {
                kind: "verify",
                to: format!("user{i}@example.com"),
                subject: format!("Message {i}"),
                text: format!("Message {i}: https://id.example.test/t/acme/verify?token=t{i}"),
                html: format!(
                    "<p>Message {i}: <a href=\"https://id.example.test/t/acme/verify?token=t{i}&amp;x=1\">verify</a></p>"
                ),
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            mail::queue(&mut tx.scope(&tenant), &m, now).await.unwrap();
        }
        tx.commit().await.unwrap();
        store.close().await;
    }

    async fn store(&self) -> Store {
        let url = if self.url.starts_with("postgres") {
            DatabaseUrl::Postgres(self.url.parse().unwrap())
        } else {
            DatabaseUrl::Sqlite(self.url.trim_start_matches("sqlite://").into())
        };
        Store::connect(&url, 2).await.unwrap()
    }
}

/// A daemon on `db` sending through `smtp_url`, serving all planes on a loopback port;
/// returns once it is ready.
pub fn daemon(db: &Db, smtp_url: &str, extra: &[(&str, &str)]) -> (Daemon, Target) {
    let node = tempdir();
    let port = free_port();
    let mut launch = Launch::new(node.path())
        .env("OPENTRUSTY_DATABASE_URL", &db.url)
        .env("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", &format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_SMTP_URL", smtp_url)
        .env("OPENTRUSTY_MAIL_FROM", FROM);
    // The daemon's log goes next to the database, which outlives a killed daemon.
    launch.dir = db.dir.path().to_owned();
    for (k, v) in extra {
        launch = launch.env(k, v);
    }
    let daemon = launch.spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(Duration::from_secs(30), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "{}",
        daemon.stderr()
    );
    (daemon, target)
}

/// Waits until every outbox row is sent; panics with the rows and the log after `timeout`.
async fn all_sent(db: &Db, timeout: Duration, log: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    loop {
        let r = rows(&db.url).await;
        if !r.is_empty() && r.iter().all(|r| r.sent_at.is_some()) {
            return;
        }
        if Instant::now() > deadline {
            panic!("not all sent: {r:#?}\n{}", log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Queued while the daemon runs: in the sink within 5 s, with the headers and both parts;
/// the row marked sent and its bodies erased.
async fn reaches_the_sink_within_5s(db: Db) {
    let sink = Sink::start();
    let (d, _) = daemon(&db, &sink.url(), &[]);
    let t0 = Instant::now();
    db.queue(1, 1).await;
    let got = sink.wait_for(1, BOUND);
    let took = t0.elapsed();
    eprintln!("queued -> in the sink: {took:?}");
    let m = &got[0];
    assert_eq!(m.to(), ["user1@example.com"]);
    assert_eq!(m.subject(), "Message 1");
    assert_eq!(m.header("From"), Some(FROM));
    assert_eq!(m.header("To"), Some("user1@example.com"));
    assert!(
        m.header("Date").is_some() && m.header("Message-ID").is_some(),
        "{m:?}"
    );
    assert_eq!(m.content_type, "multipart/alternative");
    assert!(m.defects.is_empty(), "{:?}", m.defects);
    assert_eq!(
        m.link_containing("/verify").as_deref(),
        Some("https://id.example.test/t/acme/verify?token=t1")
    );
    assert_eq!(
        m.html_links(),
        ["https://id.example.test/t/acme/verify?token=t1&x=1"]
    );
    assert_eq!(m.mail_from, "noreply@opentrusty.test");
    all_sent(&db, BOUND, || d.stderr()).await;
    let row = &rows(&db.url).await[0];
    assert!(
        row.body_text.is_empty() && row.body_html.is_empty(),
        "{row:?}"
    );
    assert_eq!(
        m.header("Message-ID"),
        Some(format!("<{}@opentrusty.test>", row.id).as_str())
    );
}

#[tokio::test]
async fn reaches_the_sink_within_5s_sqlite() {
    if mail_sink::skip() {
        return;
    }
    reaches_the_sink_within_5s(Db::sqlite()).await;
}

#[tokio::test]
async fn reaches_the_sink_within_5s_postgres() {
    if mail_sink::skip() {
        return;
    }
    if let Some(db) = Db::postgres("mail_reaches_sink").await {
        reaches_the_sink_within_5s(db).await;
    }
}

/// The server down: attempts are recorded (and retried); back up: delivered, once.
async fn retried_until_the_server_is_back(db: Db) {
    let mut sink = Sink::start();
    sink.stop();
    let (d, _) = daemon(&db, &sink.url(), &[]);
    db.queue(1, 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while rows(&db.url).await[0].attempts < 2 {
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            rows(&db.url).await,
            d.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = &rows(&db.url).await[0];
    assert!(
        row.last_error.as_deref().unwrap().starts_with("connect"),
        "{row:?}"
    );
    assert!(d.stderr().contains("not delivered"), "{}", d.stderr());
    sink.restart();
    // The next attempt comes within the back-off (at most 20 s at the third attempt).
    sink.wait_for(1, Duration::from_secs(30));
    all_sent(&db, BOUND, || d.stderr()).await;
    assert_eq!(sink.settle(Duration::from_secs(2)).len(), 1);
}

#[tokio::test]
async fn retried_until_the_server_is_back_sqlite() {
    if mail_sink::skip() {
        return;
    }
    retried_until_the_server_is_back(Db::sqlite()).await;
}

#[tokio::test]
async fn retried_until_the_server_is_back_postgres() {
    if mail_sink::skip() {
        return;
    }
    if let Some(db) = Db::postgres("mail_retried").await {
        retried_until_the_server_is_back(db).await;
    }
}

/// Committed, then the daemon is killed (SIGKILL) before it could send: the message leaves
/// after the restart, exactly once. The daemon is frozen (SIGSTOP) around the commit so that
/// the kill surely lands between the commit and the send.
async fn survives_sigkill(db: Db) {
    use nix::sys::signal::Signal;
    let sink = Sink::start();
    let (mut d, _) = daemon(&db, &sink.url(), &[]);
    d.signal(Signal::SIGSTOP);
    db.queue(1, 1).await;
    d.signal(Signal::SIGKILL);
    let _ = d.wait_exit(Duration::from_secs(10));
    assert!(sink.messages().is_empty(), "sent before the kill");
    let (d2, _) = daemon(&db, &sink.url(), &[]);
    sink.wait_for(1, BOUND + Duration::from_secs(5));
    all_sent(&db, BOUND, || d2.stderr()).await;
    assert_eq!(sink.settle(Duration::from_secs(3)).len(), 1, "exactly once");
}

#[tokio::test]
async fn survives_sigkill_sqlite() {
    if mail_sink::skip() {
        return;
    }
    survives_sigkill(Db::sqlite()).await;
}

#[tokio::test]
async fn survives_sigkill_postgres() {
    if mail_sink::skip() {
        return;
    }
    if let Some(db) = Db::postgres("mail_sigkill").await {
        survives_sigkill(db).await;
    }
}

/// Killed while a message is claimed and its server has not even greeted (a listener that
/// accepts and stays silent): on SQLite the claim is taken back at the next start, and the
/// message leaves once.
#[tokio::test]
async fn claim_of_a_killed_daemon_is_taken_back() {
    use nix::sys::signal::Signal;
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("smtp://127.0.0.1:{port}?tls=none");
    let (mut d, _) = daemon(&db, &url, &[]);
    db.queue(1, 1).await;
    // Claimed: the daemon is connected and waits for the greeting.
    let deadline = Instant::now() + BOUND;
    while rows(&db.url).await[0].claimed_until.is_none() {
        assert!(Instant::now() < deadline, "{}", d.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.signal(Signal::SIGKILL);
    let _ = d.wait_exit(Duration::from_secs(10));
    drop(silent);
    let sink = Sink::start();
    let (d2, _) = daemon(&db, &sink.url(), &[]);
    sink.wait_for(1, BOUND + Duration::from_secs(5));
    all_sent(&db, BOUND, || d2.stderr()).await;
    assert!(
        d2.stderr()
            .contains("took back messages claimed by a previous run")
    );
    assert_eq!(sink.settle(Duration::from_secs(2)).len(), 1);
}

/// Two daemons on one PostgreSQL database, one server: N messages, each delivered once.
#[tokio::test]
async fn two_nodes_deliver_each_message_once() {
    if mail_sink::skip() {
        return;
    }
    let Some(db) = Db::postgres("mail_two_nodes").await else {
        return;
    };
    const N: usize = 60;
    let sink = Sink::start();
    let (a, _) = daemon(&db, &sink.url(), &[]);
    let (b, _) = daemon(&db, &sink.url(), &[]);
    for batch in 0..6 {
        db.queue(batch * 10, 10).await;
    }
    let got = sink.wait_for(N, Duration::from_secs(30));
    all_sent(&db, BOUND, || format!("{}\n{}", a.stderr(), b.stderr())).await;
    let got = if got.len() == N {
        sink.settle(Duration::from_secs(3))
    } else {
        got
    };
    let mut ids: Vec<String> = got
        .iter()
        .map(|m| m.header("Message-ID").unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (N, N), "each message exactly once");
}

/// `file:/dir`: each message one valid `.eml` (mode 0600, no temporary file left).
#[tokio::test]
async fn file_transport_writes_eml() {
    use std::os::unix::fs::PermissionsExt;
    let db = Db::sqlite();
    let out = db.dir.path().join("outbox");
    let (d, _) = daemon(&db, &format!("file:{}", out.display()), &[]);
    db.queue(1, 2).await;
    all_sent(&db, BOUND, || d.stderr()).await;
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for (f, row) in files.iter().zip(rows(&db.url).await) {
        assert_eq!(
            f.file_name().unwrap().to_str(),
            Some(format!("{}.eml", row.id).as_str())
        );
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        if mail_sink::available() {
            let m = mail_sink::parse_eml(f);
            assert!(m.defects.is_empty(), "{:?}", m.defects);
            assert_eq!(
                m.parts,
                ["multipart/alternative", "text/plain", "text/html"]
            );
            assert!(m.link_containing("/verify").is_some());
        }
    }
}

/// `/metrics`: sent, retried and failed counters (per kind and error class) and the depth.
#[tokio::test]
async fn metrics_count_sent_retried_and_failed() {
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let sink = Sink::start_with(mail_sink::Options {
        reject: Some("550 5.1.1 no such user".into()),
        ..Default::default()
    });
    let (d, target) = daemon(&db, &sink.url(), &[]);
    let metrics = || http::get(&target, "/metrics").unwrap().body;
    db.queue(1, 1).await;
    assert!(
        eventually(BOUND, || metrics().contains(
            "opentrusty_mail_failed_total{kind=\"verify\",class=\"smtp\"} 1"
        )),
        "{}\n{}",
        metrics(),
        d.stderr()
    );
    assert!(
        metrics().contains("opentrusty_mail_queue_depth 0"),
        "{}",
        metrics()
    );
    drop(d);
    let ok = Sink::start();
    let (_d, target) = daemon(&db, &ok.url(), &[]);
    let metrics = || http::get(&target, "/metrics").unwrap().body;
    db.queue(2, 1).await;
    assert!(
        eventually(BOUND, || metrics()
            .contains("opentrusty_mail_sent_total{kind=\"verify\"} 1")),
        "{}",
        metrics()
    );
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
