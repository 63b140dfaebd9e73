//! Mail over TLS, by the real daemon to aiosmtpd with a test certificate for `localhost`
//! (trusted through `SSL_CERT_FILE`, which rustls-native-certs reads instead of the system
//! store): STARTTLS required delivers encrypted and logs in with the configured password;
//! implicit TLS (`smtps://`) delivers; a server without STARTTLS gets nothing (no downgrade to
//! clear text); a certificate the daemon does not trust gets nothing either.

use std::time::Duration;

use crate::mail_delivery::{Db, daemon};
use crate::mail_outbox::rows;
use crate::mail_sink::{self, Options, Sink, test_cert};

/// Waits until the only outbox row has been tried at least once; returns its last error.
async fn first_error(db: &Db, log: impl Fn() -> String) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = rows(&db.url).await;
        if let Some(e) = r.first().and_then(|r| r.last_error.clone()) {
            assert!(r[0].sent_at.is_none(), "{r:?}");
            return e;
        }
        assert!(std::time::Instant::now() < deadline, "{r:?}\n{}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// STARTTLS required, with AUTH: delivered encrypted and authenticated.
#[tokio::test]
async fn starttls_with_login() {
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let (cert, key) = test_cert(db.dir.path());
    let sink = Sink::start_with(Options {
        tls: Some((cert.clone(), key)),
        auth: Some("mailer:s3cret-pw".into()),
        ..Options::default()
    });
    let url = sink.url().replace("smtp://", "smtp://mailer@");
    let cert = cert.display().to_string();
    let (d, _) = daemon(
        &db,
        &url,
        &[
            ("SSL_CERT_FILE", &cert),
            ("OPENTRUSTY_SMTP_PASSWORD", "s3cret-pw"),
        ],
    );
    db.queue(1, 1).await;
    let m = sink.wait_for(1, Duration::from_secs(10)).remove(0);
    assert!(m.tls && m.authenticated, "{m:?}");
    assert!(
        !d.stderr().contains("s3cret-pw"),
        "the password is never logged"
    );
}

/// `smtps://`: TLS from the first byte.
#[tokio::test]
async fn implicit_tls() {
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let (cert, key) = test_cert(db.dir.path());
    let sink = Sink::start_with(Options {
        tls: Some((cert.clone(), key)),
        implicit: true,
        ..Options::default()
    });
    assert!(sink.url().starts_with("smtps://"));
    let cert = cert.display().to_string();
    let (_d, _) = daemon(&db, &sink.url(), &[("SSL_CERT_FILE", &cert)]);
    db.queue(1, 1).await;
    let m = sink.wait_for(1, Duration::from_secs(10)).remove(0);
    assert!(m.tls, "{m:?}");
}

/// `smtp://` to a server that offers no STARTTLS: nothing is sent in clear text.
#[tokio::test]
async fn starttls_required_refuses_a_plain_server() {
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let sink = Sink::start();
    let url = format!("smtp://localhost:{}", sink.port);
    let (d, _) = daemon(&db, &url, &[]);
    db.queue(1, 1).await;
    let e = first_error(&db, || d.stderr()).await;
    assert!(e.starts_with("starttls"), "{e}");
    assert!(sink.settle(Duration::from_millis(500)).is_empty());
}

/// A certificate the daemon does not trust (no `SSL_CERT_FILE`): the TLS handshake fails and
/// nothing is sent.
#[tokio::test]
async fn untrusted_certificate_is_refused() {
    if mail_sink::skip() {
        return;
    }
    let db = Db::sqlite();
    let (cert, key) = test_cert(db.dir.path());
    let sink = Sink::start_with(Options {
        tls: Some((cert, key)),
        ..Options::default()
    });
    let (d, _) = daemon(&db, &sink.url(), &[]);
    db.queue(1, 1).await;
    let e = first_error(&db, || d.stderr()).await;
    assert!(e.starts_with("tls"), "{e}");
    assert!(sink.messages().is_empty());
}
