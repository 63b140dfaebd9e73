//! The fixture of the forgot-password and invitation suites (issue 13): an app served
//! in-process on a loopback port (either backend, settable clock) with tenants `acme` and
//! `beta`, mail on (a file transport; the in-process app starts no sender, so every mail stays
//! in the outbox, where the tests read it), and a browser's steps through the pages.

use std::path::PathBuf;

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::{Email, Profile, User};
use opentrusty::service::{Context, admin};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use opentrusty::web::conn::{self, Limits};
use tokio::runtime::Runtime;

use crate::common::http::Response;
use crate::common::stores;
use crate::console::browser::{Browser, field};
use crate::login_pages::urlencode;
use crate::oauth_world::KEK;

pub(crate) const PW: &str = "password-acme";
pub(crate) const NEW_PW: &str = "a brand new passphrase";

/// An app served on a loopback port, with tenants `acme` and `beta`.
pub(crate) struct Served {
    pub(crate) rt: Runtime,
    pub(crate) app: AppState,
    pub(crate) port: u16,
    pub(crate) acme: Tenant,
    pub(crate) beta: Tenant,
    /// The SQLite file (the outbox is read through a connection of its own), if SQLite.
    sqlite: Option<PathBuf>,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// The settings that turn mail on (a file transport: the in-process app starts no sender, so
/// the mail stays in the outbox, where the tests read it).
pub(crate) fn mail_on(dir: &std::path::Path) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir.join("mail")).unwrap();
    vec![
        (
            "OPENTRUSTY_SMTP_URL".into(),
            format!("file:{}", dir.join("mail").display()),
        ),
        (
            "OPENTRUSTY_MAIL_FROM".into(),
            "OpenTrusty <no-reply@example.test>".into(),
        ),
    ]
}

/// Serves a fresh app on `backend` ("sqlite" or "postgres"; `None` when PostgreSQL is not
/// available) with `extra` settings on top of the test defaults.
pub(crate) fn serve(backend: &str, name: &str, extra: &[(String, String)]) -> Option<Served> {
    let rt = Runtime::new().unwrap();
    let dir = crate::common::tempdir();
    let (store, sqlite) = if backend == "sqlite" {
        (
            rt.block_on(stores::sqlite(dir.path())),
            Some(dir.path().join("suite.db")),
        )
    } else {
        (rt.block_on(stores::postgres(name))?, None)
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut vars: Vec<(&str, &str)> = vec![
        ("OPENTRUSTY_PUBLIC_URL", &url),
        ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let app = stores::app(store, &vars);
    let router = opentrusty::web::router(app.clone(), Plane::All);
    let limits = Limits::from_config(&app.config.http);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    rt.spawn(conn::serve(listener, router, limits, Plane::All, stopped));
    let (acme, beta) = rt.block_on(async {
        let ctx = Context::cli();
        let acme = admin::tenant_create(&app, "acme", Some("Acme"), &ctx)
            .await
            .unwrap();
        let beta = admin::tenant_create(&app, "beta", Some("Beta"), &ctx)
            .await
            .unwrap();
        (acme, beta)
    });
    Some(Served {
        rt,
        app,
        port,
        acme,
        beta,
        sqlite,
        _stop: stop,
        _dir: dir,
    })
}

/// One queued mail.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

impl Queued {
    /// The link of `page` (`password/reset` or `invite`) in the text part, as a path.
    pub(crate) fn link(&self, page: &str) -> String {
        let at = self
            .text
            .find(&format!("/{page}/"))
            .unwrap_or_else(|| panic!("no {page} link in {}", self.text));
        let start = self.text[..at].rfind("/t/").expect("the issuer's path");
        let end = self.text[at..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '"')
            .map_or(self.text.len(), |n| at + n);
        self.text[start..end].to_owned()
    }

    /// The token at the end of [`Queued::link`].
    pub(crate) fn token(&self, page: &str) -> String {
        self.link(page).rsplit('/').next().unwrap().to_owned()
    }
}

impl Served {
    pub(crate) fn browser(&self) -> Browser {
        Browser::new(&[self.port])
    }

    /// A user of `t` with the test password (or none).
    pub(crate) fn user(&self, t: &Tenant, email: &str, password: Option<&str>) -> User {
        let input = admin::UserInput {
            email,
            password,
            profile: Profile::default(),
            email_verified: false,
        };
        self.rt
            .block_on(admin::user_create(&self.app, t, input, &Context::cli()))
            .unwrap()
    }

    pub(crate) fn find(&self, t: &Tenant, email: &str) -> User {
        self.rt
            .block_on(async {
                let mut tx = self.app.store.read().await.unwrap();
                tx.scope(t)
                    .user_by_email(&Email::parse(email).unwrap())
                    .await
            })
            .unwrap()
            .unwrap()
    }

    /// Every mail in the outbox but the address verifications that creating a user with an
    /// unverified address sends (the email verification suites test those), oldest first.
    pub(crate) fn outbox(&self) -> Vec<Queued> {
        const SQL: &str = "SELECT recipient, subject, body_text, body_html FROM mail_outbox \
                           WHERE kind <> 'verify_email' ORDER BY created_at, id";
        type Row = (String, String, String, String);
        let rows: Vec<Row> = self.rt.block_on(async {
            match (&self.app.store, &self.sqlite) {
                (Store::Postgres(pool), _) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
                (_, Some(path)) => {
                    let opts = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(path)
                        .busy_timeout(std::time::Duration::from_secs(10));
                    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
                    let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                    pool.close().await;
                    rows
                }
                _ => unreachable!(),
            }
        });
        rows.into_iter()
            .map(|(to, subject, text, html)| Queued {
                to,
                subject,
                text,
                html,
            })
            .collect()
    }

    /// The audit events of `kind` in `t`.
    pub(crate) fn events(&self, t: &Tenant, kind: &str) -> Vec<serde_json::Value> {
        let rows = self
            .rt
            .block_on(opentrusty::service::audit::list(&self.app, Some(t), 500))
            .unwrap();
        rows.into_iter()
            .filter(|r| r.event_type == kind)
            .map(|r| {
                let mut m: serde_json::Value = serde_json::from_str(&r.metadata).unwrap();
                m["target"] = r.target.clone().unwrap_or_default().into();
                m
            })
            .collect()
    }
}

/// Asks for a reset link for `email` through the page; returns the answer.
pub(crate) fn forgot(b: &mut Browser, slug: &str, email: &str) -> Response {
    let page = b.get(&format!("/t/{slug}/password/forgot"));
    assert_eq!(page.status, 200, "{}", page.body);
    let form = format!(
        "csrf={}&email={}",
        field(&page.body, "csrf").unwrap(),
        urlencode(email)
    );
    b.request("POST", &format!("/t/{slug}/password/forgot"), Some(&form))
}

/// Opens a link and posts the form on it with `password` twice; returns the answer.
pub(crate) fn choose(b: &mut Browser, link: &str, password: &str) -> Response {
    let page = b.get(link);
    assert_eq!(page.status, 200, "{}", page.body);
    let action = page
        .body
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let form = format!(
        "csrf={}&token={}&password={}&confirm={}",
        field(&page.body, "csrf").unwrap(),
        field(&page.body, "token").unwrap(),
        urlencode(password),
        urlencode(password)
    );
    b.request("POST", &action, Some(&form))
}

/// Signs in on the login page; true when it worked.
pub(crate) fn signs_in(s: &Served, slug: &str, email: &str, password: &str) -> bool {
    let mut b = s.browser();
    let page = b.get(&format!("/t/{slug}/login"));
    let form = format!(
        "csrf={}&email={}&password={}",
        field(&page.body, "csrf").unwrap(),
        urlencode(email),
        urlencode(password)
    );
    b.request("POST", &format!("/t/{slug}/login"), Some(&form))
        .status
        == 303
}
