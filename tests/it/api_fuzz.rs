//! Schema-driven fuzzing of the management API: schemathesis (PyPI, 4.32.5 in CI) reads
//! `/api/v1/openapi.json` of a live daemon and sends thousands of generated requests, valid and
//! invalid, to every operation in it with a platform owner's API token. No answer may be a 5xx,
//! and every answer must match the document (status, content type, headers, body schema); a
//! request the document forbids must be refused. Endpoints added later are covered as soon as
//! they are in the document.
//!
//! Skipped, saying so, when schemathesis is not installed; `OPENTRUSTY_TEST_REQUIRE_SCHEMATHESIS=1`
//! (set by CI) turns the skip into a failure.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::http::{self, Target};
use crate::login_pages::{Site, cli, site};

/// The checks that must hold. Left out: `positive_data_acceptance` (it expects every request
/// the document allows to succeed, but a schema cannot express every rule: slug grammar,
/// redirect URI rules, a page limit of 1-500). `ignored_auth` sends requests without and with
/// bad tokens: the daemon's failure throttle is raised for it, or from the 21st on every answer
/// would be a 429 and the rest of the run would test nothing.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection,\
missing_required_header,unsupported_method,ignored_auth,use_after_free,\
ensure_resource_availability";

/// Test cases per operation and phase: a few minutes for the whole document on a busy 2-core
/// machine. `OPENTRUSTY_TEST_FUZZ_EXAMPLES` raises it for a longer hunt.
const EXAMPLES: &str = "50";

/// The whole run is killed (and the test fails) after this.
const DEADLINE: Duration = Duration::from_secs(20 * 60);

fn schemathesis_available() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs an operator command on the site's database; its JSON answer.
fn json(site: &Site, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = cli(&site.db, &args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn string(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

/// TOML strings for a dictionary (the ids are UUIDs and base64url, nothing to escape).
fn values(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// How many operations the document has, counted here so a run that tested fewer fails.
/// schemathesis leaves out the document's own URL, and so does this count.
fn operations(target: &Target) -> usize {
    let res = http::get(target, "/api/v1/openapi.json").unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let doc = res.json();
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .filter(|(path, _)| path.as_str() != "/api/v1/openapi.json")
        .map(|(_, item)| item)
        .flat_map(|item| item.as_object().into_iter().flat_map(|o| o.keys()))
        .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
        .count()
}

#[test]
fn schemathesis_finds_nothing() {
    if !schemathesis_available() {
        if std::env::var("OPENTRUSTY_TEST_REQUIRE_SCHEMATHESIS").as_deref() == Ok("1") {
            panic!("OPENTRUSTY_TEST_REQUIRE_SCHEMATHESIS=1 but `schemathesis` is not on PATH");
        }
        eprintln!("SKIPPED: schemathesis_finds_nothing (pip install schemathesis==4.32.5)");
        return;
    }
    // Tenants acme and beta with alice@example.com each, on a live daemon whose one loopback
    // listener serves every plane.
    let site = site(&[("OPENTRUSTY_API_AUTH_FAILURES_PER_IP", "1000000")]);
    let Target::Tcp(addr) = site.target else {
        unreachable!()
    };
    json(
        &site,
        &[
            "bootstrap",
            "--email",
            "owner@example.com",
            "--password-file",
            "-",
        ],
        Some("platform-owner-password\n"),
    );
    let token = string(
        &json(
            &site,
            &[
                "api-token",
                "create",
                "--tenant",
                "platform",
                "--role",
                "owner",
                "--name",
                "fuzz",
                "--expires-in",
                "1h",
            ],
            None,
        ),
        "token",
    );
    // Real ids for the path parameters, so requests reach past the lookup: users, a client
    // and an API token of acme (the fuzzer may delete or revoke any of them; not ours).
    json(
        &site,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--given-name",
            "Bob",
        ],
        None,
    );
    let users: Vec<String> = json(&site, &["user", "list", "--tenant", "acme"], None)
        .as_array()
        .expect("user list")
        .iter()
        .map(|u| string(u, "id"))
        .collect();
    assert_eq!(users.len(), 2);
    let clients = vec![string(
        &json(
            &site,
            &[
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "fuzzed app",
                "--redirect-uri",
                "https://rp.example/cb",
            ],
            None,
        ),
        "client_id",
    )];
    let tokens = vec![string(
        &json(
            &site,
            &[
                "api-token",
                "create",
                "--tenant",
                "acme",
                "--role",
                "admin",
                "--name",
                "ci",
                "--expires-in",
                "1h",
            ],
            None,
        ),
        "id",
    )];
    let slugs = vec!["acme".to_owned(), "beta".to_owned()];
    let n = operations(&site.target);
    assert!(n >= 7, "the document has only {n} operations to fuzz");

    // Path parameters draw from the real values 4 times out of 5, and are fuzzed otherwise.
    // Revoking API tokens only ever names acme: schemathesis reuses ids it saw in answers
    // (the platform token list, audit targets) and would revoke its own token, after which the
    // run tests nothing but 401s. For the same reason it is left out of the stateful phase,
    // whose links carry the slug along.
    let dir = site._dir.path();
    let config = format!(
        "[dictionaries.slugs]\nvalues = {}\n[dictionaries.users]\nvalues = {}\n\
         [dictionaries.clients]\nvalues = {}\n[dictionaries.tokens]\nvalues = {}\n\
         [parameters]\n\
         \"path.slug\" = {{ dictionary = \"slugs\", probability = 0.8 }}\n\
         \"path.user_id\" = {{ dictionary = \"users\", probability = 0.8 }}\n\
         \"path.client_id\" = {{ dictionary = \"clients\", probability = 0.8 }}\n\
         \"path.id\" = {{ dictionary = \"tokens\", probability = 0.8 }}\n\
         [[operations]]\n\
         include-path-regex = \"/api-tokens/\"\n\
         include-method = \"DELETE\"\n\
         parameters = {{ \"path.slug\" = \"acme\" }}\n\
         phases.stateful.enabled = false\n",
        values(&slugs),
        values(&users),
        values(&clients),
        values(&tokens)
    );
    let config_path = dir.join("schemathesis.toml");
    std::fs::write(&config_path, config).unwrap();
    let examples =
        std::env::var("OPENTRUSTY_TEST_FUZZ_EXAMPLES").unwrap_or_else(|_| EXAMPLES.to_owned());
    let log_path = dir.join("schemathesis.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let started = Instant::now();
    // In the test's directory: hypothesis keeps its example database in `.hypothesis/` there.
    let mut child = Command::new("schemathesis")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["--no-color", "--config-file"])
        .arg(&config_path)
        .arg("run")
        .arg(format!("http://{addr}/api/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &examples])
        // One worker: hypothesis names its filters by `ast.parse` of their module, and two
        // threads parsing at once trip CPython's per-interpreter AST recursion counter
        // ("AST constructor recursion depth mismatch", CPython gh-106905), which schemathesis
        // reports as an error of whichever operation it was generating.
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start schemathesis");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!(
        "schemathesis ran {n} operations in {:.0} s; its summary:\n{}",
        started.elapsed().as_secs_f64(),
        report
            .split("SUMMARY")
            .nth(1)
            .unwrap_or("(none: see the report below)")
    );
    let Some(status) = status else {
        panic!(
            "schemathesis did not finish within {DEADLINE:?}:\n{report}\ndaemon log:\n{}",
            site.daemon.stderr()
        );
    };
    assert!(
        status.success(),
        "schemathesis found problems ({status}):\n{report}\ndaemon log (tail):\n{}",
        tail(&site.daemon.stderr(), 60)
    );
    // A run that lost its credential half-way would have tested little but 401s.
    let me = http::send(
        &site.target,
        "GET",
        "/api/v1/whoami",
        &[format!("Authorization: Bearer {token}")],
        None,
    )
    .unwrap();
    assert_eq!(
        me.status, 200,
        "the fuzzer's token stopped working during the run: {}",
        me.body
    );
    // Exit 0 with fewer operations tested would be a vacuous pass.
    assert!(
        report.contains(&format!("Tested: {n}")),
        "schemathesis did not test all {n} operations:\n{report}"
    );
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
