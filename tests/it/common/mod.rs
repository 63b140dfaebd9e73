//! Shared test helpers: the real binary under a socket-activation harness, a `NOTIFY_SOCKET`
//! listener, raw HTTP over TCP or unix sockets, and PostgreSQL fixtures.

#![allow(dead_code)]

pub mod http;
pub mod pg;
pub mod stores;

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_opentrusty");

/// A fresh directory per test, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("opentrusty-test-")
        .tempdir()
        .expect("tempdir")
}

/// A loopback TCP listener on a free port chosen by the kernel.
pub fn tcp_listener() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// A free loopback port (bound then released; fine for a daemon that binds right away).
pub fn free_port() -> u16 {
    tcp_listener().local_addr().unwrap().port()
}

/// Receives `sd_notify` datagrams the way systemd would, and records every line.
pub struct NotifySocket {
    pub path: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
}

impl NotifySocket {
    pub fn new(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind notify socket");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                sink.lock().unwrap().extend(text.lines().map(str::to_owned));
            }
        });
        NotifySocket { path, lines }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line equal to (or starting with, for `X=`) `want` arrives.
    pub fn wait_for(&self, want: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .lines()
                .iter()
                .any(|l| l == want || (want.ends_with('=') && l.starts_with(want)))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// The daemon under test. Killed on drop if still running.
pub struct Daemon {
    pub child: Child,
    pub stderr_path: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("kill");
    }

    /// Waits for exit, returning the exit code (None if killed by a signal or still running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How to start the daemon.
pub struct Launch {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Sockets to pass as fds 3, 4, ... with these `LISTEN_FDNAMES`.
    pub fds: Vec<(RawFd, String)>,
    pub dir: PathBuf,
}

impl Launch {
    /// A daemon on a fresh SQLite database in `dir`, allowed to run as root (tests run as root).
    pub fn new(dir: &Path) -> Launch {
        let mut env = BTreeMap::new();
        env.insert(
            "OPENTRUSTY_DATABASE_URL".into(),
            format!("sqlite://{}/opentrusty.db", dir.display()),
        );
        env.insert("OPENTRUSTY_ALLOW_ROOT".into(), "true".into());
        env.insert("OPENTRUSTY_LOG".into(), "info".into());
        env.insert(
            "OPENTRUSTY_PUBLIC_URL".into(),
            "http://127.0.0.1:8080".into(),
        );
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        Launch {
            args: vec!["serve".into()],
            env,
            fds: Vec::new(),
            dir: dir.to_owned(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Launch {
        self.env.insert(k.into(), v.into());
        self
    }

    pub fn without(mut self, k: &str) -> Launch {
        self.env.remove(k);
        self
    }

    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Passes a listening socket the way systemd does (fd 3 + index, named).
    pub fn socket(mut self, fd: &impl AsRawFd, name: &str) -> Launch {
        self.fds.push((fd.as_raw_fd(), name.into()));
        self
    }

    pub fn spawn(self) -> Daemon {
        let stderr_path = self.dir.join(format!(
            "daemon-{}.log",
            std::process::id() as u64 * 1000 + rand_suffix()
        ));
        let stderr = std::fs::File::create(&stderr_path).expect("log file");
        let mut cmd = if self.fds.is_empty() {
            let mut c = Command::new(BIN);
            c.env_clear().args(&self.args);
            c
        } else {
            // LISTEN_PID must be the daemon's own pid: let a shell export its $$ and exec.
            let mut c = Command::new("/bin/sh");
            c.env_clear()
                .arg("-c")
                .arg("export LISTEN_PID=$$; exec \"$0\" \"$@\"")
                .arg(BIN)
                .args(&self.args);
            let names: Vec<&str> = self.fds.iter().map(|(_, n)| n.as_str()).collect();
            c.env("LISTEN_FDS", self.fds.len().to_string())
                .env("LISTEN_FDNAMES", names.join(":"));
            let fds: Vec<RawFd> = self.fds.iter().map(|(fd, _)| *fd).collect();
            unsafe {
                c.pre_exec(move || {
                    // Move sources out of the way first so dup2 onto 3.. cannot clobber one.
                    let mut high = Vec::with_capacity(fds.len());
                    for fd in &fds {
                        let h = libc_fcntl_dupfd(*fd, 100);
                        if h < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        high.push(h);
                    }
                    for (i, h) in high.iter().enumerate() {
                        if libc_dup2(*h, 3 + i as i32) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
            c
        };
        cmd.envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = cmd.spawn().expect("spawn opentrusty");
        Daemon { child, stderr_path }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn libc_fcntl_dupfd(fd: RawFd, min: RawFd) -> RawFd {
    // F_DUPFD leaves FD_CLOEXEC clear on the copy.
    unsafe { nix::libc::fcntl(fd, nix::libc::F_DUPFD, min) }
}

fn libc_dup2(from: RawFd, to: RawFd) -> RawFd {
    unsafe { nix::libc::dup2(from, to) }
}

/// Polls `f` until it returns true or the timeout passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}
