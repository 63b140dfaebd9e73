//! The mail sender in process, on both backends, with a fixed clock: claims and leases, a
//! message sent through the `file:` transport (sent_at set, bodies erased), retries with
//! back-off while the SMTP server is unreachable, giving up after a 5xx answer or a day,
//! the purge of old rows by housekeeping, and the queue-depth gauge. The same sender against
//! a real SMTP server and a real daemon is in `mail_delivery`.

use std::time::Duration;

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::service::mail::{self, sender, transport::Transport};
use opentrusty::store::Store;
use tokio::sync::watch;

use crate::common::stores::T0;
use crate::mail_sink::{self, FROM, Options, Sink};
use crate::oauth_world::app;

/// The state of one outbox row, read with plain SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub sent_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub body_text: String,
    pub body_html: String,
    pub last_error: Option<String>,
}

const ROW_SQL: &str = "SELECT id, CAST(attempts AS BIGINT), next_attempt_at, claimed_until, sent_at, \
                       failed_at, body_text, body_html, last_error FROM mail_outbox ORDER BY id";

/// Every outbox row of the database at `url` (sqlite:// or postgres://), oldest first.
pub async fn rows(url: &str) -> Vec<Row> {
    type Tuple = (
        String,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        String,
        String,
        Option<String>,
    );
    let tuples: Vec<Tuple> = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let r = sqlx::query_as(ROW_SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        r
    } else {
        use std::str::FromStr;
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .unwrap()
            .busy_timeout(Duration::from_secs(10));
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        let r = sqlx::query_as(ROW_SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        r
    };
    tuples
        .into_iter()
        .map(|t| Row {
            id: t.0,
            attempts: t.1,
            next_attempt_at: t.2,
            claimed_until: t.3,
            sent_at: t.4,
            failed_at: t.5,
            body_text: t.6,
            body_html: t.7,
            last_error: t.8,
        })
        .collect()
}

/// A tenant `acme` in `app`'s store.
pub async fn tenant(app: &AppState) -> Tenant {
    crate::oauth_world::tenant(app, "acme").await
}

/// Queues one message the way the flows do: `mail::queue` in a transaction, then commit.
pub async fn queue(store: &Store, tenant: &Tenant, to: &str, n: usize, now: i64) {
    let mut tx = store.begin().await.unwrap();
    let m = mail::Mail {
        kind: "verify",
        to: to.to_owned(),
        subject: format!("Message {n}"),
        text: format!("Hello {n}: https://id.example.test/t/acme/verify?token=secret{n}"),
        html: format!(
            "<p>Hello {n}: <a href=\"https://id.example.test/t/acme/verify?token=secret{n}\">verify</a></p>"
        ),
    };
    mail::queue(&mut tx.scope(tenant), &m, now).await.unwrap();
    tx.commit().await.unwrap();
}

fn no_stop() -> watch::Receiver<bool> {
    watch::channel(false).1
}

/// A transport to a loopback port nobody listens on (connection refused).
fn dead_smtp() -> Transport {
    let port = crate::common::free_port();
    let url = format!("smtp://127.0.0.1:{port}?tls=none").parse().unwrap();
    Transport::smtp(FROM, &url, None, None).unwrap()
}

/// Like `both_backends!`, but the case also gets the database URL (to read rows with SQL).
macro_rules! mail_backends {
    ($name:ident) => {
        mod $name {
            use opentrusty::config::DatabaseUrl;
            use opentrusty::store::Store;
            #[tokio::test]
            async fn sqlite() {
                let dir = $crate::common::tempdir();
                let path = dir.path().join("suite.db");
                let store = Store::connect(&DatabaseUrl::Sqlite(path.clone()), 4)
                    .await
                    .unwrap();
                store.migrate().await.unwrap();
                super::$name(store, format!("sqlite://{}", path.display())).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(url) = $crate::common::pg::fresh_database(stringify!($name)).await else {
                    return;
                };
                let store = Store::connect(&DatabaseUrl::Postgres(url.parse().unwrap()), 4)
                    .await
                    .unwrap();
                store.migrate().await.unwrap();
                super::$name(store, url).await;
            }
        }
    };
}

/// A message goes out through `file:`, once: sent_at set, bodies erased, the file there; a
/// second round finds nothing to do.
async fn file_transport_sends_and_erases(store: Store, url: String) {
    let app = app(store.clone());
    let t = tenant(&app).await;
    let dir = crate::common::tempdir();
    let transport = Transport::file(FROM, dir.path()).unwrap();
    queue(&store, &t, "alice@example.com", 1, T0).await;
    let r = sender::round(&app, &transport, &no_stop()).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (1, 0, 0));
    let row = &rows(&url).await[0];
    assert_eq!(row.sent_at, Some(T0));
    assert_eq!((row.body_text.as_str(), row.body_html.as_str()), ("", ""));
    assert_eq!(row.claimed_until, None);
    let eml = dir.path().join(format!("{}.eml", row.id));
    let mail = mail_sink::parse_eml(&eml);
    assert!(mail.defects.is_empty(), "{:?}", mail.defects);
    assert!(mail.text.unwrap().contains("token=secret1"));
    let again = sender::round(&app, &transport, &no_stop()).await.unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
mail_backends!(file_transport_sends_and_erases);

/// A claimed message is invisible to a second claim until its lease runs out.
async fn claims_hold_until_the_lease_ends(store: Store, _url: String) {
    let app = app(store.clone());
    let t = tenant(&app).await;
    queue(&store, &t, "alice@example.com", 1, T0).await;
    let first = store
        .outbox_claim(T0, T0 + sender::LEASE, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        store
            .outbox_claim(T0 + 1, T0 + 1 + sender::LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = T0 + sender::LEASE;
    assert_eq!(
        store
            .outbox_claim(later, later + sender::LEASE, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Given back, it is due again at once.
    store.outbox_release(&first[0].id).await.unwrap();
    assert_eq!(
        store
            .outbox_claim(later, later + 1, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
mail_backends!(claims_hold_until_the_lease_ends);

/// The server unreachable: one attempt per round (the rest of the batch goes back untried),
/// the retry waits 2.5-5 s, then 5-10 s; each attempt is recorded; then it is delivered.
async fn unreachable_server_backs_off_then_delivers(store: Store, url: String) {
    let app = app(store.clone());
    let t = tenant(&app).await;
    queue(&store, &t, "alice@example.com", 1, T0).await;
    queue(&store, &t, "bob@example.com", 2, T0).await;
    let dead = dead_smtp();
    let r = sender::round(&app, &dead, &no_stop()).await.unwrap();
    assert_eq!((r.sent, r.retried, r.released), (0, 1, 1), "{r:?}");
    let tried = rows(&url)
        .await
        .into_iter()
        .find(|r| r.attempts == 1)
        .unwrap();
    assert!(
        (T0 + 3..=T0 + 5).contains(&tried.next_attempt_at),
        "{tried:?}"
    );
    assert!(
        tried.last_error.as_deref().unwrap().starts_with("connect"),
        "{tried:?}"
    );
    assert_eq!(tried.claimed_until, None);
    // The other one is tried at the next round; then nothing is due until the back-off ends.
    assert_eq!(
        sender::round(&app, &dead, &no_stop())
            .await
            .unwrap()
            .retried,
        1
    );
    assert_eq!(
        sender::round(&app, &dead, &no_stop()).await.unwrap(),
        sender::Round::default()
    );
    app.clock.advance(5);
    let r = sender::round(&app, &dead, &no_stop()).await.unwrap();
    assert_eq!(r.retried, 1);
    let twice = rows(&url)
        .await
        .into_iter()
        .find(|r| r.attempts == 2)
        .unwrap();
    assert!(
        (T0 + 5 + 5..=T0 + 5 + 10).contains(&twice.next_attempt_at),
        "{twice:?}"
    );
    // The server is back.
    if mail_sink::skip() {
        return;
    }
    let sink = Sink::start();
    let live = Transport::smtp(FROM, &sink.url().parse().unwrap(), None, None).unwrap();
    app.clock.advance(20);
    let r = sender::round(&app, &live, &no_stop()).await.unwrap();
    assert_eq!(r.sent, 2, "{r:?}");
    let got = sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(got.len(), 2);
    assert!(
        rows(&url)
            .await
            .iter()
            .all(|r| r.sent_at.is_some() && r.body_text.is_empty())
    );
}
mail_backends!(unreachable_server_backs_off_then_delivers);

/// A 5xx answer ends it at once (failed_at, bodies erased); a 4xx one is retried.
async fn permanent_answers_give_up(store: Store, url: String) {
    if mail_sink::skip() {
        return;
    }
    let app = app(store.clone());
    let t = tenant(&app).await;
    let rejecting = Sink::start_with(Options {
        reject: Some("550 5.1.1 mailbox unavailable".into()),
        ..Options::default()
    });
    let transport = Transport::smtp(FROM, &rejecting.url().parse().unwrap(), None, None).unwrap();
    queue(&store, &t, "nobody@example.com", 1, T0).await;
    let r = sender::round(&app, &transport, &no_stop()).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 0, 1), "{r:?}");
    let row = &rows(&url).await[0];
    assert_eq!(row.failed_at, Some(T0));
    assert_eq!(row.last_error.as_deref(), Some("smtp 550"));
    assert_eq!((row.body_text.as_str(), row.body_html.as_str()), ("", ""));

    let busy = Sink::start_with(Options {
        reject: Some("451 4.3.0 try again later".into()),
        ..Options::default()
    });
    let transport = Transport::smtp(FROM, &busy.url().parse().unwrap(), None, None).unwrap();
    queue(&store, &t, "later@example.com", 2, T0).await;
    let r = sender::round(&app, &transport, &no_stop()).await.unwrap();
    assert_eq!((r.retried, r.failed), (1, 0), "{r:?}");
    let row = rows(&url)
        .await
        .into_iter()
        .find(|r| r.failed_at.is_none())
        .unwrap();
    assert_eq!(row.last_error.as_deref(), Some("smtp 451"));
    assert!(!row.body_text.is_empty(), "kept for the retry");
}
mail_backends!(permanent_answers_give_up);

/// Still undelivered a day after it was queued: given up on.
async fn a_day_of_failures_gives_up(store: Store, url: String) {
    let app = app(store.clone());
    let t = tenant(&app).await;
    queue(&store, &t, "alice@example.com", 1, T0).await;
    let dead = dead_smtp();
    assert_eq!(
        sender::round(&app, &dead, &no_stop())
            .await
            .unwrap()
            .retried,
        1
    );
    app.clock.advance(24 * 3600);
    assert_eq!(
        sender::round(&app, &dead, &no_stop()).await.unwrap().failed,
        1
    );
    let row = &rows(&url).await[0];
    assert_eq!(row.failed_at, Some(T0 + 24 * 3600));
    assert_eq!(row.attempts, 2);
    assert!(row.body_text.is_empty());
}
mail_backends!(a_day_of_failures_gives_up);

/// Housekeeping deletes sent and failed rows after a week, never waiting ones.
async fn housekeeping_purges_old_rows(store: Store, url: String) {
    let app = app(store.clone());
    let t = tenant(&app).await;
    let dir = crate::common::tempdir();
    let file = Transport::file(FROM, dir.path()).unwrap();
    queue(&store, &t, "sent@example.com", 1, T0).await;
    sender::round(&app, &file, &no_stop()).await.unwrap();
    queue(&store, &t, "waiting@example.com", 2, T0).await;
    app.clock.advance(7 * 24 * 3600 - 10);
    opentrusty::service::housekeeping::round(&app)
        .await
        .unwrap();
    assert_eq!(rows(&url).await.len(), 2, "a week has not passed");
    app.clock.advance(20);
    let counts = opentrusty::service::housekeeping::round(&app)
        .await
        .unwrap();
    assert!(counts.contains(&("mail_outbox", 1)), "{counts:?}");
    let left = rows(&url).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].sent_at, None);
    let mut tx = store.read().await.unwrap();
    assert_eq!(tx.outbox_pending_count().await.unwrap(), 1);
}
mail_backends!(housekeeping_purges_old_rows);
