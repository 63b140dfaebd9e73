//! Process hygiene before the runtime starts: refuse root (or drop to `OPENTRUSTY_USER`),
//! `umask 077`, and no core dumps or ptrace by peers (the process holds key material).

use nix::unistd::{Gid, Uid, User};

use crate::config::{Config, RunAs};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "refusing to run as root: set OPENTRUSTY_USER to drop privileges, run under the systemd unit, or set OPENTRUSTY_ALLOW_ROOT=true"
    )]
    Root,
    #[error("OPENTRUSTY_USER: no such user {0:?}")]
    NoSuchUser(String),
    #[error("OPENTRUSTY_USER is set but the process is not root, so it cannot change user")]
    NotRoot,
    #[error("dropping privileges failed at {step}: {source}")]
    Drop {
        step: &'static str,
        source: nix::Error,
    },
    #[error("dropping privileges did not stick: root could be regained")]
    Regained,
    #[error(
        "the database {path} belongs to {owner}, not to {caller}: run the command as {owner} (e.g. `runuser -u {owner} -- opentrusty ...`), or let the running daemon do it through its admin socket"
    )]
    NotOwner {
        path: String,
        owner: String,
        caller: String,
    },
}

/// Turns transparent huge pages off for this process. The allocator marks its segments for
/// huge pages, and then one touched byte costs 2 MiB of RSS; a daemon this small gains nothing
/// from them. Called first thing in `main`, before the allocator maps much.
pub fn no_huge_pages() {
    let _ = nix::sys::prctl::set_thp_disable(true);
}

/// What [`harden`] did, for a log line once logging runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Unprivileged,
    RootAllowed,
    Dropped { uid: u32, gid: u32 },
}

/// Files this process creates (the SQLite database and its WAL, a generated key-encryption
/// key) are private to its user: they hold password hashes and key material. Called first
/// thing in `main`, for every command, before anything can create a file.
pub fn private_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Applies the process rules. Must run single-threaded: after sockets are taken (so privileged
/// ports can be bound) and before the tokio runtime spawns threads (so every thread gets the
/// new credentials). `serve` calls it after taking its sockets; every other command that opens
/// the database calls it before opening it.
pub fn harden(config: &Config) -> Result<Outcome, Error> {
    private_umask();
    // Not dumpable: no core file with secrets in it, and no ptrace from same-uid processes.
    let _ = nix::sys::prctl::set_dumpable(false);

    let is_root = Uid::effective().is_root();
    match (&config.run_as, is_root) {
        (Some(_), false) => Err(Error::NotRoot),
        (Some(run_as), true) => drop_to(run_as),
        (None, true) if config.allow_root => Ok(Outcome::RootAllowed),
        (None, true) => Err(Error::Root),
        (None, false) => Ok(Outcome::Unprivileged),
    }
}

/// Refuses to open a SQLite database file that belongs to another user than this process
/// (after [`harden`], so after any drop to `OPENTRUSTY_USER`). Root is no exception: the WAL
/// and shared-memory files root would create next to the daemon's database are root's, and
/// the daemon could no longer open them. A file that does not exist yet is this process's to
/// create; PostgreSQL has no file.
pub fn check_database_owner(config: &Config) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let crate::config::DatabaseUrl::Sqlite(path) = &config.database_url else {
        return Ok(());
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let me = Uid::effective();
    if meta.uid() == me.as_raw() {
        return Ok(());
    }
    Err(Error::NotOwner {
        path: path.display().to_string(),
        owner: user_name(Uid::from_raw(meta.uid())),
        caller: user_name(me),
    })
}

/// A uid's user name, or `uid=N` when the user database does not know it.
pub fn user_name(uid: Uid) -> String {
    User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid={uid}"), |u| u.name)
}

fn drop_to(run_as: &RunAs) -> Result<Outcome, Error> {
    let (uid, gid, name) = match run_as {
        RunAs::Ids { uid, gid } => (Uid::from_raw(*uid), Gid::from_raw(*gid), None),
        RunAs::Name(name) => {
            let user = User::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| Error::NoSuchUser(name.clone()))?;
            (user.uid, user.gid, Some(user.name))
        }
    };
    if uid.is_root() {
        return Err(Error::Regained);
    }
    // Order matters: supplementary groups and gid need root, so they go before the uid.
    let groups = match &name {
        Some(n) => {
            let cname =
                std::ffi::CString::new(n.as_str()).map_err(|_| Error::NoSuchUser(n.clone()))?;
            nix::unistd::getgrouplist(&cname, gid).map_err(|source| Error::Drop {
                step: "getgrouplist",
                source,
            })?
        }
        None => vec![gid],
    };
    nix::unistd::setgroups(&groups).map_err(|source| Error::Drop {
        step: "setgroups",
        source,
    })?;
    nix::unistd::setresgid(gid, gid, gid).map_err(|source| Error::Drop {
        step: "setresgid",
        source,
    })?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|source| Error::Drop {
        step: "setresuid",
        source,
    })?;
    // Prove it: with real, effective and saved uid changed, setuid(0) must fail.
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || Uid::effective().is_root() {
        return Err(Error::Regained);
    }
    let _ = nix::sys::prctl::set_dumpable(false); // setuid resets the flag on some kernels
    Ok(Outcome::Dropped {
        uid: uid.as_raw(),
        gid: gid.as_raw(),
    })
}
