//! Unit tests of configuration parsing and validation.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_use_state_directory() {
    let c = Config::from_vars(&env(&[("STATE_DIRECTORY", "/var/lib/opentrusty")])).unwrap();
    assert_eq!(
        c.database_url,
        DatabaseUrl::Sqlite("/var/lib/opentrusty/opentrusty.db".into())
    );
    assert_eq!(c.listen, ListenAddr::Tcp("127.0.0.1:8080".parse().unwrap()));
    assert!(c.warnings.iter().any(|w| w.contains("PUBLIC_URL")));
}

#[test]
fn bad_values_name_the_variable() {
    let e = Config::from_vars(&env(&[("OPENTRUSTY_LISTEN", "nowhere")])).unwrap_err();
    assert_eq!(e.var, "OPENTRUSTY_LISTEN");
    assert_eq!(e.value.as_deref(), Some("nowhere"));
    let e = Config::from_vars(&env(&[("OPENTRUSTY_SHUTDOWN_TIMEOUT", "soon")])).unwrap_err();
    assert_eq!(e.var, "OPENTRUSTY_SHUTDOWN_TIMEOUT");
}

#[test]
fn secret_values_are_never_echoed() {
    let e = Config::from_vars(&env(&[(
        "OPENTRUSTY_DATABASE_URL",
        "mysql://u:hunter2@h/db",
    )]))
    .unwrap_err();
    assert_eq!(e.var, "OPENTRUSTY_DATABASE_URL");
    assert!(e.value.is_none());
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn password_is_redacted_and_can_come_from_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("database-password"), "s3cret\n").unwrap();
    // PostgreSQL needs a configured key-encryption key; here it comes as a credential too.
    std::fs::write(dir.path().join("key-encryption-key"), "ab".repeat(32)).unwrap();
    let c = Config::from_vars(&env(&[
        (
            "OPENTRUSTY_DATABASE_URL",
            "postgres://app@db.internal/opentrusty",
        ),
        ("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap()),
    ]))
    .unwrap();
    let DatabaseUrl::Postgres(url) = &c.database_url else {
        panic!("not postgres")
    };
    assert_eq!(url.password(), Some("s3cret"));
    assert!(!c.database_url.redacted().contains("s3cret"));
    assert_eq!(c.oauth.key_encryption_key.unwrap().0, [0xab; 32]);
}

#[test]
fn file_variant_and_direct_value_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("url");
    std::fs::write(&f, "sqlite:///tmp/x.db").unwrap();
    let c = Config::from_vars(&env(&[(
        "OPENTRUSTY_DATABASE_URL_FILE",
        f.to_str().unwrap(),
    )]))
    .unwrap();
    assert_eq!(c.database_url, DatabaseUrl::Sqlite("/tmp/x.db".into()));
    let e = Config::from_vars(&env(&[
        ("OPENTRUSTY_DATABASE_URL_FILE", f.to_str().unwrap()),
        ("OPENTRUSTY_DATABASE_URL", "sqlite:///tmp/y.db"),
    ]))
    .unwrap_err();
    assert_eq!(e.var, "OPENTRUSTY_DATABASE_URL_FILE");
}

#[test]
fn unknown_variables_warn() {
    let c = Config::from_vars(&env(&[("OPENTRUSTY_LISTNE", "x")])).unwrap();
    assert!(c.warnings.iter().any(|w| w.contains("OPENTRUSTY_LISTNE")));
}

#[test]
fn trusted_proxies_parse_and_match() {
    let c = Config::from_vars(&env(&[("OPENTRUSTY_TRUSTED_PROXIES", "10.0.0.0/8, ::1")])).unwrap();
    let nets = &c.identity.trusted_proxies;
    assert!(nets[0].contains("10.2.3.4".parse().unwrap()));
    assert!(nets[0].contains("::ffff:10.2.3.4".parse().unwrap()));
    assert!(!nets[0].contains("11.0.0.1".parse().unwrap()));
    assert!(nets[1].contains("::1".parse().unwrap()));
    assert!(!c.identity.trust_unix_proxy);
    let e = Config::from_vars(&env(&[("OPENTRUSTY_TRUSTED_PROXIES", "10.0.0.0/33")])).unwrap_err();
    assert_eq!(e.var, "OPENTRUSTY_TRUSTED_PROXIES");
    let c = Config::from_vars(&env(&[("OPENTRUSTY_TRUSTED_PROXIES", "unix, 10.0.0.1")])).unwrap();
    assert!(c.identity.trust_unix_proxy);
    assert_eq!(c.identity.trusted_proxies.len(), 1);
}

#[test]
fn public_url_is_normalised() {
    let c = Config::from_vars(&env(&[(
        "OPENTRUSTY_PUBLIC_URL",
        "https://id.example.com/",
    )]))
    .unwrap();
    assert_eq!(c.public_url.as_str(), "https://id.example.com/");
    let c = Config::from_vars(&env(&[(
        "OPENTRUSTY_PUBLIC_URL",
        "https://example.com/idp/",
    )]))
    .unwrap();
    assert_eq!(c.public_url.as_str(), "https://example.com/idp");
    assert!(Config::from_vars(&env(&[("OPENTRUSTY_PUBLIC_URL", "ftp://x")])).is_err());
}
