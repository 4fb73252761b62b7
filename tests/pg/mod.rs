//! A small harness for the tests against the real programs that read
//! palgen's output: Debian's PostgreSQL server and clients, PgBouncer and
//! prometheus-postgres-exporter.
//!
//! Every server runs on a free loopback port, in its own temporary directory
//! ([`Sandbox`]), as an unprivileged user (the `postgres` system user of the
//! Debian package when the tests run as root, which PostgreSQL and PgBouncer
//! refuse), and is stopped when its guard is dropped, also when a test fails.
//! Waits are bounded ([`WAIT`]); failures show the program's log.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{objects_by_identity, palgen, render_all, stderr, stdout};

/// How long a server may take to come up, or a metric to appear.
pub const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// The Secret's keys, as files in the credentials directory. The passwords
/// hold quotes, a backslash, a dollar sign and spaces, so that every script
/// that passes them on must quote them correctly.
pub const POSTGRES_PASSWORD: &str = r#"su'per "user" $HOME \pw"#;
pub const APP_PASSWORD: &str = r#"app 'pass' with "quotes" and \ $PATH"#;
pub const EXPORTER_PASSWORD: &str = "exp0rter:p@ss/w%rd";
pub const REPLICATION_PASSWORD: &str = "repl1cation pass";

// ---------------------------------------------------------------------------
// The programs, found where the Debian packages put them. A missing one fails
// the test and names the package: the test command installs them all.

struct PostgresInstall {
    bin: PathBuf,
    major: u32,
    version: String,
}

fn postgres_install() -> &'static PostgresInstall {
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
// The unprivileged user the programs run as.

#[derive(Clone, Copy)]
struct ServiceUser {
    uid: u32,
    gid: u32,
}

/// `None` when the tests already run as an unprivileged user; as root, the
/// `postgres` system user the Debian package creates.
fn service_user() -> Option<ServiceUser> {
    static USER: OnceLock<Option<ServiceUser>> = OnceLock::new();
    *USER.get_or_init(|| {
        let euid = fs::metadata("/proc/self")
            .expect("/proc/self is readable")
            .uid();
        if euid != 0 {
            return None;
        }
        let passwd = fs::read_to_string("/etc/passwd").expect("/etc/passwd is readable");
        let user = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() > 3 && fields[0] == "postgres")
            .unwrap_or_else(|| {
                panic!(
                    "running as root, but there is no `postgres` system user to run the \
                     servers as: install the Debian package `postgresql`"
                )
            });
        Some(ServiceUser {
            uid: user[2].parse().expect("numeric uid"),
            gid: user[3].parse().expect("numeric gid"),
        })
    })
}

// ---------------------------------------------------------------------------
// A temporary directory the service user owns, and commands that run in it.

pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("palgen-pg-")
            .tempdir()
            .expect("temporary directory");
        let sandbox = Sandbox { dir };
        sandbox.hand_over(sandbox.path());
        sandbox
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn hand_over(&self, path: &Path) {
        if let Some(user) = service_user() {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    /// A directory in the sandbox (created if needed), owned by the service
    /// user and private to it.
    pub fn dir(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::create_dir_all(&path).expect("create directory in sandbox");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod");
        self.hand_over(&path);
        path
    }

    /// Writes a file the service user owns and alone may read.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        self.hand_over(&path);
        path
    }

    /// A command that runs as the service user in the sandbox, with a clean
    /// environment: PATH starts with the PostgreSQL programs (as in the
    /// image), and no PG* variable of the caller leaks in.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.path())
            .env_clear()
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                    postgres_install().bin.display()
                ),
            )
            .env("HOME", self.path())
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null());
        if let Some(user) = service_user() {
            command.uid(user.uid).gid(user.gid);
        }
        command
    }

    /// Runs one of palgen's generated shell scripts with `sh`, as its
    /// container's command does, with the given environment and arguments.
    pub fn run_script(
        &self,
        name: &str,
        script: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let path = self.write(name, script);
        run(self
            .command("sh")
            .arg(path)
            .args(args)
            .envs(env.iter().copied()))
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
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Polls `ready` until it holds, for at most [`WAIT`].
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!("gave up after {WAIT:?} waiting for {what}");
            return false;
        }
        sleep(POLL);
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
        let mut exited = None;
        let mut reason = String::from("not checked yet");
        let finished = wait_for(&self.name, || {
            exited = self.child.try_wait().expect("query child status");
            exited.is_some() || ready().map_err(|why| reason = why).is_ok()
        });
        match exited {
            Some(status) => Err(format!(
                "{} exited ({status}) before it was ready; its log:\n{}",
                self.name,
                self.log()
            )),
            None if !finished => Err(format!(
                "{} was not ready within {WAIT:?}: {reason}\n--- its log:\n{}",
                self.name,
                self.log()
            )),
            None => Ok(()),
        }
    }

    /// Waits for the program to exit by itself.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let mut status = None;
        let exited = wait_for(&format!("{} to exit", self.name), || {
            status = self.child.try_wait().expect("query child status");
            status.is_some()
        });
        assert!(
            exited,
            "{} did not exit within {WAIT:?}; its log:\n{}",
            self.name,
            self.log()
        );
        status.expect("exited")
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
// palgen's output.

/// `palgen render --all` into a temporary directory.
pub struct Generated {
    tree: tempfile::TempDir,
}

impl Generated {
    pub fn render() -> Generated {
        Generated { tree: render_all() }
    }

    /// A file of `base/`.
    pub fn base(&self, name: &str) -> String {
        read(&self.tree.path().join("base").join(name))
    }

    /// A file as the profile sees it: its overlay's copy when the overlay
    /// has one (it holds only what differs from base), else base's.
    pub fn file(&self, profile: &str, name: &str) -> String {
        let overlay = self.tree.path().join("overlays").join(profile).join(name);
        if overlay.exists() {
            read(&overlay)
        } else {
            self.base(name)
        }
    }

    /// What the server of base (the small size) reads.
    pub fn base_server(&self) -> ServerFiles {
        ServerFiles {
            conf: self.base("postgresql.conf"),
            hba: self.base("pg_hba.conf"),
        }
    }

    /// What the server of a profile reads.
    pub fn server(&self, profile: &str) -> ServerFiles {
        ServerFiles {
            conf: self.file(profile, "postgresql.conf"),
            hba: self.file(profile, "pg_hba.conf"),
        }
    }

    /// A file only the profile's overlay has (scripts of optional features).
    pub fn overlay(&self, profile: &str, name: &str) -> String {
        read(&self.tree.path().join("overlays").join(profile).join(name))
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The generated files a PostgreSQL server reads.
pub struct ServerFiles {
    pub conf: String,
    pub hba: String,
}

/// The generated pg_hba.conf as the test server can use it. Its `local`
/// lines use `peer`, which admits the OS user of the same name as the role:
/// in the pod, and here when the tests run as root, the server and its
/// clients run as the OS user `postgres`. Run as any other user, the tests
/// replace `peer` by `trust` on those lines (the socket is private to the
/// sandbox either way).
pub fn hba_for_test(generated: &str) -> String {
    if service_user().is_some() {
        return generated.to_owned();
    }
    generated
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first() == Some(&"local") && fields.last() == Some(&"peer") {
                format!(
                    "{}trust  # test: peer needs the OS user postgres",
                    line.trim_end()
                        .strip_suffix("peer")
                        .expect("ends with peer")
                )
            } else {
                line.to_owned()
            }
        })
        .map(|line| line + "\n")
        .collect()
}

/// The objects of `palgen build --profile NAME`, keyed kind/namespace/name.
pub fn build(profile: &str) -> BTreeMap<String, Value> {
    let output = palgen(&["build", "--profile", profile]);
    assert!(output.status.success(), "palgen build: {}", stderr(&output));
    objects_by_identity(&stdout(&output))
}

/// A container of the StatefulSet `postgres`.
pub fn postgres_container<'a>(objects: &'a BTreeMap<String, Value>, name: &str) -> &'a Value {
    objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|container| container["name"] == name)
        .unwrap_or_else(|| panic!("StatefulSet postgres has no container {name}"))
}

/// A container's literal environment (a value from a Secret or ConfigMap
/// reference fails: the tests could not reproduce it).
pub fn container_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|var| {
            let name = var["name"].as_str().expect("env name").to_owned();
            let value = var["value"]
                .as_str()
                .unwrap_or_else(|| panic!("env {name} has no literal value: {var}"))
                .to_owned();
            (name, value)
        })
        .collect()
}

/// Replaces the one occurrence of `from` in generated text; the tests use it
/// only for host, port and path values that differ outside the cluster.
pub fn substitute(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected exactly one {from:?} in the generated text:\n{text}"
    );
    text.replacen(from, to, 1)
}

// ---------------------------------------------------------------------------
// postgresql.conf as PostgreSQL reads it.

/// One `name = value` line of a postgresql.conf.
#[derive(Debug, Clone)]
pub struct ConfEntry {
    pub name: String,
    /// Without quotes.
    pub value: String,
    /// 1-based, as pg_settings.sourceline counts.
    pub line: usize,
}

/// The settings of a postgresql.conf (only the `name = value` form, which is
/// all palgen writes; anything else fails the test).
pub fn parse_conf(text: &str) -> Vec<ConfEntry> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not `name = value`: {raw}", index + 1));
        let rest = rest.trim();
        let (value, tail) = if let Some(quoted) = rest.strip_prefix('\'') {
            let mut value = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().map(|&(_, next)| next) == Some('\'') {
                        chars.next();
                        value.push('\'');
                    } else {
                        end = Some(at + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            let end = end.unwrap_or_else(|| panic!("line {}: unterminated quote", index + 1));
            (value, &quoted[end..])
        } else {
            let end = rest.find(['#', ' ', '\t']).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        let tail = tail.trim();
        assert!(
            tail.is_empty() || tail.starts_with('#'),
            "line {}: unexpected text after the value: {raw}",
            index + 1
        );
        entries.push(ConfEntry {
            name: name.trim().to_ascii_lowercase(),
            value,
            line: index + 1,
        });
    }
    entries
}

/// Parameters palgen writes only for images of a newer major than the oldest
/// it supports, with the major that introduced them. The tests comment them
/// out when the server they run is older (same line numbers), and prove that
/// they are the only lines that server rejects.
const NEWER_PARAMETERS: [(&str, u32); 1] = [("io_method", 18)];

/// A generated postgresql.conf made fit for the server the tests run.
pub struct ServerConf {
    pub text: String,
    /// Parameters commented out because the server predates them.
    pub held_back: Vec<String>,
}

pub fn conf_for_server(generated: &str, major: u32) -> ServerConf {
    let newer: BTreeMap<&str, u32> = NEWER_PARAMETERS.into_iter().collect();
    let mut held_back = Vec::new();
    let mut text = String::new();
    let entries = parse_conf(generated);
    for (index, line) in generated.lines().enumerate() {
        let entry = entries.iter().find(|entry| entry.line == index + 1);
        match entry.and_then(|entry| Some((entry, newer.get(entry.name.as_str())?))) {
            Some((entry, &since)) if major < since => {
                held_back.push(entry.name.clone());
                text.push_str(&format!(
                    "#{line}  # held back by the test: PostgreSQL {since}+, server is {major}\n"
                ));
            }
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    ServerConf { text, held_back }
}

/// One row of pg_settings.
#[derive(Debug)]
pub struct PgSetting {
    pub name: String,
    pub setting: String,
    pub unit: String,
    pub vartype: String,
    pub source: String,
    pub sourcefile: String,
    pub sourceline: String,
    pub boot_val: String,
}

/// Size of a memory or time unit in bytes or microseconds, with its kind.
fn unit_size(unit: &str) -> Option<(char, f64)> {
    const KB: f64 = 1024.0;
    Some(match unit {
        "B" => ('B', 1.0),
        "kB" => ('B', KB),
        "8kB" => ('B', 8.0 * KB),
        "16MB" => ('B', 16.0 * KB * KB),
        "MB" => ('B', KB * KB),
        "GB" => ('B', KB * KB * KB),
        "TB" => ('B', KB * KB * KB * KB),
        "us" => ('t', 1.0),
        "ms" => ('t', 1e3),
        "s" => ('t', 1e6),
        "min" => ('t', 60e6),
        "h" => ('t', 3600e6),
        "d" => ('t', 86400e6),
        _ => return None,
    })
}

impl PgSetting {
    /// A value as PostgreSQL understands it for this parameter, normalised:
    /// numbers in bytes or microseconds (a number without unit is in the
    /// parameter's unit), booleans as on/off, everything else lower case.
    pub fn normalise(&self, text: &str) -> String {
        let text = text.trim();
        match self.vartype.as_str() {
            "integer" | "real" => {
                let split = text
                    .find(|c: char| c.is_ascii_alphabetic())
                    .unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                let number: f64 = number
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: {text:?} is not a number", self.name));
                let base = if self.unit.is_empty() {
                    assert!(
                        unit.is_empty(),
                        "{}: unexpected unit in {text:?}",
                        self.name
                    );
                    number
                } else {
                    let (kind, own) = unit_size(&self.unit)
                        .unwrap_or_else(|| panic!("{}: unknown unit {}", self.name, self.unit));
                    let (given_kind, given) = if unit.is_empty() {
                        (kind, own)
                    } else {
                        unit_size(unit)
                            .unwrap_or_else(|| panic!("{}: unknown unit in {text:?}", self.name))
                    };
                    assert_eq!(
                        kind, given_kind,
                        "{}: wrong kind of unit in {text:?}",
                        self.name
                    );
                    number * given
                };
                format!("{base}")
            }
            "bool" => match text.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" | "1" => "on".to_owned(),
                "off" | "false" | "no" | "0" => "off".to_owned(),
                other => panic!("{}: {other:?} is not a boolean", self.name),
            },
            _ => text.to_ascii_lowercase(),
        }
    }
}

// ---------------------------------------------------------------------------
// A PostgreSQL cluster in a temporary directory.

pub struct TempCluster {
    server: Option<Daemon>,
    data: PathBuf,
    sockets: PathBuf,
    credentials: PathBuf,
    config: Option<PathBuf>,
    port: u16,
    // Last: the directory goes after the server has stopped.
    sandbox: Sandbox,
}

impl TempCluster {
    /// `initdb` of a fresh cluster: superuser `postgres` with the password of
    /// the credentials directory. The data directory's own pg_hba.conf
    /// rejects everyone: the server runs with the generated one.
    pub fn new() -> TempCluster {
        let sandbox = Sandbox::new();
        let credentials = sandbox.dir("credentials");
        for (key, password) in [
            ("postgres-password", POSTGRES_PASSWORD),
            ("app-password", APP_PASSWORD),
            ("exporter-password", EXPORTER_PASSWORD),
            ("replication-password", REPLICATION_PASSWORD),
        ] {
            sandbox.write(&format!("credentials/{key}"), password);
        }
        let data = sandbox.path().join("data");
        run_ok(
            "initdb",
            sandbox
                .command(pg_program("initdb"))
                .arg("--pgdata")
                .arg(&data)
                .args(["--username=postgres", "--encoding=UTF8", "--no-locale"])
                .args(["--auth=reject", "--no-sync"])
                .arg("--pwfile")
                .arg(credentials.join("postgres-password")),
        );
        TempCluster {
            server: None,
            data,
            sockets: sandbox.dir("sockets"),
            credentials,
            config: None,
            port: free_port(),
            sandbox,
        }
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's Unix socket.
    pub fn sockets(&self) -> String {
        self.sockets.to_string_lossy().into_owned()
    }

    pub fn credentials_dir(&self) -> &Path {
        &self.credentials
    }

    /// The configuration file the server runs with.
    pub fn config_path(&self) -> &Path {
        self.config.as_deref().expect("the server was started")
    }

    /// The parameters this server reports as unrecognised in a configuration
    /// file, and its messages (`postgres -C` reads the file without starting
    /// a server).
    pub fn unrecognised_parameters(&self, text: &str) -> (BTreeSet<String>, String) {
        let path = self.sandbox.write("postgresql.conf.as-generated", text);
        let output = run(self
            .sandbox
            .command(pg_program("postgres"))
            .arg("-D")
            .arg(&self.data)
            .arg("-c")
            .arg(format!("config_file={}", path.display()))
            .args(["-C", "port"]));
        let log = stderr(&output);
        let unrecognised: BTreeSet<String> = log
            .lines()
            .filter_map(|line| line.split("unrecognized configuration parameter \"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect();
        assert_eq!(
            output.status.success(),
            unrecognised.is_empty(),
            "postgres -C: {}\n{log}",
            output.status
        );
        (unrecognised, log)
    }

    /// Starts the server with `-c config_file=<the generated postgresql.conf>`
    /// (parameters this server predates commented out); only the port, the
    /// socket directory, the listen address and the path of the generated
    /// pg_hba.conf are set on the command line. Waits until it accepts
    /// connections.
    pub fn start(&mut self, files: &ServerFiles) {
        assert!(self.server.is_none(), "the server is already running");
        let conf = conf_for_server(&files.conf, server_major());
        let config = self.sandbox.write("postgresql.conf", &conf.text);
        let hba = self.sandbox.write("pg_hba.conf", &hba_for_test(&files.hba));
        // The port was free when it was picked; a client of another test
        // may have taken it since. Then the server cannot bind: another port.
        for attempt in 1.. {
            let mut server = Daemon::spawn(
                &self.sandbox,
                "postgres",
                self.sandbox
                    .command(pg_program("postgres"))
                    .arg("-D")
                    .arg(&self.data)
                    .arg("-c")
                    .arg(format!("config_file={}", config.display()))
                    .arg("-c")
                    .arg(format!("port={}", self.port))
                    .arg("-c")
                    .arg(format!(
                        "unix_socket_directories={}",
                        self.sockets.display()
                    ))
                    .args(["-c", "listen_addresses=127.0.0.1"])
                    .arg("-c")
                    .arg(format!("hba_file={}", hba.display())),
            );
            let sockets = self.sockets.to_string_lossy().into_owned();
            match server.wait_ready(|| {
                let status = self.probe(&["-h", &sockets]);
                status
                    .success()
                    .then_some(())
                    .ok_or_else(|| format!("pg_isready: {status}"))
            }) {
                Ok(()) => {
                    self.server = Some(server);
                    break;
                }
                Err(_) if attempt < 3 && server.log().contains("Address already in use") => {
                    self.port = free_port();
                }
                Err(error) => panic!("{error}"),
            }
        }
        self.config = Some(config);
    }

    /// A fresh cluster, started with a profile's server files, initialised by
    /// the generated `initdb-paperless.sh` as the image's entrypoint would.
    pub fn paperless(generated: &Generated, files: &ServerFiles) -> TempCluster {
        let mut cluster = TempCluster::new();
        cluster.start(files);
        cluster.initialise(&generated.base("initdb-paperless.sh"));
        cluster
    }

    /// Runs the generated init script against the local socket, as the
    /// image's entrypoint does on the first start.
    pub fn initialise(&self, script: &str) {
        let output = self.sandbox.source_script(
            "initdb-paperless.sh",
            script,
            &[
                ("PGHOST", &self.sockets.to_string_lossy()),
                ("PGPORT", &self.port.to_string()),
                (
                    "POSTGRES_CREDENTIALS_DIR",
                    &self.credentials.to_string_lossy(),
                ),
            ],
        );
        assert!(
            output.status.success(),
            "initdb-paperless.sh failed ({}):\n{}{}\n--- server log\n{}",
            output.status,
            stdout(&output),
            stderr(&output),
            self.log()
        );
    }

    /// The environment of the generated scripts that connect over TCP, as
    /// the backup job does: host, port and credentials directory.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", "127.0.0.1".to_owned()),
            ("PGPORT", self.port.to_string()),
            (
                "POSTGRES_CREDENTIALS_DIR",
                self.credentials.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// `pg_isready` with the given arguments against this server's port.
    pub fn probe(&self, args: &[&str]) -> ExitStatus {
        run(self
            .sandbox
            .command(pg_program("pg_isready"))
            .args(args)
            .args(["-p", &self.port.to_string(), "-t", "5"]))
        .status
    }

    /// A query as the superuser over the local socket (`peer`, as in the
    /// pod); unaligned rows, fields separated by `|`. Fails the test on
    /// error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let sockets = self.sockets.to_string_lossy().into_owned();
        self.query(&sockets, "postgres", None, database, sql)
            .unwrap_or_else(|error| panic!("{error}\n--- server log\n{}", self.log()))
    }

    /// A query over TCP with a password (scram-sha-256).
    pub fn psql_tcp(
        &self,
        user: &str,
        password: &str,
        database: &str,
        sql: &str,
    ) -> Result<String, String> {
        self.query("127.0.0.1", user, Some(password), database, sql)
    }

    /// `psql` against this server.
    fn query(
        &self,
        host: &str,
        user: &str,
        password: Option<&str>,
        database: &str,
        sql: &str,
    ) -> Result<String, String> {
        psql(
            &self.sandbox,
            host,
            self.port,
            user,
            password,
            database,
            sql,
        )
    }

    /// pg_settings rows of the named parameters (those the server knows),
    /// keyed by their lower-case names, as postgresql.conf may spell them.
    pub fn settings(&self, names: &[&str]) -> BTreeMap<String, PgSetting> {
        let list = names
            .iter()
            .map(|name| {
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "not a parameter name: {name:?}"
                );
                format!("'{name}'")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT concat_ws(chr(31), lower(name), setting, coalesce(unit, ''), vartype, source, \
             coalesce(sourcefile, ''), coalesce(sourceline::text, ''), coalesce(boot_val, '')) \
             FROM pg_settings WHERE lower(name) IN ({list}) ORDER BY 1"
        );
        self.psql("postgres", &sql)
            .lines()
            .map(|row| {
                let fields: Vec<&str> = row.split('\u{1f}').collect();
                assert_eq!(fields.len(), 8, "pg_settings row {row:?}");
                let setting = PgSetting {
                    name: fields[0].to_owned(),
                    setting: fields[1].to_owned(),
                    unit: fields[2].to_owned(),
                    vartype: fields[3].to_owned(),
                    source: fields[4].to_owned(),
                    sourcefile: fields[5].to_owned(),
                    sourceline: fields[6].to_owned(),
                    boot_val: fields[7].to_owned(),
                };
                (setting.name.clone(), setting)
            })
            .collect()
    }

    /// `SHOW name`, as a client sees it.
    pub fn show(&self, name: &str) -> String {
        self.psql("postgres", &format!("SHOW {name}"))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server.as_ref().map(Daemon::log).unwrap_or_default()
    }

    /// Stops the server cleanly (fast shutdown) and waits for it.
    pub fn stop(&mut self) {
        let mut server = self.server.take().expect("the server is running");
        run_ok("pg_ctl stop", &mut self.pg_ctl_stop("fast"));
        let status = server.wait_for_exit();
        assert!(status.success(), "postgres: {status}\n{}", server.log());
    }

    fn pg_ctl_stop(&self, mode: &str) -> Command {
        let mut command = self.sandbox.command(pg_program("pg_ctl"));
        command
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "30"]);
        command
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            if server.is_running() {
                let _ = run(&mut self.pg_ctl_stop("immediate"));
            }
            // The Daemon's own drop kills what is left.
        }
    }
}

/// `psql` with a password through `PGPASSWORD`, unaligned, tuples only,
/// stopping on the first error; Ok(stdout) or Err(a description).
pub fn psql(
    sandbox: &Sandbox,
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    database: &str,
    sql: &str,
) -> Result<String, String> {
    let mut command = sandbox.command(pg_program("psql"));
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
        Ok(stdout(&output).trim_end_matches('\n').to_owned())
    } else {
        Err(format!(
            "psql -h {host} -p {port} -U {user} -d {database} -c {sql:?}: {}\n{}",
            output.status,
            stderr(&output)
        ))
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
