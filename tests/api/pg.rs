//! A throwaway PostgreSQL server for the tests that need a real one: `initdb` into a
//! temporary directory, started on a free loopback port, stopped when dropped.
//!
//! PostgreSQL comes from the machine's packages (`.ci/run` installs them). Without them
//! the tests that need it say so and pass, unless `CDS_REQUIRE_POSTGRES=1` (set by CI),
//! where a missing server fails them. As root (CI), the server runs as the `postgres`
//! user the Debian package creates: PostgreSQL refuses to run as root.

use std::path::PathBuf;
use std::process::Command;

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// The user to run the server as, when we are root.
    run_as: Option<String>,
    /// fsync on, as a real server has it (measurements); off for tests.
    durable: bool,
}

/// Where `initdb` and `pg_ctl` are: CDS_TEST_PG_BIN, else the newest Debian version
/// (`/usr/lib/postgresql/N/bin`, not on PATH), else PATH.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CDS_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")) == "0"
}

impl Cluster {
    /// A new, empty cluster, or `None` (with a message naming `test`) when PostgreSQL is
    /// not installed here and CI does not require it.
    pub fn start(test: &str) -> Option<Cluster> {
        Self::start_with(test, false)
    }

    /// With `durable`, commits wait for the disk as on a real server.
    pub fn start_with(test: &str, durable: bool) -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var("CDS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: CDS_REQUIRE_POSTGRES=1 but no PostgreSQL binaries were found \
                 (apt-get install -y postgresql, or set CDS_TEST_PG_BIN)"
            );
            eprintln!(
                "SKIPPED {test}: needs PostgreSQL (apt-get install -y postgresql, or CDS_TEST_PG_BIN=<dir with \
                 initdb>); CI runs it"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let uid: u32 = output(Command::new("id").args(["-u", user])).parse().unwrap();
            let gid: u32 = output(Command::new("id").args(["-g", user])).parse().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster dir");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            dir,
            bin,
            port,
            run_as,
            durable,
        };
        let data = cluster.data();
        output(
            cluster
                .command("initdb")
                .args(["-A", "trust", "-U", "cds", "--no-sync", "-E", "UTF8", "-D"])
                .arg(&data),
        );
        cluster.resume();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        output(self.command("pg_ctl").arg("-D").arg(self.data()).args(args));
    }

    /// Start (again) on the same port; fsync off unless durable: it is thrown away.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            self.port,
            self.dir.path().display(),
            if self.durable { "on" } else { "off" }
        );
        let log = self.dir.path().join("server.log");
        self.pg_ctl(&["-w", "-l", log.to_str().unwrap(), "-o", &options, "start"]);
    }

    /// Stop as an operator's shutdown does: clients are disconnected.
    pub fn stop(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "stop"]);
    }

    /// A URL for the cluster's `postgres` database, user `cds`, no password (trust).
    pub fn url(&self) -> String {
        format!("postgres://cds@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
