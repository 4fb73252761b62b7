//! A small harness for `tests/replication.rs`: PostgreSQL servers (Debian's
//! `postgresql` package) on free loopback ports in temporary directories,
//! and palgen's generated shell scripts run against them.
//!
//! - Everything runs as the `postgres` OS user when the tests run as root
//!   (as in CI): the server refuses root, and the generated pg_hba.conf
//!   admits the local socket by `peer`, so only the OS user `postgres` may
//!   connect there as the role `postgres` (which the generated init and
//!   readiness scripts do). The switch is what `runuser -u postgres --`
//!   does (setgid, setgroups(0), setuid), done by `std::process` so that the
//!   server is our direct child and its guard can stop it by its pid.
//! - Every server is stopped when its guard is dropped, also when a test
//!   fails; every wait is bounded ([`WAIT`]) and its failure message carries
//!   the servers' logs.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The longest any wait of these tests may take.
pub const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout and stderr of a finished program, for failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

// ---------------------------------------------------------------------------
// The PostgreSQL programs.

pub struct PgInstall {
    pub bin: PathBuf,
    pub major: u32,
}

/// The newest PostgreSQL under /usr/lib/postgresql (the Debian layout).
pub fn pg_install() -> &'static PgInstall {
    static INSTALL: OnceLock<PgInstall> = OnceLock::new();
    INSTALL.get_or_init(|| {
        let missing = "no PostgreSQL server under /usr/lib/postgresql/<major>/bin: install \
                       the Debian packages `postgresql` and `postgresql-contrib` \
                       (./scripts/test.sh does)";
        let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .expect(missing)
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let major = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("postgres").is_file().then_some((major, bin))
            })
            .collect();
        found.sort();
        let (major, bin) = found.pop().expect(missing);
        PgInstall { bin, major }
    })
}

pub fn pg_program(name: &str) -> PathBuf {
    let path = pg_install().bin.join(name);
    assert!(
        path.is_file(),
        "{} is missing: install the Debian package `postgresql`",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------
// The OS user the servers and scripts run as.

#[derive(Clone, Copy)]
struct ServiceUser {
    uid: u32,
    gid: u32,
}

/// As root: the `postgres` system user. As `postgres`: nobody to switch to.
/// As anyone else the generated `local all all peer` cannot let the scripts
/// in as the role `postgres`, so the tests refuse to run.
fn service_user() -> Option<ServiceUser> {
    static USER: OnceLock<Option<ServiceUser>> = OnceLock::new();
    *USER.get_or_init(|| {
        let passwd = fs::read_to_string("/etc/passwd").expect("/etc/passwd is readable");
        let postgres = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() > 3 && fields[0] == "postgres")
            .map(|fields| ServiceUser {
                uid: fields[2].parse().expect("numeric uid"),
                gid: fields[3].parse().expect("numeric gid"),
            })
            .expect(
                "there is no `postgres` OS user to run the servers as: install the Debian \
                 package `postgresql`",
            );
        let euid = fs::metadata("/proc/self")
            .expect("/proc/self is readable")
            .uid();
        match euid {
            0 => Some(postgres),
            uid if uid == postgres.uid => None,
            uid => panic!(
                "these tests run as uid {uid}: they must run as root (they switch to the OS \
                 user `postgres`) or as `postgres`, because the generated pg_hba.conf admits \
                 the local socket by `peer` and the generated scripts connect there as the \
                 role `postgres`"
            ),
        }
    })
}

/// `program` as the service user, in `dir`, with a clean environment: PATH
/// starts with the PostgreSQL programs (as in the image), HOME is the test's
/// own directory (no ~/.pgpass of the machine), no PG* variable leaks in.
pub fn service_command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                pg_install().bin.display()
            ),
        )
        .env("HOME", dir)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null());
    if let Some(user) = service_user() {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()))
}

/// Runs a command that must succeed; its stdout.
pub fn run_ok(what: &str, command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{what} failed: {}",
        describe(&output)
    );
    text(&output.stdout)
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
// A temporary directory the service user owns.

pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("palgen-replication-")
            .tempdir()
            .expect("temporary directory");
        let sandbox = Sandbox { dir };
        sandbox.hand_over(sandbox.path(), 0o700);
        sandbox
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

    /// A directory of the sandbox, private to the service user.
    pub fn mkdir(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        self.hand_over(&path, 0o700);
        path
    }

    /// A file of the sandbox, private to the service user.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.hand_over(&path, 0o600);
        path
    }

    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        service_command(program, self.path())
    }

    /// `sh script` (a generated script copied into the sandbox), with `env`.
    pub fn sh(&self, script: &Path, env: &[(&str, String)]) -> Output {
        run(self
            .command("sh")
            .arg(script)
            .envs(env.iter().map(|(name, value)| (name, value))))
    }
}

// ---------------------------------------------------------------------------
// A running PostgreSQL server.

/// What a server needs: its data directory, the configuration file it is
/// started with, and the four parameters the tests override on the command
/// line (`port`, `listen_addresses`, `unix_socket_directories`, `hba_file`;
/// see [`Server::start`]).
pub struct ServerSpec<'a> {
    pub name: &'a str,
    pub data: &'a Path,
    pub config: &'a Path,
    pub hba: &'a Path,
    pub sockets: &'a Path,
    pub port: u16,
}

pub struct Server {
    name: String,
    child: Child,
    log: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    port: u16,
    dir: PathBuf,
}

impl Server {
    /// `postgres -D data -c config_file=<generated postgresql.conf>` plus the
    /// only overrides a test on a shared machine needs:
    /// - `port`: a free port, so that servers of parallel tests (and any on
    ///   the machine) do not collide; the file says 5432, as in the pod;
    /// - `listen_addresses = 127.0.0.1`: loopback only; the file says `*`,
    ///   right in a pod, not on a test machine;
    /// - `unix_socket_directories`: a directory of the test; the file's
    ///   `/var/run/postgresql` is the pod's emptyDir (not writable by the
    ///   `postgres` user here, and shared between servers);
    /// - `hba_file`: the copy of the generated pg_hba.conf; the file's
    ///   `/etc/postgresql/config/pg_hba.conf` is where the pod mounts it.
    ///
    /// Waits (bounded) until the server accepts connections on its socket.
    pub fn start(spec: &ServerSpec, dir: &Path) -> Server {
        let log = dir.join(format!("{}.log", spec.name));
        let file = fs::File::create(&log).expect("create log file");
        let child = service_command(pg_program("postgres"), dir)
            .arg("-D")
            .arg(spec.data)
            .arg("-c")
            .arg(format!("config_file={}", spec.config.display()))
            .arg("-c")
            .arg(format!("port={}", spec.port))
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                spec.sockets.display()
            ))
            .arg("-c")
            .arg(format!("hba_file={}", spec.hba.display()))
            .stdout(file.try_clone().expect("clone log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres ({}): {e}", spec.name));
        let mut server = Server {
            name: spec.name.to_owned(),
            child,
            log,
            data: spec.data.to_owned(),
            sockets: spec.sockets.to_owned(),
            port: spec.port,
            dir: dir.to_owned(),
        };
        let ready = wait_until(WAIT, || {
            if let Some(status) = server.child.try_wait().expect("child status") {
                return Ok(Err(format!("postgres exited ({status})")));
            }
            let output = run(service_command(pg_program("pg_isready"), dir)
                .arg("--host")
                .arg(&server.sockets)
                .args(["--port", &server.port.to_string(), "--timeout", "5"]));
            if output.status.success() {
                Ok(Ok(()))
            } else {
                Err(format!("pg_isready: {}", describe(&output)))
            }
        });
        match ready {
            Ok(Ok(())) => server,
            Ok(Err(why)) | Err(why) => panic!(
                "{} did not come up: {why}\n--- its log\n{}",
                server.name,
                server.log()
            ),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn sockets(&self) -> &Path {
        &self.sockets
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    pub fn log(&self) -> String {
        format!(
            "[{} log {}]\n{}",
            self.name,
            self.log.display(),
            fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// SQL as the role `postgres` over the local socket (peer, as the
    /// generated pg_hba.conf has it); Err carries psql's message.
    pub fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        psql(
            &self.dir,
            &self.sockets.to_string_lossy(),
            self.port,
            "postgres",
            None,
            database,
            sql,
        )
    }

    /// As [`Server::try_sql`]; an error fails the test with the log.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        self.try_sql(database, sql)
            .unwrap_or_else(|error| panic!("{error}\n{}", self.log()))
    }

    /// SQL over TCP on 127.0.0.1 with a password (scram-sha-256).
    pub fn sql_as(
        &self,
        user: &str,
        password: &str,
        database: &str,
        sql: &str,
    ) -> Result<String, String> {
        psql(
            &self.dir,
            "127.0.0.1",
            self.port,
            user,
            Some(password),
            database,
            sql,
        )
    }

    fn pg_ctl_stop(&self, mode: &str) -> Output {
        run(service_command(pg_program("pg_ctl"), &self.dir)
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "30"]))
    }

    /// Clean shutdown (`pg_ctl stop -m fast`), waited for.
    pub fn stop(mut self) {
        let output = self.pg_ctl_stop("fast");
        assert!(
            output.status.success(),
            "pg_ctl stop ({}): {}\n{}",
            self.name,
            describe(&output),
            self.log()
        );
        let status = wait_until(WAIT, || {
            self.child
                .try_wait()
                .expect("child status")
                .ok_or_else(|| "still running".to_owned())
        })
        .unwrap_or_else(|why| panic!("{} did not exit: {why}\n{}", self.name, self.log()));
        assert!(
            status.success(),
            "{} exited {status}\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.pg_ctl_stop("immediate");
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// `psql` (unaligned, tuples only, stop on the first error, never prompt);
/// Ok(stdout) or Err(what failed, with psql's message).
pub fn psql(
    dir: &Path,
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    database: &str,
    sql: &str,
) -> Result<String, String> {
    let mut command = service_command(pg_program("psql"), dir);
    command
        .args(["--no-psqlrc", "--no-align", "--tuples-only", "--quiet"])
        .args(["--set", "ON_ERROR_STOP=1", "--no-password"])
        .args(["--host", host, "--port", &port.to_string()])
        .args(["--username", user, "--dbname", database, "--command", sql]);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = run(&mut command);
    if output.status.success() {
        Ok(text(&output.stdout).trim_end_matches('\n').to_owned())
    } else {
        Err(format!(
            "psql -h {host} -p {port} -U {user} -d {database} -c {sql:?}: {}",
            describe(&output)
        ))
    }
}
