//! Email verification over real HTTP (issue 13), served in-process with mail on (the queued
//! messages are read from the outbox, as the sender would), both backends: an operator's new
//! user with an unverified address gets a verification mail in the same transaction (a
//! verified one and one without a password get none); the link's GET shows a Confirm button
//! and uses nothing, its POST needs the CSRF token and flips `email_verified` once; another
//! tenant's link, a used one and a forged form are nothing; a link sent to an address the
//! user has left proves nothing; the account page's "Send a verification mail" mails the
//! current address, throttled. Also the fixture the sign-up pages' tests share.

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::{Profile, User};
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::{Context, audit, verify};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use opentrusty::web::conn::{self, Limits};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::common::{pg, stores, tempdir};
use crate::console::browser::{Browser, field};
use crate::login_pages::urlencode;

pub(crate) const PW: &str = "password-verify";

/// Where the test reads the outbox from: the database behind the app, through its own pool.
pub(crate) enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// One queued message.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// An in-process site with mail on (file transport: nothing is sent here, messages stay in
/// the outbox for the test to read), on either backend.
pub(crate) struct Site {
    pub rt: Runtime,
    pub app: AppState,
    pub port: u16,
    pub db: Db,
    pub store: Store,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Site {
    pub(crate) fn new(postgres: bool, name: &str) -> Option<Site> {
        let dir = tempdir();
        let rt = Runtime::new().unwrap();
        let (store, db) = if postgres {
            let url = rt.block_on(pg::fresh_database(name))?;
            let store = rt.block_on(async {
                let s = Store::connect(
                    &opentrusty::config::DatabaseUrl::Postgres(url.parse().unwrap()),
                    4,
                )
                .await
                .unwrap();
                s.migrate().await.unwrap();
                s
            });
            (store, Db::Postgres(url))
        } else {
            let store = rt.block_on(stores::sqlite(dir.path()));
            (store, Db::Sqlite(dir.path().join("suite.db")))
        };
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let spool = format!("file:{}", dir.path().join("mail").display());
        let app = stores::app(
            store.clone(),
            &[
                ("OPENTRUSTY_PUBLIC_URL", &url),
                ("OPENTRUSTY_KEY_ENCRYPTION_KEY", crate::oauth_world::KEK),
                ("OPENTRUSTY_SMTP_URL", &spool),
                ("OPENTRUSTY_MAIL_FROM", "OpenTrusty <idp@example.test>"),
            ],
        );
        let router = opentrusty::web::router(app.clone(), Plane::All);
        let limits = Limits::from_config(&app.config.http);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        rt.spawn(conn::serve(listener, router, limits, Plane::All, stopped));
        Some(Site {
            rt,
            app,
            port,
            db,
            store,
            _stop: stop,
            _dir: dir,
        })
    }

    /// Every message queued so far, oldest first.
    pub(crate) fn outbox(&self) -> Vec<Queued> {
        const SQL: &str =
            "SELECT kind, recipient, subject, body_text FROM mail_outbox ORDER BY created_at, id";
        type Row = (String, String, String, String);
        let rows: Vec<Row> = self.rt.block_on(async {
            match &self.db {
                Db::Sqlite(path) => {
                    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                    let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                    pool.close().await;
                    rows
                }
                Db::Postgres(url) => {
                    let pool = sqlx::PgPool::connect(url).await.unwrap();
                    let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                    pool.close().await;
                    rows
                }
            }
        });
        rows.into_iter()
            .map(|(kind, to, subject, text)| Queued {
                kind,
                to,
                subject,
                text,
            })
            .collect()
    }

    /// The messages queued for `to`.
    pub(crate) fn mails_to(&self, to: &str) -> Vec<Queued> {
        self.outbox().into_iter().filter(|m| m.to == to).collect()
    }

    pub(crate) fn tenant(&self, slug: &str) -> Tenant {
        self.rt.block_on(async {
            admin::tenant_create(&self.app, slug, Some(&slug.to_uppercase()), &Context::cli())
                .await
                .unwrap()
        })
    }

    /// A user made by an operator (`user_create`, as the CLI, the API and the console do).
    pub(crate) fn user(&self, t: &Tenant, email: &str, password: bool, verified: bool) -> User {
        let input = UserInput {
            email,
            password: password.then_some(PW),
            profile: Profile::default(),
            email_verified: verified,
        };
        self.rt.block_on(async {
            admin::user_create(&self.app, t, input, &Context::cli())
                .await
                .unwrap()
        })
    }

    pub(crate) fn reload(&self, t: &Tenant, email: &str) -> User {
        self.rt.block_on(async {
            let all = admin::users_list(&self.app, t).await.unwrap();
            all.into_iter().find(|u| u.email.as_str() == email).unwrap()
        })
    }

    /// The metadata of `t`'s audit events of `kind`, newest first.
    pub(crate) fn events(&self, t: &Tenant, kind: &str) -> Vec<Value> {
        self.rt.block_on(async {
            audit::list(&self.app, Some(t), 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event_type == kind)
                .map(|e| serde_json::from_str(&e.metadata).unwrap())
                .collect()
        })
    }
}

/// The verification link in a message: (its path on this site, the token).
pub(crate) fn verify_link(m: &Queued) -> (String, String) {
    let at = m
        .text
        .find("/email/verify/")
        .unwrap_or_else(|| panic!("no link in {m:?}"));
    let start = m.text[..at].rfind("/t/").unwrap();
    let token: String = m.text[at + "/email/verify/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "{m:?}");
    (
        format!("{}/email/verify/{token}", &m.text[start..at]),
        token,
    )
}

/// Opens a link's page and presses Confirm; returns the answer.
pub(crate) fn confirm(b: &mut Browser, path: &str) -> crate::common::http::Response {
    let page = b.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = field(&page.body, "csrf").unwrap();
    b.request("POST", path, Some(&format!("csrf={csrf}")))
}

/// Signs in on the tenant's login page (no authorization request): the session cookie.
pub(crate) fn sign_in(b: &mut Browser, slug: &str, email: &str, password: &str) -> u16 {
    let page = b.get(&format!("/t/{slug}/login"));
    let csrf = field(&page.body, "csrf").unwrap();
    let form = format!(
        "email={}&password={}&csrf={csrf}",
        urlencode(email),
        urlencode(password)
    );
    b.request("POST", &format!("/t/{slug}/login"), Some(&form))
        .status
}

fn verification_follows_the_link(site: Site) {
    let acme = site.tenant("acme");
    site.tenant("beta");
    site.user(&acme, "alice@example.com", true, false);
    site.user(&acme, "vera@example.com", true, true);
    site.user(&acme, "ivan@example.com", false, false);
    // One mail, to the unverified address of the user who can sign in; none for a verified
    // address or a user without a password (an invitation's link proves the address).
    let all = site.outbox();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (all[0].kind.as_str(), all[0].to.as_str()),
        ("verify_email", "alice@example.com")
    );
    assert!(
        all[0].subject.contains("Confirm your email address"),
        "{:?}",
        all[0]
    );
    assert!(
        all[0].text.contains("ACME"),
        "the tenant's name: {:?}",
        all[0]
    );
    let created = site.events(&acme, "user.created");
    let mailed: Vec<bool> = created
        .iter()
        .map(|m| m["verification_mail"].as_bool().unwrap())
        .collect();
    assert_eq!(mailed, [false, false, true], "newest first");

    let (path, token) = verify_link(&all[0]);
    assert_eq!(path, format!("/t/acme/email/verify/{token}"));
    let mut b = Browser::new(&[site.port]);
    // Looking (a mail scanner) uses nothing: the page twice, a Confirm button, no-store.
    for _ in 0..2 {
        let page = b.get(&path);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains(">Confirm my address</button>"),
            "{}",
            page.body
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    assert!(!site.reload(&acme, "alice@example.com").email_verified);
    // Another tenant's page for the same token: nothing, and nothing used.
    let other = b.get(&format!("/t/beta/email/verify/{token}"));
    assert_eq!(other.status, 404, "{}", other.body);
    // (with a form token of that tenant: the CSRF token is bound to its tenant too)
    let beta_page = b.get("/t/beta/login");
    let beta_csrf = field(&beta_page.body, "csrf").unwrap();
    let res = b.request(
        "POST",
        &format!("/t/beta/email/verify/{token}"),
        Some(&format!("csrf={beta_csrf}")),
    );
    assert_eq!(res.status, 404, "{}", res.body);
    let page = b.get(&path);
    let csrf = field(&page.body, "csrf").unwrap();
    // A forged form changes nothing.
    let res = b.request("POST", &path, Some("csrf=forged"));
    assert_eq!(res.status, 403);
    assert!(!site.reload(&acme, "alice@example.com").email_verified);

    let done = confirm(&mut b, &path);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body
            .contains("alice@example.com</strong> is confirmed"),
        "{}",
        done.body
    );
    assert!(site.reload(&acme, "alice@example.com").email_verified);
    let ev = site.events(&acme, "email.verified");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["email"], "alice@example.com");
    assert_eq!(ev[0]["registration_completed"], false);
    // Single use: the second press finds nothing, and the page says so.
    let again = b.request("POST", &path, Some(&format!("csrf={csrf}")));
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(b.get(&path).status, 404);
    assert_eq!(site.events(&acme, "email.verified").len(), 1);
}

fn an_old_address_proves_nothing(site: Site) {
    let acme = site.tenant("acme");
    let bob = site.user(&acme, "bob@example.com", true, false);
    let old = site.mails_to("bob@example.com");
    assert_eq!(old.len(), 1);
    let (old_path, _) = verify_link(&old[0]);

    // The address changes where no mail is sent (an app without mail over the same
    // database): the link to the old address is still live, but proves nothing.
    let quiet = stores::app(site.store.clone(), &[]);
    let moved = site.rt.block_on(verify::change_email(
        &quiet,
        &acme,
        bob.id,
        "Bob.New@Example.com",
        &Context::cli(),
    ));
    let moved = moved.unwrap();
    assert_eq!(moved.email.as_str(), "bob.new@example.com");
    assert!(!moved.email_verified);
    let mut b = Browser::new(&[site.port]);
    let res = confirm(&mut b, &old_path);
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("another address"), "{}", res.body);
    assert!(!site.reload(&acme, "bob.new@example.com").email_verified);
    assert!(site.events(&acme, "email.verified").is_empty());

    // With mail on, a change sends a link to the new address; an earlier verified address
    // becomes unverified until it is proven.
    site.rt
        .block_on(verify::change_email(
            &site.app,
            &acme,
            bob.id,
            "bob@example.org",
            &Context::cli(),
        ))
        .unwrap();
    let new = site.mails_to("bob@example.org");
    assert_eq!(new.len(), 1, "{new:?}");
    let (new_path, _) = verify_link(&new[0]);
    assert_eq!(confirm(&mut b, &new_path).status, 200);
    assert!(site.reload(&acme, "bob@example.org").email_verified);
    let taken = site.rt.block_on(verify::change_email(
        &site.app,
        &acme,
        bob.id,
        "bob@example.org",
        &Context::cli(),
    ));
    assert!(
        taken.unwrap().email_verified,
        "the same address is no change"
    );
    site.user(&acme, "carl@example.com", true, true);
    let clash = site.rt.block_on(verify::change_email(
        &site.app,
        &acme,
        bob.id,
        "carl@example.com",
        &Context::cli(),
    ));
    assert!(
        matches!(clash, Err(opentrusty::service::Error::Conflict(_))),
        "{clash:?}"
    );
    assert!(site.reload(&acme, "bob@example.org").email_verified);
}

fn the_account_page_sends_a_verification_mail(site: Site) {
    let acme = site.tenant("acme");
    site.user(&acme, "dora@example.com", true, false);
    let mut b = Browser::new(&[site.port]);
    assert_eq!(sign_in(&mut b, "acme", "dora@example.com", PW), 303);
    let page = b.get("/t/acme/account");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("is not confirmed yet"), "{}", page.body);
    assert!(page.body.contains(">Send a verification mail</button>"));
    let csrf = field(&page.body, "csrf").unwrap();
    assert_eq!(
        b.request("POST", "/t/acme/account/verify", Some("csrf=forged"))
            .status,
        403
    );
    let res = b.request(
        "POST",
        "/t/acme/account/verify",
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=verify-sent")
    );
    assert_eq!(
        site.mails_to("dora@example.com").len(),
        2,
        "creation and request"
    );
    // Throttled: at once again is 429 with Retry-After, and no mail.
    let res = b.request(
        "POST",
        "/t/acme/account/verify",
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(res.header("retry-after").is_some());
    assert_eq!(site.mails_to("dora@example.com").len(), 2);
    // Only the newest link works (issuing one retires the earlier ones).
    let mails = site.mails_to("dora@example.com");
    let (first, _) = verify_link(&mails[0]);
    let (second, _) = verify_link(&mails[1]);
    assert_eq!(b.get(&first).status, 404);
    assert_eq!(confirm(&mut b, &second).status, 200);
    let page = b.get("/t/acme/account");
    assert!(!page.body.contains("is not confirmed yet"), "{}", page.body);
    // Signed out, the request leads to the sign-in page.
    let mut stranger = Browser::new(&[site.port]);
    let page = stranger.get("/t/acme/login");
    let csrf = field(&page.body, "csrf").unwrap();
    let res = stranger.request(
        "POST",
        "/t/acme/account/verify",
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303);
    assert!(
        res.header("location")
            .unwrap()
            .contains("/t/acme/login?return_to=")
    );
}

macro_rules! on_both {
    ($($case:ident),*) => {$(
        mod $case {
            #[test]
            fn sqlite() {
                super::$case($crate::verify_pages::Site::new(false, stringify!($case)).unwrap());
            }
            #[test]
            fn postgres() {
                if let Some(site) = $crate::verify_pages::Site::new(true, stringify!($case)) {
                    super::$case(site);
                }
            }
        }
    )*};
}
pub(crate) use on_both;

on_both!(
    verification_follows_the_link,
    an_old_address_proves_nothing,
    the_account_page_sends_a_verification_mail
);
