//! The variables the daemon knows, which of them are secret, and the systemd credentials
//! they may also come from.

pub const PREFIX: &str = "OPENTRUSTY_";

/// A variable the daemon knows: its name without the prefix, whether it is secret, and the
/// systemd credential name it may also come from (`LoadCredential=NAME:...`).
pub struct Known {
    pub name: &'static str,
    pub secret: bool,
    pub credential: Option<&'static str>,
}

const fn var(name: &'static str) -> Known {
    Known {
        name,
        secret: false,
        credential: None,
    }
}

const fn secret(name: &'static str, credential: &'static str) -> Known {
    Known {
        name,
        secret: true,
        credential: Some(credential),
    }
}

/// Every variable read anywhere in the daemon. Anything else with the prefix is a warning.
pub const KNOWN: &[Known] = &[
    secret("DATABASE_URL", "database-url"),
    secret("DATABASE_PASSWORD", "database-password"),
    var("PUBLIC_URL"),
    var("LISTEN"),
    var("ADMIN_LISTEN"),
    // Read by the operator commands only: where the daemon's admin socket is (cli::remote).
    var("ADMIN_SOCKET"),
    var("LOG"),
    var("LOG_FORMAT"),
    var("MIGRATE_ON_START"),
    var("SHUTDOWN_TIMEOUT"),
    var("ALLOW_ROOT"),
    var("USER"),
    var("ENV_FILE"),
    var("DATABASE_MAX_CONNECTIONS"),
    var("ARGON2_MEMORY_KIB"),
    var("ARGON2_ITERATIONS"),
    var("ARGON2_PARALLELISM"),
    var("HASH_CONCURRENCY"),
    var("HASH_QUEUE_TIMEOUT_MS"),
    var("LOCKOUT_THRESHOLD"),
    var("LOCKOUT_DURATION"),
    var("SESSION_IDLE_TIMEOUT"),
    var("SESSION_LIFETIME"),
    var("TRUSTED_PROXIES"),
    var("LOGIN_RATE_PER_IP"),
    var("LOGIN_RATE_PER_ACCOUNT"),
    var("API_AUTH_FAILURES_PER_IP"),
    secret("KEY_ENCRYPTION_KEY", "key-encryption-key"),
    var("KEY_ROTATION_DAYS"),
    var("REFRESH_REUSE_GRACE"),
    var("AUDIT_RETENTION_DAYS"),
    var("HTTP_HEADER_TIMEOUT"),
    var("HTTP_IDLE_TIMEOUT"),
    var("HTTP_MAX_CONNECTIONS"),
    var("ACCESS_LOG"),
    var("ACCESS_LOG_SLOW_MS"),
    var("ADMIN_URL"),
    var("CONSOLE"),
    // Where mail goes and who sends it (config::mail).
    var("SMTP_URL"),
    secret("SMTP_PASSWORD", "smtp-password"),
    var("MAIL_FROM"),
];
