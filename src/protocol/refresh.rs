//! Refresh-token rules (RFC 6749 §6, RFC 9700 §4.14.2): rotation on every use, reuse
//! detection that revokes the whole family, one grace retry within a short window for a
//! client that lost the answer, and scope that may narrow but never widen.

use super::error::Error;
use crate::clock::UnixTime;
use crate::domain::scope::Scope;

/// What the store knows about a presented refresh token.
#[derive(Clone, Copy, Debug)]
pub struct State {
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    /// Its one grace retry was already answered.
    pub retried: bool,
    pub revoked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fresh: issue a new pair and mark this one used.
    Rotate,
    /// Used a moment ago and not retried yet (a client that lost the first answer): issue
    /// again, replacing what the first use issued.
    GraceRetry,
    /// Used before, outside the grace window or a second time within it: someone replayed
    /// it. Revoke the family.
    Reuse,
    /// Expired or revoked: refuse.
    Dead,
}

pub fn judge(s: State, now: UnixTime, grace: i64) -> Verdict {
    if s.revoked {
        return Verdict::Dead;
    }
    match s.used_at {
        // A grace of 0 turns the window off (even within the same second).
        Some(used) if !s.retried && grace > 0 && now - used <= grace && now < s.expires_at => {
            Verdict::GraceRetry
        }
        Some(_) => Verdict::Reuse,
        None if now >= s.expires_at => Verdict::Dead,
        None => Verdict::Rotate,
    }
}

/// The scope of the new access token: the request's if it is within what was granted
/// (RFC 6749 §6: "MUST NOT include any scope not originally granted"), else the grant's.
pub fn narrow(granted: &Scope, requested: Option<&Scope>) -> Result<Scope, Error> {
    match requested {
        None => Ok(granted.clone()),
        Some(r) if r.is_empty() => Ok(granted.clone()),
        Some(r) if r.is_subset(granted) => Ok(r.clone()),
        Some(r) => Err(Error::invalid_scope(format!(
            "scope may only narrow on refresh; not granted: {}",
            r.outside(granted).collect::<Vec<_>>().join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(used: Option<i64>, revoked: bool) -> State {
        State {
            expires_at: 1000,
            used_at: used,
            retried: false,
            revoked,
        }
    }

    #[test]
    fn rotation_reuse_and_grace() {
        assert_eq!(judge(st(None, false), 10, 5), Verdict::Rotate);
        assert_eq!(judge(st(Some(10), false), 14, 5), Verdict::GraceRetry);
        assert_eq!(judge(st(Some(10), false), 16, 5), Verdict::Reuse);
        assert_eq!(judge(st(Some(10), false), 11, 0), Verdict::Reuse);
        assert_eq!(judge(st(Some(10), false), 10, 0), Verdict::Reuse);
        assert_eq!(judge(st(None, true), 10, 5), Verdict::Dead);
        assert_eq!(judge(st(None, false), 1000, 5), Verdict::Dead);
        // The grace retry is allowed once; the second is a replay.
        let retried = State {
            retried: true,
            ..st(Some(10), false)
        };
        assert_eq!(judge(retried, 11, 5), Verdict::Reuse);
        assert_eq!(
            judge(
                State {
                    revoked: true,
                    ..retried
                },
                11,
                5
            ),
            Verdict::Dead
        );
    }

    #[test]
    fn scope_narrows_never_widens() {
        let granted = Scope::parse("openid profile offline_access").unwrap();
        let narrower = Scope::parse("openid").unwrap();
        assert_eq!(narrow(&granted, Some(&narrower)).unwrap(), narrower);
        assert_eq!(narrow(&granted, None).unwrap(), granted);
        let wider = Scope::parse("openid email").unwrap();
        assert!(narrow(&granted, Some(&wider)).is_err());
    }
}
