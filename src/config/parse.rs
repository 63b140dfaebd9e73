//! Parsers for single variables: each turns one string into a typed value or a
//! [`ConfigError`] naming the variable; and the resolution of secrets from `X_FILE` files and
//! systemd credentials.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::{ConfigError, DatabaseUrl, KNOWN, ListenAddr, PREFIX, RunAs};

/// Keeps only `OPENTRUSTY_*` variables, replaces `X_FILE` and credentials by their contents, and
/// warns about names nobody reads (typos).
pub(super) fn resolve_secrets(
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (key, value) in env {
        let Some(name) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let is_file_variant = name
            .strip_suffix("_FILE")
            .is_some_and(|base| KNOWN.iter().any(|k| k.secret && k.name == base));
        if is_file_variant {
            continue; // `X_FILE` of a secret: read below
        }
        if !KNOWN.iter().any(|k| k.name == name) {
            warnings.push(format!("unknown variable {key} is ignored (a typo?)"));
            continue;
        }
        out.insert(key.clone(), value.clone());
    }
    let creds = env.get("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    for known in KNOWN.iter().filter(|k| k.secret) {
        let direct = format!("{PREFIX}{}", known.name);
        let file_var = format!("{}_FILE", known.name);
        let from_file = env.get(&format!("{PREFIX}{file_var}"));
        if let Some(path) = from_file {
            if out.contains_key(&direct) {
                return Err(ConfigError::new(
                    &file_var,
                    Some(path),
                    format!("only one of {direct} and {direct}_FILE to be set"),
                ));
            }
            let value = read_secret_file(Path::new(path)).map_err(|e| {
                ConfigError::new(&file_var, Some(path), format!("a readable file ({e})"))
            })?;
            out.insert(direct, value);
        } else if !out.contains_key(&direct)
            && let (Some(dir), Some(cred)) = (&creds, known.credential)
        {
            let path = dir.join(cred);
            if path.exists() {
                let value = read_secret_file(&path).map_err(|e| {
                    ConfigError::new(
                        known.name,
                        None,
                        format!("a readable credential {} ({e})", path.display()),
                    )
                })?;
                out.insert(direct, value);
            }
        }
    }
    Ok(out)
}

pub(super) fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let s = std::fs::read_to_string(path)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

pub(super) fn parse_database_url(
    s: &str,
    password: Option<&str>,
) -> Result<DatabaseUrl, ConfigError> {
    let expected = "sqlite://PATH or postgres://USER@HOST[:PORT]/DB";
    if let Some(path) = s
        .strip_prefix("sqlite://")
        .or_else(|| s.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err(ConfigError::new(
                "DATABASE_URL",
                None,
                format!("{expected} (a file path)"),
            ));
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        let mut url = Url::parse(s)
            .map_err(|e| ConfigError::new("DATABASE_URL", None, format!("{expected} ({e})")))?;
        if url.host_str().is_none_or(str::is_empty) && !url.query_pairs().any(|(k, _)| k == "host")
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                None,
                format!("{expected} (a host)"),
            ));
        }
        if let Some(pw) = password {
            url.set_password(Some(pw)).map_err(|_| {
                ConfigError::new("DATABASE_PASSWORD", None, "a URL that can carry a password")
            })?;
        }
        return Ok(DatabaseUrl::Postgres(url));
    }
    Err(ConfigError::new("DATABASE_URL", None, expected))
}

pub(super) fn parse_public_url(s: &str, warnings: &mut Vec<String>) -> Result<Url, ConfigError> {
    let expected = "an absolute http(s) URL without query or fragment, e.g. https://id.example.com";
    let url = Url::parse(s).map_err(|_| ConfigError::new("PUBLIC_URL", Some(s), expected))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(ConfigError::new("PUBLIC_URL", Some(s), expected));
    }
    if url.scheme() == "http" {
        warnings.push(format!("{PREFIX}PUBLIC_URL={s} is not https; browsers and relying parties need https in production"));
    }
    // The issuer is `{public_url}/t/{tenant}`: keep the base without a trailing slash.
    let mut url = url;
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

pub(super) fn parse_listen(name: &str, s: &str) -> Result<ListenAddr, ConfigError> {
    if let Some(path) = s.strip_prefix("unix:") {
        if !path.starts_with('/') {
            return Err(ConfigError::new(name, Some(s), "unix:/ABSOLUTE/PATH"));
        }
        return Ok(ListenAddr::Unix(PathBuf::from(path)));
    }
    s.parse::<SocketAddr>().map(ListenAddr::Tcp).map_err(|_| {
        ConfigError::new(
            name,
            Some(s),
            "a TCP address like 127.0.0.1:8080 or [::1]:8080, or unix:/path",
        )
    })
}

pub(super) fn validate_log_filter(name: &str, s: &str) -> Result<(), ConfigError> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| ())
        .map_err(|_| {
            ConfigError::new(
                name,
                Some(s),
                "a tracing filter such as `info` or `opentrusty=debug,info`",
            )
        })
}

pub(super) fn parse_bool(name: &str, s: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    match s.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(ConfigError::new(name, s, "true or false")),
    }
}

pub(super) fn parse_u32(
    name: &str,
    s: Option<&str>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(s) = s else { return Ok(default) };
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| {
            ConfigError::new(
                name,
                Some(s),
                format!("a whole number from {} to {}", range.start(), range.end()),
            )
        })
}

pub(super) fn parse_seconds(
    name: &str,
    s: Option<&str>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Duration, ConfigError> {
    let Some(raw) = s else {
        return Ok(Duration::from_secs(default.into()));
    };
    let digits = raw.trim().strip_suffix('s').unwrap_or(raw.trim());
    let v = digits
        .parse::<u32>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| {
            ConfigError::new(
                name,
                Some(raw),
                format!("seconds from {} to {}", range.start(), range.end()),
            )
        })?;
    Ok(Duration::from_secs(v.into()))
}

pub(super) fn parse_run_as(s: &str) -> Result<RunAs, ConfigError> {
    let expected = "a user name or UID:GID";
    if let Some((u, g)) = s.split_once(':') {
        let uid = u
            .parse()
            .map_err(|_| ConfigError::new("USER", Some(s), expected))?;
        let gid = g
            .parse()
            .map_err(|_| ConfigError::new("USER", Some(s), expected))?;
        return Ok(RunAs::Ids { uid, gid });
    }
    let valid = !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(ConfigError::new("USER", Some(s), expected));
    }
    Ok(RunAs::Name(s.to_owned()))
}
