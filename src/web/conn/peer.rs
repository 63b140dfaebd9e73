//! Who is at the other end of an admin unix socket: an operator at the host acts as a
//! `platform` owner without a token (issue 10, "a CLI that works on an installed package").
//!
//! Admitted: root; the daemon's own user (the service user, or the developer running the
//! daemon unprivileged, who could open its database anyway); and members of the
//! [`OPERATOR_GROUP`] group, by the peer's primary gid or the supplementary groups the user
//! database gives its user. The file mode of the socket decides who may connect at all; this
//! decides who of them is an operator. Everybody else still needs a bearer token.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User, geteuid, getgrouplist};

use crate::web::api::extract::LocalOperator;

/// Members of this group are operators (the package creates it with the service user).
pub const OPERATOR_GROUP: &str = "opentrusty";

/// A unix peer's ids as `SO_PEERCRED` reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// The operator behind a connection, named by its unix user (`uid=N` when the user database
/// does not know it), or `None` when the peer is not admitted. Blocking (NSS lookups).
pub fn local_operator(peer: Ids) -> Option<LocalOperator> {
    let user = User::from_uid(Uid::from_raw(peer.uid)).ok().flatten();
    let group = Group::from_name(OPERATOR_GROUP)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw());
    // Supplementary groups only matter when the group exists (and only then are they read).
    let groups = match (&user, group) {
        (Some(u), Some(_)) => CString::new(u.name.as_str())
            .ok()
            .and_then(|name| getgrouplist(&name, u.gid).ok())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let groups: Vec<u32> = groups.into_iter().map(Gid::as_raw).collect();
    let name = user.map_or_else(|| format!("uid={}", peer.uid), |u| u.name);
    let admitted = admits(peer, geteuid().as_raw(), group, &groups);
    tracing::debug!(
        uid = peer.uid,
        gid = peer.gid,
        user = %name,
        admitted,
        "admin socket peer"
    );
    admitted.then_some(LocalOperator(name))
}

/// The rule itself: root, the daemon's own uid, or a member of the operator group.
fn admits(peer: Ids, own_uid: u32, operator_gid: Option<u32>, user_groups: &[u32]) -> bool {
    peer.uid == 0
        || peer.uid == own_uid
        || operator_gid.is_some_and(|g| peer.gid == g || user_groups.contains(&g))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAEMON: u32 = 998;
    const GROUP: u32 = 997;

    fn peer(uid: u32, gid: u32) -> Ids {
        Ids { uid, gid }
    }

    #[test]
    fn root_and_the_daemons_own_user_are_operators() {
        assert!(admits(peer(0, 0), DAEMON, None, &[]));
        assert!(admits(peer(DAEMON, DAEMON), DAEMON, None, &[]));
        assert!(admits(peer(DAEMON, 5), DAEMON, Some(GROUP), &[]));
    }

    #[test]
    fn members_of_the_operator_group_are_operators() {
        // By the primary gid the peer runs with, or by the user's supplementary groups.
        assert!(admits(peer(1000, GROUP), DAEMON, Some(GROUP), &[]));
        assert!(admits(
            peer(1000, 1000),
            DAEMON,
            Some(GROUP),
            &[1000, GROUP]
        ));
    }

    #[test]
    fn anybody_else_is_not() {
        assert!(!admits(peer(1000, 1000), DAEMON, Some(GROUP), &[1000, 27]));
        assert!(!admits(peer(1000, 1000), DAEMON, None, &[1000]));
        // Without the group on the host, a gid never matches by accident.
        assert!(!admits(peer(65534, 65534), DAEMON, None, &[65534]));
    }

    #[test]
    fn an_unknown_uid_is_named_by_number() {
        // uid 0 is always known; a uid nobody has is named `uid=N` but still judged by rule.
        let op = local_operator(peer(0, 0)).expect("root is an operator");
        assert_eq!(op.0, "root");
        let unknown = 3_999_999_u32;
        let own = geteuid().as_raw();
        let got = local_operator(peer(unknown, unknown));
        if own == unknown {
            assert_eq!(got.map(|o| o.0), Some(format!("uid={unknown}")));
        } else {
            assert!(got.is_none());
        }
    }
}
