//! A real SMTP server for the tests: Python's aiosmtpd (`sink.py` beside this file) on a free
//! loopback port, writing every message it accepts to a directory, and helpers to wait for
//! messages, read them (headers, text part, HTML part, decoded by Python's `email` package) and
//! pull out their links.
//!
//! Use it from any test module:
//! ```ignore
//! use crate::mail_sink::{self, Sink};
//! if mail_sink::skip() { return; }            // aiosmtpd missing (fails under CI instead)
//! let sink = Sink::start();                   // plain SMTP on 127.0.0.1:<free port>
//! let daemon = Launch::new(dir).env("OPENTRUSTY_SMTP_URL", &sink.url())
//!     .env("OPENTRUSTY_MAIL_FROM", "OpenTrusty <noreply@example.com>").spawn();
//! // ... do what sends a mail ...
//! let mail = sink.wait_for(1, Duration::from_secs(10)).remove(0);
//! assert_eq!(mail.to(), ["alice@example.com"]);
//! let link = mail.link_containing("/password/reset").unwrap();   // from the text part
//! ```
//! Or set [`daemon_env`] on a `Launch` / `site(&[..])` in one go. [`Sink::start_with`] gives
//! TLS (STARTTLS required, or implicit with `implicit: true`; certificates from [`test_cert`]
//! trusted by the daemon through `SSL_CERT_FILE`), a fixed reply to every DATA (`reject`), or
//! required AUTH. [`Sink::stop`] / [`Sink::restart`] take it down and bring it back on the
//! same port. [`parse_eml`] reads a `.eml` file (the `file:` transport's output) the same way.
//! `OPENTRUSTY_TEST_REQUIRE_SMTP=1` (set by CI) turns a missing aiosmtpd into a failure.

// A harness for every suite that sends mail: not each helper is used by each of them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/mail_sink/sink.py");

/// Whether `python3 -c "import aiosmtpd"` works.
pub fn available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True (after saying so) when aiosmtpd is missing and the test should return early; panics
/// instead under `OPENTRUSTY_TEST_REQUIRE_SMTP=1`.
pub fn skip() -> bool {
    if available() {
        return false;
    }
    if std::env::var("OPENTRUSTY_TEST_REQUIRE_SMTP").as_deref() == Ok("1") {
        panic!("OPENTRUSTY_TEST_REQUIRE_SMTP=1 but python3 cannot import aiosmtpd");
    }
    eprintln!("SKIPPED: SMTP sink (python3 -m pip install aiosmtpd)");
    true
}

/// The variables that point a daemon at `sink` (plain SMTP on loopback).
pub fn daemon_env(sink: &Sink) -> Vec<(&'static str, String)> {
    vec![
        ("OPENTRUSTY_SMTP_URL", sink.url()),
        ("OPENTRUSTY_MAIL_FROM", FROM.to_owned()),
    ]
}

/// The From address the tests configure.
pub const FROM: &str = "OpenTrusty Test <noreply@opentrusty.test>";

/// How the sink serves.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Certificate and key (PEM): STARTTLS offered and required.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: TLS from the first byte instead (smtps).
    pub implicit: bool,
    /// Answer every DATA with this reply instead of accepting, e.g. `550 5.1.1 no such user`.
    pub reject: Option<String>,
    /// Require AUTH with `user:password`.
    pub auth: Option<String>,
}

/// A running sink. Killed on drop; its directory goes with it.
pub struct Sink {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    options: Options,
}

impl Sink {
    /// Plain SMTP on a free loopback port.
    pub fn start() -> Sink {
        Sink::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Sink {
        let dir = crate::common::tempdir();
        let mut sink = Sink {
            child: None,
            port: 0,
            dir,
            options,
        };
        sink.spawn(0);
        sink
    }

    /// Starts the server on `port` (0: a free one) and waits for its READY line.
    fn spawn(&mut self, port: u16) {
        let mut cmd = Command::new("python3");
        cmd.arg(SCRIPT)
            .arg("serve")
            .arg("--dir")
            .arg(self.mail_dir())
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.path().join("sink.log")).unwrap(),
            ));
        if let Some((cert, key)) = &self.options.tls {
            cmd.arg("--tls").arg(cert).arg(key);
            if self.options.implicit {
                cmd.arg("--implicit");
            }
        }
        if let Some(reply) = &self.options.reject {
            cmd.args(["--reject", reply]);
        }
        if let Some(auth) = &self.options.auth {
            cmd.args(["--auth", auth]);
        }
        let mut child = cmd.spawn().expect("python3 for the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(p) = line.trim().strip_prefix("READY ") else {
            let _ = child.kill();
            panic!("SMTP sink did not start: {line:?}\n{}", self.log());
        };
        self.port = p.parse().unwrap();
        self.child = Some(child);
    }

    /// Where accepted messages are written (`<n>.eml` + `<n>.json`).
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The sink's own log (aiosmtpd's stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// `OPENTRUSTY_SMTP_URL` for this sink: `smtp://127.0.0.1:PORT?tls=none` when plain,
    /// `smtp://localhost:PORT` (STARTTLS) or `smtps://localhost:PORT` with TLS (the test
    /// certificate is for `localhost`).
    pub fn url(&self) -> String {
        match (&self.options.tls, self.options.implicit) {
            (None, _) => format!("smtp://127.0.0.1:{}?tls=none", self.port),
            (Some(_), false) => format!("smtp://localhost:{}", self.port),
            (Some(_), true) => format!("smtps://localhost:{}", self.port),
        }
    }

    /// Takes the server down (connections are refused until [`Sink::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Brings the server back on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port may linger a moment after the kill.
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() || Instant::now() > deadline
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.spawn(port);
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.mail_dir()) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Mail::from_json(&std::fs::read(p).unwrap()))
            .collect()
    }

    /// Waits until at least `n` messages arrived (panics after `timeout`, with the sink's
    /// log); returns all of them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "SMTP sink: {} message(s) after {timeout:?}, wanted {n}\n{}",
                    got.len(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits `quiet` and returns what arrived by then (to check nothing more comes).
    pub fn settle(&self, quiet: Duration) -> Vec<Mail> {
        std::thread::sleep(quiet);
        self.messages()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as the sink saw it.
#[derive(Clone, Debug)]
pub struct Mail {
    /// Header names and decoded values, in order.
    pub headers: Vec<(String, String)>,
    /// The top-level content type (`multipart/alternative`).
    pub content_type: String,
    /// Content types of every MIME part, depth first.
    pub parts: Vec<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// MIME defects Python's parser found (empty for a valid message).
    pub defects: Vec<String>,
    /// SMTP envelope (empty for a parsed file).
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Whether the SMTP session was encrypted.
    pub tls: bool,
    /// Whether the client authenticated.
    pub authenticated: bool,
}

impl Mail {
    fn from_json(bytes: &[u8]) -> Mail {
        let v: serde_json::Value = serde_json::from_slice(bytes).expect("sink JSON");
        let strs = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Mail {
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_owned(),
                        h[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            content_type: v["content_type"].as_str().unwrap_or_default().to_owned(),
            parts: strs("parts"),
            text: v["text"].as_str().map(str::to_owned),
            html: v["html"].as_str().map(str::to_owned),
            defects: strs("defects"),
            mail_from: v["mail_from"].as_str().unwrap_or_default().to_owned(),
            rcpt_to: strs("rcpt_to"),
            tls: v["tls"].as_bool().unwrap_or(false),
            authenticated: v["authenticated"].as_bool().unwrap_or(false),
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    /// The envelope recipients.
    pub fn to(&self) -> &[String] {
        &self.rcpt_to
    }

    /// `http(s)://` links in the text part, in order.
    pub fn links(&self) -> Vec<String> {
        links_in(self.text.as_deref().unwrap_or_default())
    }

    /// `href` targets in the HTML part (`&amp;` decoded), in order.
    pub fn html_links(&self) -> Vec<String> {
        let html = self.html.as_deref().unwrap_or_default();
        html.split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(|h| h.replace("&amp;", "&"))
            .collect()
    }

    /// The first link of the text part that contains `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        self.links().into_iter().find(|l| l.contains(needle))
    }
}

/// `http://` and `https://` URLs in `text`, each up to whitespace or a delimiter.
pub fn links_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest
        .find("http://")
        .into_iter()
        .chain(rest.find("https://"))
        .min()
    {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "<>\"'()[]".contains(c))
            .unwrap_or(tail.len());
        out.push(
            tail[..end]
                .trim_end_matches(['.', ',', ';', ':'])
                .to_owned(),
        );
        rest = &tail[end..];
    }
    out
}

/// Reads a `.eml` file with the sink's parser (the `file:` transport's output).
pub fn parse_eml(path: &Path) -> Mail {
    let out = Command::new("python3")
        .arg(SCRIPT)
        .arg("parse")
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Mail::from_json(&out.stdout)
}

/// A self-signed certificate for `localhost` (basicConstraints CA:FALSE and a DNS SAN, which
/// rustls-webpki needs to accept it as a server certificate and as its own trust anchor),
/// written to `dir` as `cert.pem` and `key.pem`. Point the daemon's `SSL_CERT_FILE` at the
/// certificate to trust it.
pub fn test_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn links_are_found_in_text() {
    let t =
        "Open https://id.example/t/acme/password/reset?token=abc_D-1 now.\n(or http://x.test/a)";
    assert_eq!(
        links_in(t),
        [
            "https://id.example/t/acme/password/reset?token=abc_D-1",
            "http://x.test/a"
        ]
    );
}
