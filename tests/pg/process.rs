//! The programs (found where the Debian packages put them), the OS user they
//! run as, the sandboxes they run in, and the guards of long-running ones.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::{stderr, stdout};

/// The longest any wait may take: a server coming up, a replica catching
/// up, a metric appearing.
pub const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------
// The programs. A missing one fails the test and names the package: the test
// command installs them all.

/// One installation of PostgreSQL's programs: Debian's (server and
/// clients, [`postgres_install`]) or one that brings only the server
/// programs (initdb, pg_ctl, postgres) and runs with Debian's clients.
pub struct PostgresInstall {
    pub bin: PathBuf,
    pub major: u32,
    /// `postgres --version`.
    pub version: String,
}

/// The newest PostgreSQL under /usr/lib/postgresql (the Debian layout), with
/// the extensions the generated init script creates.
pub fn postgres_install() -> &'static PostgresInstall {
    static INSTALL: OnceLock<PostgresInstall> = OnceLock::new();
    INSTALL.get_or_init(|| {
        let missing = "PostgreSQL server programs not found under /usr/lib/postgresql/<major>/bin: \
                       install the Debian packages `postgresql` and `postgresql-contrib` \
                       (./scripts/test.sh does)";
        let mut majors: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .expect(missing)
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let major = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("postgres").is_file().then_some((major, bin))
            })
            .collect();
        majors.sort();
        let (major, bin) = majors.pop().expect(missing);
        let output = Command::new(bin.join("postgres"))
            .arg("--version")
            .output()
            .expect("postgres --version runs");
        let version = stdout(&output).trim().to_owned();
        let sharedir = Command::new(bin.join("pg_config"))
            .arg("--sharedir")
            .output()
            .expect("pg_config runs");
        let extensions = PathBuf::from(stdout(&sharedir).trim()).join("extension");
        for extension in ["uuid-ossp", "pgcrypto"] {
            assert!(
                extensions.join(format!("{extension}.control")).is_file(),
                "the PostgreSQL extension {extension} is not installed in {}: install the \
                 Debian package `postgresql-contrib` (./scripts/test.sh does)",
                extensions.display()
            );
        }
        PostgresInstall {
            bin,
            major,
            version,
        }
    })
}

/// A PostgreSQL program (server or client) of the newest installed major.
pub fn pg_program(name: &str) -> PathBuf {
    let path = postgres_install().bin.join(name);
    assert!(
        path.is_file(),
        "{} is missing: install the Debian packages `postgresql` and `postgresql-contrib`",
        path.display()
    );
    path
}

/// The major version of the PostgreSQL server the tests run.
pub fn server_major() -> u32 {
    postgres_install().major
}

/// `postgres --version` of the server the tests run.
pub fn server_version() -> &'static str {
    &postgres_install().version
}

/// A program installed by a Debian package, looked up on PATH and in the
/// directories the package uses (sbin is not on every user's PATH).
pub fn debian_program(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: install the Debian package `{package}` \
                 (./scripts/test.sh does)"
            )
        })
}

/// The first line a program prints for `--version` (on stdout or stderr).
pub fn program_version(program: &Path) -> String {
    let output = Command::new(program)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{} --version: {e}", program.display()));
    format!("{}{}", stdout(&output), stderr(&output))
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------
// The OS user the programs run as.

#[derive(Clone, Copy)]
struct OsUser {
    uid: u32,
    gid: u32,
}

/// The `postgres` system user the Debian package creates, if there is one.
fn postgres_os_user() -> Option<OsUser> {
    static USER: OnceLock<Option<OsUser>> = OnceLock::new();
    *USER.get_or_init(|| {
        let passwd = fs::read_to_string("/etc/passwd").expect("/etc/passwd is readable");
        passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() > 3 && fields[0] == "postgres")
            .map(|fields| OsUser {
                uid: fields[2].parse().expect("numeric uid"),
                gid: fields[3].parse().expect("numeric gid"),
            })
    })
}

/// The effective uid of the tests.
fn euid() -> u32 {
    static EUID: OnceLock<u32> = OnceLock::new();
    *EUID.get_or_init(|| {
        fs::metadata("/proc/self")
            .expect("/proc/self is readable")
            .uid()
    })
}

/// The user the programs are switched to: as root, the `postgres` system
/// user (PostgreSQL and PgBouncer refuse root); `None` when the tests
/// already run unprivileged.
fn service_user() -> Option<OsUser> {
    (euid() == 0).then(|| {
        postgres_os_user().unwrap_or_else(|| {
            panic!(
                "running as root, but there is no `postgres` system user to run the servers \
                 as: install the Debian package `postgresql`"
            )
        })
    })
}

/// Whether the programs run as the OS user `postgres` (switched to as root,
/// or the tests' own user), so that the generated `local ... peer` lines of
/// pg_hba.conf admit them as the role `postgres`.
pub fn peer_admits_postgres() -> bool {
    service_user().is_some() || postgres_os_user().is_some_and(|user| user.uid == euid())
}

/// For tests that must run the generated pg_hba.conf as it is: fails unless
/// [`peer_admits_postgres`].
pub fn require_peer_admits_postgres() {
    assert!(
        peer_admits_postgres(),
        "these tests run as uid {}: they must run as root (they switch to the OS user \
         `postgres`, which the Debian package `postgresql` creates) or as `postgres`, because \
         the generated pg_hba.conf admits the local socket by `peer` and the generated scripts \
         connect there as the role `postgres`",
        euid()
    );
}

// ---------------------------------------------------------------------------
// A temporary directory the service user owns, and commands that run in it.

/// Cloning shares the directory: it goes when the last clone does, so that a
/// [`Server`](super::Server) holding one never outlives its files.
#[derive(Clone)]
pub struct Sandbox {
    dir: Rc<tempfile::TempDir>,
    /// Whose server programs its commands run (clients are Debian's when
    /// the installation has none).
    install: &'static PostgresInstall,
}

impl Sandbox {
    /// A sandbox whose PostgreSQL is Debian's ([`postgres_install`]).
    pub fn new() -> Sandbox {
        Sandbox::with_install(postgres_install())
    }

    /// A sandbox whose PostgreSQL programs are those of `install`.
    pub fn with_install(install: &'static PostgresInstall) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("palgen-pg-")
            .tempdir()
            .expect("temporary directory");
        let sandbox = Sandbox {
            dir: Rc::new(dir),
            install,
        };
        sandbox.hand_over(sandbox.path(), 0o700);
        sandbox
    }

    pub fn install(&self) -> &'static PostgresInstall {
        self.install
    }

    /// A PostgreSQL program of the sandbox's installation, else Debian's
    /// (the clients: psql, pg_isready, pg_basebackup).
    pub fn program(&self, name: &str) -> PathBuf {
        let own = self.install.bin.join(name);
        if own.is_file() { own } else { pg_program(name) }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn hand_over(&self, path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        if let Some(user) = service_user() {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    /// A directory of the sandbox (created if needed; its parent is not
    /// handed over), owned by the service user and private to it.
    pub fn dir(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        self.hand_over(&path, 0o700);
        path
    }

    /// Writes a file the service user owns and alone may read.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.hand_over(&path, 0o600);
        path
    }

    /// Writes a file as the kubelet mounts a Secret's key for a pod with an
    /// fsGroup: owned by root, group the pod's (here the service user's),
    /// with the volume's `mode`. Run unprivileged, the tests cannot give a
    /// file to root: then it is their own user's, mode 0600 (PostgreSQL's
    /// rule for a key the server's user owns).
    pub fn write_as_secret(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        let mode = match service_user() {
            Some(user) => {
                std::os::unix::fs::chown(&path, Some(0), Some(user.gid))
                    .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
                mode
            }
            None => 0o600,
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        path
    }

    /// Whether [`Sandbox::write_as_secret`] writes files as the pod has them.
    pub fn secrets_as_in_the_pod() -> bool {
        service_user().is_some()
    }

    /// A command that runs as the service user in the sandbox, with a clean
    /// environment: PATH starts with the PostgreSQL programs (as in the
    /// image), HOME is the sandbox (no ~/.pgpass of the machine), and no PG*
    /// variable of the caller leaks in.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", self.search_path())
            .env("HOME", self.path())
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null());
        if let Some(user) = service_user() {
            command.uid(user.uid).gid(user.gid);
        }
        command
    }

    /// The sandbox's server programs first, then Debian's PostgreSQL (its
    /// clients), then the system's.
    fn search_path(&self) -> String {
        let mut dirs = vec![self.install.bin.as_path()];
        let debian = postgres_install().bin.as_path();
        if debian != dirs[0] {
            dirs.push(debian);
        }
        dirs.iter()
            .map(|dir| dir.display().to_string())
            .chain(["/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_owned()])
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `sh script args...` with `env`, as a container's command runs one of
    /// palgen's generated shell scripts.
    pub fn sh<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        &self,
        script: &Path,
        args: &[&str],
        env: &[(K, V)],
    ) -> Output {
        run(self
            .command("sh")
            .arg(script)
            .args(args)
            .envs(env.iter().map(|(name, value)| (name, value))))
    }

    /// Writes a generated shell script into the sandbox and runs it with
    /// [`Sandbox::sh`].
    pub fn run_script(
        &self,
        name: &str,
        script: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let path = self.write(name, script);
        self.sh(&path, args, env)
    }

    /// Sources a script the way the postgres image's entrypoint sources the
    /// `.sh` files of /docker-entrypoint-initdb.d: in bash, under
    /// `set -Eeo pipefail`, so that a failing command fails the start.
    pub fn source_script(&self, name: &str, script: &str, env: &[(&str, &str)]) -> Output {
        let path = self.write(name, script);
        run(self
            .command("bash")
            .args(["-c", r#"set -Eeo pipefail; . "$1""#, "docker-entrypoint.sh"])
            .arg(path)
            .envs(env.iter().copied()))
    }
}

// ---------------------------------------------------------------------------
// Running and waiting.

/// Runs a command to completion; a program that cannot start fails the test.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()))
}

/// Runs a command that must succeed, and returns its stdout.
pub fn run_ok(what: &str, command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{what} failed: {}",
        describe(&output)
    );
    stdout(&output)
}

/// The status, stdout and stderr of a finished program, for failure
/// messages (lossy: a message must not fail on bytes that are not UTF-8).
pub fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Ok when the program exited 0, else Err(`what`, its status and output):
/// a step of a bounded wait ([`wait_until`]).
pub fn exit_ok(what: &str, output: &Output) -> Result<(), String> {
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {}", describe(output)))
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Tries `attempt` until it returns Ok, for at most `limit`; Err(the last
/// reason it gave) when time runs out.
pub fn wait_until<T>(
    limit: Duration,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(reason) if Instant::now() >= deadline => {
                return Err(format!("still not so after {limit:?}: {reason}"));
            }
            Err(_) => sleep(POLL),
        }
    }
}

// ---------------------------------------------------------------------------
// A long-running program, killed when dropped.

pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `command` with stdout and stderr going to `<name>.log` in the
    /// sandbox.
    pub fn spawn(sandbox: &Sandbox, name: &str, command: &mut Command) -> Daemon {
        let log = sandbox.path().join(format!("{name}.log"));
        let file = fs::File::create(&log).expect("create log file");
        let child = command
            .stdout(file.try_clone().expect("clone log file handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({:?}): {e}", command.get_program()));
        Daemon {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until `ready` returns Ok; fails the test, with the log and the
    /// last reason `ready` gave, when the program exits first or the wait
    /// times out.
    pub fn wait_until_ready(&mut self, ready: impl FnMut() -> Result<(), String>) {
        if let Err(error) = self.wait_ready(ready) {
            panic!("{error}");
        }
    }

    /// [`Daemon::wait_until_ready`], returning the failure.
    pub fn wait_ready(
        &mut self,
        mut ready: impl FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let child = &mut self.child;
        let waited = wait_until(WAIT, || {
            match child.try_wait().expect("query child status") {
                Some(status) => Ok(Some(status)),
                None => ready().map(|()| None),
            }
        });
        match waited {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}) before it was ready; its log:\n{}",
                self.name,
                self.log()
            )),
            Err(why) => Err(format!(
                "{} was not ready: {why}\n--- its log:\n{}",
                self.name,
                self.log()
            )),
        }
    }

    /// Waits for the program to exit by itself.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let child = &mut self.child;
        wait_until(WAIT, || {
            child
                .try_wait()
                .expect("query child status")
                .ok_or_else(|| "still running".to_owned())
        })
        .unwrap_or_else(|why| {
            panic!(
                "{} did not exit: {why}; its log:\n{}",
                self.name,
                self.log()
            )
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// HTTP, for the exporter's metrics.

/// `GET path` over HTTP/1.0 (no chunked encoding); the body on status 200.
pub fn http_get(port: u16, path: &str) -> Result<String, String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {response:?}"))?;
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        Ok(body.to_owned())
    } else {
        Err(head.to_owned())
    }
}
