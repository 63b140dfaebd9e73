//! The effective configuration as `NAME=value` pairs with secrets redacted, for
//! `check-config`.

use super::{Config, ListenAddr};

impl Config {
    /// The effective configuration as `NAME=value` lines, secrets redacted (for `check-config`).
    pub fn describe(&self) -> Vec<(String, String)> {
        let opt = |v: &Option<ListenAddr>| {
            v.as_ref()
                .map_or_else(|| "(unset)".to_owned(), |a| a.to_string())
        };
        vec![
            ("DATABASE_URL".into(), self.database_url.redacted()),
            (
                "DATABASE_MAX_CONNECTIONS".into(),
                self.database_max_connections.to_string(),
            ),
            ("PUBLIC_URL".into(), self.public_url.to_string()),
            ("LISTEN".into(), self.listen.to_string()),
            ("ADMIN_LISTEN".into(), opt(&self.admin_listen)),
            (
                "ADMIN_URL".into(),
                self.console
                    .admin_url
                    .as_ref()
                    .map_or_else(|| "(unset)".to_owned(), |u| u.to_string()),
            ),
            ("CONSOLE".into(), self.console.enabled.to_string()),
            (
                "SMTP_URL".into(),
                self.mail.as_ref().map_or_else(
                    || "(unset: mail is off)".to_owned(),
                    |m| match &m.transport {
                        super::MailTransport::Smtp { url, .. } => url.to_string(),
                        super::MailTransport::File(p) => format!("file:{}", p.display()),
                    },
                ),
            ),
            (
                "MAIL_FROM".into(),
                self.mail
                    .as_ref()
                    .map_or_else(|| "(unset)".to_owned(), |m| m.from.clone()),
            ),
            ("LOG".into(), self.log_filter.clone()),
            (
                "LOG_FORMAT".into(),
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            ("MIGRATE_ON_START".into(), self.migrate_on_start.to_string()),
            (
                "SHUTDOWN_TIMEOUT".into(),
                self.shutdown_timeout.as_secs().to_string(),
            ),
            ("ALLOW_ROOT".into(), self.allow_root.to_string()),
            (
                "USER".into(),
                self.run_as
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |r| format!("{r:?}")),
            ),
            (
                "ARGON2_MEMORY_KIB".into(),
                self.identity.argon2_memory_kib.to_string(),
            ),
            (
                "ARGON2_ITERATIONS".into(),
                self.identity.argon2_iterations.to_string(),
            ),
            (
                "ARGON2_PARALLELISM".into(),
                self.identity.argon2_parallelism.to_string(),
            ),
            (
                "HASH_CONCURRENCY".into(),
                self.identity.hash_concurrency.to_string(),
            ),
            (
                "HASH_QUEUE_TIMEOUT_MS".into(),
                self.identity.hash_queue_timeout.as_millis().to_string(),
            ),
            (
                "LOCKOUT_THRESHOLD".into(),
                self.identity.lockout_threshold.to_string(),
            ),
            (
                "LOCKOUT_DURATION".into(),
                self.identity.lockout_duration.as_secs().to_string(),
            ),
            (
                "SESSION_IDLE_TIMEOUT".into(),
                self.identity.session_idle_timeout.as_secs().to_string(),
            ),
            (
                "SESSION_LIFETIME".into(),
                self.identity.session_lifetime.as_secs().to_string(),
            ),
            (
                "TRUSTED_PROXIES".into(),
                self.identity
                    .trusted_proxies
                    .iter()
                    .map(|n| format!("{}/{}", n.addr, n.prefix))
                    .chain(self.identity.trust_unix_proxy.then(|| "unix".to_owned()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "LOGIN_RATE_PER_IP".into(),
                self.identity.login_rate_per_ip.to_string(),
            ),
            (
                "LOGIN_RATE_PER_ACCOUNT".into(),
                self.identity.login_rate_per_account.to_string(),
            ),
            (
                "API_AUTH_FAILURES_PER_IP".into(),
                self.identity.api_auth_failures_per_ip.to_string(),
            ),
            (
                "KEY_ENCRYPTION_KEY".into(),
                if self.oauth.key_encryption_key.is_some() {
                    "(set)"
                } else {
                    "(unset: generated beside the SQLite database)"
                }
                .into(),
            ),
            (
                "KEY_ROTATION_DAYS".into(),
                (self.oauth.key_rotation.as_secs() / 86_400).to_string(),
            ),
            (
                "REFRESH_REUSE_GRACE".into(),
                self.oauth.refresh_reuse_grace.as_secs().to_string(),
            ),
            (
                "AUDIT_RETENTION_DAYS".into(),
                (self.audit_retention.as_secs() / 86_400).to_string(),
            ),
            (
                "HTTP_HEADER_TIMEOUT".into(),
                self.http.header_read_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_IDLE_TIMEOUT".into(),
                self.http.idle_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_MAX_CONNECTIONS".into(),
                self.http.max_connections.to_string(),
            ),
            ("ACCESS_LOG".into(), self.http.access_log.as_str().into()),
            (
                "ACCESS_LOG_SLOW_MS".into(),
                self.http.slow_request.as_millis().to_string(),
            ),
            (
                "ENV_FILE".into(),
                self.env_file
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |p| p.display().to_string()),
            ),
        ]
    }
}
