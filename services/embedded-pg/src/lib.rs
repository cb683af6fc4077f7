//! A private PostgreSQL cluster kept under Participe's data dir, for machines without a
//! database server of their own (a laptop trying the demo, the test harness).
//!
//! It owns finding the system's PostgreSQL binaries, `initdb` (as an unprivileged user when
//! run as root, since PostgreSQL refuses to run as root), starting the server on a free
//! loopback port, reusing a cluster that is already running, and stopping it cleanly. It
//! knows nothing of Participe's schemas: callers get a connection URL and nothing else.

use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};

/// Superuser created by `initdb` in a private cluster.
pub const SUPERUSER: &str = "participe";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "PostgreSQL is not installed: install it (Debian: apt install postgresql) or set DATABASE_URL to an existing server"
    )]
    NotInstalled,
    #[error(
        "no unprivileged user to run PostgreSQL as (PostgreSQL refuses to run as root): create a `postgres` user or set DATABASE_URL"
    )]
    NoUnprivilegedUser,
    #[error(
        "the data dir {0} cannot be written by user `{1}`, which runs PostgreSQL: choose a PARTICIPE_DATA_DIR it can reach, or set DATABASE_URL"
    )]
    Unreachable(PathBuf, String),
    #[error("{step} failed: {detail}")]
    Step { step: &'static str, detail: String },
    #[error("{0}: {1}")]
    Io(String, #[source] io::Error),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |e| Error::Io(what, e)
}

/// Where the PostgreSQL programs live.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    /// `initdb` and `postgres` from PATH first, then the highest `/usr/lib/postgresql/*/bin`
    /// (Debian does not put them on PATH).
    pub fn find() -> Result<Self, Error> {
        Self::find_in(std::env::var_os("PATH").as_deref(), Path::new("/usr/lib/postgresql"))
    }

    fn find_in(path_var: Option<&std::ffi::OsStr>, debian_root: &Path) -> Result<Self, Error> {
        let from_path = path_var
            .into_iter()
            .flat_map(|p| std::env::split_paths(p).collect::<Vec<_>>());
        let mut debian: Vec<(u32, PathBuf)> = fs::read_dir(debian_root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .collect();
        debian.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        from_path
            .chain(debian.into_iter().map(|(_, p)| p))
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
            .map(|dir| Binaries { dir })
            .ok_or(Error::NotInstalled)
    }

    fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The user PostgreSQL runs as: ourselves, or an unprivileged account when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: Option<(u32, u32)>,
}

impl RunAs {
    fn pick() -> Result<Self, Error> {
        if !Uid::effective().is_root() {
            let name = User::from_uid(Uid::effective())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| "current user".into());
            return Ok(RunAs { name, uid: None });
        }
        for name in ["postgres", "nobody"] {
            if let Ok(Some(user)) = User::from_name(name) {
                return Ok(RunAs {
                    name: user.name,
                    uid: Some((user.uid.as_raw(), user.gid.as_raw())),
                });
            }
        }
        Err(Error::NoUnprivilegedUser)
    }

    fn command(&self, program: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(program.as_ref());
        if let Some((uid, gid)) = self.uid {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn chown(&self, path: &Path) -> Result<(), Error> {
        if let Some((uid, gid)) = self.uid {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(io_err(format!("chown {}", path.display())))?;
        }
        Ok(())
    }
}

/// Settings passed to the server with `-c`, for callers that want them (the test harness
/// trades durability for speed; `participe serve` keeps PostgreSQL's defaults).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub settings: Vec<(String, String)>,
}

impl Options {
    /// Durability off: only for throw-away clusters (tests, benchmarks).
    pub fn ephemeral() -> Self {
        Options {
            settings: [
                ("fsync", "off"),
                ("synchronous_commit", "off"),
                ("full_page_writes", "off"),
                ("max_connections", "300"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }
}

/// A running private cluster. Dropping it stops the server if this process started it.
#[derive(Debug)]
pub struct Cluster {
    pgdata: PathBuf,
    port: u16,
    password: String,
    child: Option<Child>,
}

impl Cluster {
    /// Starts the cluster kept in `data_dir/postgres`, creating it on first use, or joins it
    /// when another process already runs it (then this handle never stops it).
    ///
    /// Call it from a thread that lives as long as the cluster should (the main thread):
    /// the server is told to shut down when that thread's process dies, so a killed
    /// Participe never leaves an orphan PostgreSQL behind.
    pub fn start_or_reuse(data_dir: &Path, options: &Options) -> Result<Self, Error> {
        let bin = Binaries::find()?;
        let run_as = RunAs::pick()?;
        fs::create_dir_all(data_dir).map_err(io_err(format!("create {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io_err(format!("open {}", data_dir.display())))?;
        let pgdata = data_dir.join("postgres");
        let password_file = data_dir.join("postgres.password");

        if !pgdata.join("PG_VERSION").is_file() {
            init(&bin, &run_as, &pgdata, &password_file)?;
        }
        let password = fs::read_to_string(&password_file)
            .map_err(io_err(format!("read {}", password_file.display())))?
            .trim()
            .to_string();

        if let Some(port) = running_port(&pgdata) {
            tracing::info!(port, "reusing the private PostgreSQL cluster already running");
            return Ok(Cluster {
                pgdata,
                port,
                password,
                child: None,
            });
        }

        let port = free_port()?;
        let log_path = data_dir.join("postgres.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(format!("open {}", log_path.display())))?;
        let mut cmd = run_as.command(bin.program("postgres"));
        cmd.arg("-D").arg(&pgdata).arg("-p").arg(port.to_string()).args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ]);
        for (k, v) in &options.settings {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("log file"))?)
            .stderr(log)
            // Own process group: a Ctrl-C in the terminal reaches Participe, which then
            // drains its requests before stopping PostgreSQL, instead of both at once.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(io::Error::from));
        }
        let child = cmd.spawn().map_err(io_err("start postgres"))?;
        let mut cluster = Cluster {
            pgdata,
            port,
            password,
            child: Some(child),
        };
        cluster.wait_ready(&log_path)?;
        tracing::info!(port, "private PostgreSQL cluster started");
        Ok(cluster)
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(Error::Step {
                    step: "starting PostgreSQL",
                    detail: format!("exited with {status}; {}", log_tail(log_path)),
                });
            }
            if pid_file_status(&self.pgdata).as_deref() == Some("ready") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Step {
                    step: "starting PostgreSQL",
                    detail: format!("not ready after 30 s; {}", log_tail(log_path)),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this handle started the server (and will stop it).
    pub fn owned(&self) -> bool {
        self.child.is_some()
    }

    /// Connection URL for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Fast shutdown: open sessions are ended, committed work is kept.
    pub fn stop(mut self) -> Result<(), Error> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => {
                    tracing::info!("private PostgreSQL cluster stopped");
                    return Ok(());
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Step {
                        step: "stopping PostgreSQL",
                        detail: "no fast shutdown within 30 s; killed".into(),
                    });
                }
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            tracing::warn!(error = %e, "stopping the private PostgreSQL cluster");
        }
    }
}

fn init(bin: &Binaries, run_as: &RunAs, pgdata: &Path, password_file: &Path) -> Result<(), Error> {
    fs::create_dir_all(pgdata).map_err(io_err(format!("create {}", pgdata.display())))?;
    fs::set_permissions(pgdata, fs::Permissions::from_mode(0o700))
        .map_err(io_err(format!("chmod {}", pgdata.display())))?;
    run_as.chown(pgdata)?;
    let reachable = run_as
        .command("test")
        .arg("-w")
        .arg(pgdata)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !reachable {
        return Err(Error::Unreachable(pgdata.to_path_buf(), run_as.name.clone()));
    }

    let password: String = {
        use rand::Rng;
        rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect()
    };
    // initdb reads the password from a file, as the unprivileged user: a short-lived copy
    // (0600, owned by that user) next to the data directory, removed right after. Not inside
    // it: initdb wants an empty directory.
    let pwfile = password_file.with_extension("initdb");
    write_private(&pwfile, &password)?;
    run_as.chown(&pwfile)?;
    let out = run_as
        .command(bin.program("initdb"))
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output();
    let _ = fs::remove_file(&pwfile);
    let out = out.map_err(io_err("run initdb"))?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(pgdata);
        return Err(Error::Step {
            step: "initdb",
            detail: String::from_utf8_lossy(&out.stderr)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    write_private(password_file, &password)?;
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("write {}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(io_err(format!("write {}", path.display())))
}

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err("find a free port"))?;
    Ok(listener.local_addr().map_err(io_err("find a free port"))?.port())
}

/// `postmaster.pid`: line 1 the pid, line 4 the port, line 8 the server's status.
fn pid_file_lines(pgdata: &Path) -> Option<Vec<String>> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    Some(text.lines().map(|l| l.trim().to_string()).collect())
}

fn pid_file_status(pgdata: &Path) -> Option<String> {
    pid_file_lines(pgdata)?.get(7).cloned()
}

fn running_port(pgdata: &Path) -> Option<u16> {
    let lines = pid_file_lines(pgdata)?;
    let pid: i32 = lines.first()?.parse().ok()?;
    // Signal 0 checks existence; EPERM means it exists but belongs to another user.
    let alive = match kill(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    if !alive || lines.get(7).map(String::as_str) != Some("ready") {
        return None;
    }
    lines.get(3)?.parse().ok()
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("log {}: {}", path.display(), tail.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_postgresql_the_error_says_what_to_do_in_one_line() {
        let empty = tempfile::tempdir().unwrap();
        let err = Binaries::find_in(Some(empty.path().as_os_str()), empty.path()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::NotInstalled));
        assert!(
            message.contains("install it") && message.contains("DATABASE_URL"),
            "{message}"
        );
        assert_eq!(message.lines().count(), 1);
    }

    #[test]
    fn the_highest_debian_version_is_preferred_after_path() {
        let root = tempfile::tempdir().unwrap();
        for v in ["13", "15", "9"] {
            let bin = root.path().join(v).join("bin");
            fs::create_dir_all(&bin).unwrap();
            fs::write(bin.join("initdb"), "").unwrap();
            fs::write(bin.join("postgres"), "").unwrap();
        }
        let found = Binaries::find_in(None, root.path()).unwrap();
        assert_eq!(found.dir, root.path().join("15/bin"));
    }

    #[test]
    fn a_cluster_starts_is_reused_and_stops() {
        let dir = tempfile::Builder::new()
            .prefix("pg-embedded-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let first = Cluster::start_or_reuse(dir.path(), &Options::ephemeral()).unwrap();
        assert!(first.owned());
        let second = Cluster::start_or_reuse(dir.path(), &Options::default()).unwrap();
        assert!(!second.owned(), "a running cluster is joined, not started twice");
        assert_eq!(first.port(), second.port());
        assert_eq!(first.url("x"), second.url("x"));
        drop(second);
        assert!(
            running_port(&dir.path().join("postgres")).is_some(),
            "a joined handle never stops the server"
        );
        first.stop().unwrap();
        assert!(running_port(&dir.path().join("postgres")).is_none());
    }
}
