//! Identity settings (password hashing, lockout, sessions, login throttling) and the IP
//! networks of trusted proxies.

use std::time::Duration;

/// Identity settings: password hashing, lockout, sessions, login throttling.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Hashes computed at once (the bounded blocking pool).
    pub hash_concurrency: u32,
    /// How long a login may wait for a hashing slot before it gets 503.
    pub hash_queue_timeout: Duration,
    pub lockout_threshold: u32,
    pub lockout_duration: Duration,
    pub session_idle_timeout: Duration,
    pub session_lifetime: Duration,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether a peer on a unix socket is a trusted proxy (`unix` in the list): a reverse
    /// proxy on the same host that forwards over a socket file.
    pub trust_unix_proxy: bool,
    /// Login attempts per minute from one client IP.
    pub login_rate_per_ip: u32,
    /// Login attempts per minute against one account.
    pub login_rate_per_account: u32,
    /// Failed management API authentications per minute from one client IP before 429.
    pub api_auth_failures_per_ip: u32,
}

/// An IP network in CIDR form (`10.0.0.0/8`, `::1/128`; a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map(V4).unwrap_or(V6(v6)),
            v4 => v4,
        };
        match (self.addr, ip) {
            (V4(n), V4(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (V6(n), V6(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}
