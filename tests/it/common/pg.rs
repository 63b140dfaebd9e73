//! PostgreSQL fixtures. The shared server comes from `OPENTRUSTY_TEST_POSTGRES_URL` (set by
//! `make test`, which finds or starts one); each test gets its own fresh database on it.
//! Tests that must stop the server start a private throwaway cluster instead.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A database of its own on the shared server, dropped best-effort at the end of the test.
/// Returns None (after saying so on stderr) when no server is configured; panics instead when
/// `OPENTRUSTY_TEST_REQUIRE_POSTGRES=1`, so CI can never skip PostgreSQL silently.
pub async fn fresh_database(test: &str) -> Option<String> {
    let Ok(admin) = std::env::var("OPENTRUSTY_TEST_POSTGRES_URL") else {
        if std::env::var("OPENTRUSTY_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!(
                "OPENTRUSTY_TEST_REQUIRE_POSTGRES=1 but OPENTRUSTY_TEST_POSTGRES_URL is not set"
            );
        }
        eprintln!("SKIPPED on PostgreSQL: {test} (OPENTRUSTY_TEST_POSTGRES_URL is not set)");
        return None;
    };
    let name = format!("ot_{}", uuid::Uuid::now_v7().simple());
    let out = Command::new("psql")
        .arg(&admin)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut url = url::Url::parse(&admin).expect("OPENTRUSTY_TEST_POSTGRES_URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// A private PostgreSQL cluster (initdb + pg_ctl as the `postgres` user) on a free port.
/// Stopped and removed on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

fn server_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    dirs.sort();
    dirs.into_iter().rev().find(|d| d.join("initdb").exists())
}

fn as_postgres(bin: &std::path::Path, tool: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .output()
        .expect("runuser")
}

impl Cluster {
    /// Starts one, or returns None (saying why) when the server binaries or root are missing.
    pub fn start(test: &str) -> Option<Cluster> {
        let Some(bin) = server_bin() else {
            eprintln!(
                "SKIPPED on PostgreSQL: {test} (no PostgreSQL server binaries under /usr/lib/postgresql)"
            );
            return None;
        };
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!(
                "SKIPPED on PostgreSQL: {test} (needs root to run a private cluster as postgres)"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("opentrusty-pg-")
            .tempdir()
            .expect("tempdir");
        let pg = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .expect("postgres user");
        nix::unistd::chown(dir.path(), Some(pg.uid), Some(pg.gid)).expect("chown");
        let data = dir.path().join("data");
        let out = as_postgres(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = super::free_port();
        let cluster = Cluster { dir, port, bin };
        cluster.pg_start();
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn pg_start(&self) {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        let out = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn pg_stop(&self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_stop();
    }
}
