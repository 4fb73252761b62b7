//! PostgreSQL servers in sandboxes: `initdb`, a server started with a
//! generated configuration and stopped by its guard, `psql`, and
//! [`TempCluster`], one server with a profile's generated files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use crate::common::{stderr, stdout};

use super::{
    APP_PASSWORD, Daemon, EXPORTER_PASSWORD, Generated, POSTGRES_PASSWORD, PgSetting,
    PostgresInstall, REPLICATION_PASSWORD, Sandbox, ServerFiles, TlsFiles, conf_for_server,
    describe, exit_ok, free_port, parse_conf, peer_admits_postgres, postgres_install, run, run_ok,
    write_tls,
};

/// The database Service's name, as the backup job's `PGHOST` has it.
pub const SERVICE_HOST: &str = "postgres";

/// Writes the Secret's keys into the directory `credentials` of the sandbox,
/// as a Secret mounts them: one file a key, the bare value, no newline.
/// Returns the directory.
pub fn write_credentials(sandbox: &Sandbox) -> PathBuf {
    let credentials = sandbox.dir("credentials");
    for (key, password) in [
        ("postgres-password", POSTGRES_PASSWORD),
        ("app-password", APP_PASSWORD),
        ("exporter-password", EXPORTER_PASSWORD),
        ("replication-password", REPLICATION_PASSWORD),
    ] {
        sandbox.write(&format!("credentials/{key}"), password);
    }
    credentials
}

/// `initdb` of a fresh cluster in `data`: superuser `postgres` with the
/// password of the credentials directory. The data directory's own
/// pg_hba.conf rejects everyone: the servers run with the generated one
/// (`hba_file`, see [`Server::start`]).
pub fn initdb(sandbox: &Sandbox, data: &Path, credentials: &Path) {
    run_ok(
        "initdb",
        sandbox
            .command(sandbox.program("initdb"))
            .arg("--pgdata")
            .arg(data)
            .args(["--username=postgres", "--encoding=UTF8", "--no-locale"])
            .args(["--auth=reject", "--no-sync"])
            .arg("--pwfile")
            .arg(credentials.join("postgres-password")),
    );
}

/// The generated pg_hba.conf as the test server can use it. Its `local`
/// lines use `peer`, which admits the OS user of the same name as the role:
/// in the pod, and here when the tests run as root (or as `postgres`), the
/// server and its clients run as the OS user `postgres`. Run as any other
/// user, the tests replace `peer` by `trust` on those lines (the socket is
/// private to the sandbox either way).
pub fn hba_for_test(generated: &str) -> String {
    if peer_admits_postgres() {
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

/// `pg_isready` with the given arguments against a port of loopback (or of
/// the socket directory `--host` names).
pub fn pg_isready(sandbox: &Sandbox, port: u16, args: &[&str]) -> Output {
    let mut command = sandbox.command(sandbox.program("pg_isready"));
    command
        .args(args)
        .args(["--port", &port.to_string(), "--timeout", "5"]);
    run(&mut command)
}

/// `psql` (unaligned, tuples only, stop on the first error, never prompt),
/// with a password through `PGPASSWORD`; Ok(stdout) or Err(what failed, with
/// psql's message).
pub fn psql(
    sandbox: &Sandbox,
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    database: &str,
    sql: &str,
) -> Result<String, String> {
    let mut command = sandbox.command(sandbox.program("psql"));
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
            "psql -h {host} -p {port} -U {user} -d {database} -c {sql:?}: {}",
            describe(&output)
        ))
    }
}

// ---------------------------------------------------------------------------
// A running PostgreSQL server.

/// What a server needs: its data directory, the configuration files it is
/// started with, and the directory of its Unix socket (see
/// [`Server::start`]).
pub struct ServerSpec<'a> {
    /// Names its log, `<name>.log` in the sandbox.
    pub name: &'a str,
    pub data: &'a Path,
    pub config: &'a Path,
    pub hba: &'a Path,
    pub sockets: &'a Path,
    /// The certificate and key in place of the pod's TLS mount.
    pub tls: &'a TlsFiles,
    /// The server's environment: libpq settings of its WAL receiver.
    pub env: &'a [(&'a str, &'a str)],
}

/// A running server; dropping it stops it (`pg_ctl stop -m immediate`, then
/// a kill of what is left), also when a test fails.
pub struct Server {
    daemon: Daemon,
    data: PathBuf,
    sockets: PathBuf,
    port: u16,
    /// Keeps the sandbox (and the server's files) until the server is gone.
    sandbox: Sandbox,
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
    ///   `/etc/postgresql/config/pg_hba.conf` is where the pod mounts it;
    /// - `ssl_cert_file`, `ssl_key_file`: the test's certificate and key
    ///   ([`TlsFiles`]), where the file names the pod's TLS mount.
    ///
    /// Waits (bounded) until the server accepts connections on its socket.
    pub fn start(sandbox: &Sandbox, spec: &ServerSpec) -> Server {
        let sockets = spec.sockets.to_string_lossy().into_owned();
        // The port was free when it was picked; a client of another test
        // may have taken it since. Then the server cannot bind: another port.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut server = Server::launch(sandbox, spec, free_port());
            let port = server.port;
            let ready = server.daemon.wait_ready(|| {
                exit_ok(
                    "pg_isready",
                    &pg_isready(sandbox, port, &["--host", &sockets]),
                )
            });
            match ready {
                Ok(()) => return server,
                Err(_) if attempt < 3 && server.daemon.log().contains("Address already in use") => {
                }
                Err(error) => panic!("{error}"),
            }
        }
    }

    /// [`Server::start`] on a given port, without waiting for anything.
    pub fn launch(sandbox: &Sandbox, spec: &ServerSpec, port: u16) -> Server {
        let sockets = spec.sockets.to_string_lossy().into_owned();
        let daemon = Daemon::spawn(
            sandbox,
            spec.name,
            sandbox
                .command(sandbox.program("postgres"))
                .arg("-D")
                .arg(spec.data)
                .arg("-c")
                .arg(format!("config_file={}", spec.config.display()))
                .arg("-c")
                .arg(format!("port={port}"))
                .args(["-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={sockets}"))
                .arg("-c")
                .arg(format!("hba_file={}", spec.hba.display()))
                .arg("-c")
                .arg(format!("ssl_cert_file={}", spec.tls.cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", spec.tls.key.display()))
                .envs(spec.env.iter().copied()),
        );
        Server {
            daemon,
            data: spec.data.to_owned(),
            sockets: spec.sockets.to_owned(),
            port,
            sandbox: sandbox.clone(),
        }
    }

    /// The pid of the postmaster's child whose process title starts with
    /// `title` (`postgres: startup` is the process that replays WAL).
    pub fn child_pid(&self, title: &str) -> Option<u32> {
        let postmaster = self.daemon.pid();
        let entries = std::fs::read_dir("/proc").expect("/proc is readable");
        entries.filter_map(Result::ok).find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, not ')'.
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            (ppid == postmaster && String::from_utf8_lossy(&cmdline).starts_with(title))
                .then_some(pid)
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's Unix socket.
    pub fn sockets(&self) -> &Path {
        &self.sockets
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The server's log so far, under a line that names it.
    pub fn log(&self) -> String {
        format!(
            "[{} log {}]\n{}",
            self.daemon.name(),
            self.daemon.log_path().display(),
            self.daemon.log()
        )
    }

    /// SQL as the role `postgres` over the local socket (`peer`, as the
    /// generated pg_hba.conf has it and as in the pod); Err carries psql's
    /// message.
    pub fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        psql(
            &self.sandbox,
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
            &self.sandbox,
            "127.0.0.1",
            self.port,
            user,
            Some(password),
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
        self.sql("postgres", &sql)
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

    fn pg_ctl_stop(&self, mode: &str) -> Command {
        let mut command = self.sandbox.command(self.sandbox.program("pg_ctl"));
        command
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "30"]);
        command
    }

    /// A crash: `pg_ctl stop -m immediate` ends every process without a
    /// checkpoint, so the next start replays the WAL since the last one.
    pub fn crash(mut self) {
        run_ok(
            "pg_ctl stop -m immediate",
            &mut self.pg_ctl_stop("immediate"),
        );
        self.daemon.wait_for_exit();
    }

    /// Clean shutdown (`pg_ctl stop -m fast`), waited for.
    pub fn stop(mut self) {
        let output = run(&mut self.pg_ctl_stop("fast"));
        assert!(
            output.status.success(),
            "pg_ctl stop ({}): {}\n{}",
            self.daemon.name(),
            describe(&output),
            self.log()
        );
        let status = self.daemon.wait_for_exit();
        assert!(
            status.success(),
            "{} exited {status}\n{}",
            self.daemon.name(),
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.daemon.is_running() {
            // No panic here: this may run while a failing test unwinds.
            let _ = self.pg_ctl_stop("immediate").output();
        }
        // The Daemon's own drop kills what is left and reaps it.
    }
}

// ---------------------------------------------------------------------------
// One PostgreSQL cluster in a sandbox, with a profile's generated files.

/// The test's copy of the generated pg_hba.conf, in the sandbox.
const HBA_FILE: &str = "pg_hba.conf";

pub struct TempCluster {
    server: Option<Server>,
    data: PathBuf,
    sockets: PathBuf,
    credentials: PathBuf,
    config: Option<PathBuf>,
    port: Option<u16>,
    tls: Option<TlsFiles>,
    sandbox: Sandbox,
}

impl TempCluster {
    /// [`initdb`] of a fresh cluster, with the credentials directory of
    /// [`write_credentials`].
    pub fn new() -> TempCluster {
        TempCluster::with_install(postgres_install())
    }

    /// [`TempCluster::new`] with the server programs of `install`.
    pub fn with_install(install: &'static PostgresInstall) -> TempCluster {
        let sandbox = Sandbox::with_install(install);
        let credentials = write_credentials(&sandbox);
        let data = sandbox.path().join("data");
        initdb(&sandbox, &data, &credentials);
        TempCluster {
            server: None,
            data,
            sockets: sandbox.dir("sockets"),
            credentials,
            config: None,
            port: None,
            tls: None,
            sandbox,
        }
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The server's port (also once stopped, to prove it is gone).
    pub fn port(&self) -> u16 {
        self.port.expect("the server was started")
    }

    /// The directory of the server's Unix socket.
    pub fn sockets(&self) -> String {
        self.sockets.to_string_lossy().into_owned()
    }

    pub fn credentials_dir(&self) -> &Path {
        &self.credentials
    }

    /// The server's certificate, key and CA (see [`TempCluster::start`]).
    pub fn tls(&self) -> &TlsFiles {
        self.tls.as_ref().expect("the server was started")
    }

    /// The configuration file the server runs with.
    pub fn config_path(&self) -> &Path {
        self.config.as_deref().expect("the server was started")
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server is running")
    }

    /// The parameters this server rejects in a configuration file (unknown
    /// names, and values of a newer major's form), and its messages.
    /// `postgres -C` reads the file without starting a server; it stops at
    /// the first kind of error, so the rejected lines are commented out and
    /// the file read again until it passes.
    pub fn unrecognised_parameters(&self, text: &str) -> (BTreeSet<String>, String) {
        let mut text = text.to_owned();
        let mut rejected = BTreeSet::new();
        let mut messages = String::new();
        loop {
            let path = self.sandbox.write("postgresql.conf.as-generated", &text);
            let output = run(self
                .sandbox
                .command(self.sandbox.program("postgres"))
                .arg("-D")
                .arg(&self.data)
                .arg("-c")
                .arg(format!("config_file={}", path.display()))
                .args(["-C", "port"]));
            let log = stderr(&output);
            messages.push_str(&log);
            if output.status.success() {
                return (rejected, messages);
            }
            let names: BTreeSet<String> = log
                .lines()
                .filter_map(|line| {
                    line.split("unrecognized configuration parameter \"")
                        .nth(1)
                        .or_else(|| {
                            line.contains("\" requires a Boolean value")
                                .then(|| line.split("parameter \"").nth(1))?
                        })
                })
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned)
                .collect();
            assert!(
                !names.is_empty() && names.is_disjoint(&rejected),
                "postgres -C: {}\n{log}",
                output.status
            );
            let lines: BTreeSet<usize> = parse_conf(&text)
                .into_iter()
                .filter(|entry| names.contains(&entry.name))
                .map(|entry| entry.line)
                .collect();
            text = text
                .lines()
                .enumerate()
                .map(|(index, line)| {
                    if lines.contains(&(index + 1)) {
                        format!("#{line}\n")
                    } else {
                        format!("{line}\n")
                    }
                })
                .collect();
            rejected.extend(names);
        }
    }

    /// Starts the server ([`Server::start`]) with the generated
    /// postgresql.conf (parameters this server predates commented out) and
    /// pg_hba.conf ([`hba_for_test`]), and a certificate for the names of
    /// the generated Certificate ([`write_tls`]). Waits until it accepts
    /// connections.
    pub fn start(&mut self, files: &ServerFiles) {
        let tls = write_tls(&self.sandbox, "tls", &files.certificate);
        self.start_with_tls(files, tls);
    }

    /// [`TempCluster::start`] with TLS files the test laid out itself.
    pub fn start_with_tls(&mut self, files: &ServerFiles, tls: TlsFiles) {
        assert!(self.server.is_none(), "the server is already running");
        let conf = conf_for_server(&files.conf, self.sandbox.install().major);
        let config = self.sandbox.write("postgresql.conf", &conf.text);
        let hba = self.sandbox.write(HBA_FILE, &hba_for_test(&files.hba));
        let server = Server::start(
            &self.sandbox,
            &ServerSpec {
                name: "postgres",
                data: &self.data,
                config: &config,
                hba: &hba,
                sockets: &self.sockets,
                tls: &tls,
                env: &[],
            },
        );
        self.tls = Some(tls);
        self.port = Some(server.port());
        self.server = Some(server);
        self.config = Some(config);
    }

    /// Crashes the server ([`Server::crash`]) and starts it again with the
    /// same files on the same port, without waiting: it replays WAL before
    /// it accepts connections. Returns the restarted server.
    pub fn crash_and_restart(&mut self) -> &Server {
        self.server.take().expect("the server is running").crash();
        let server = Server::launch(
            &self.sandbox,
            &ServerSpec {
                name: "postgres-restarted",
                data: &self.data,
                config: self.config_path(),
                hba: &self.sandbox.path().join(HBA_FILE),
                sockets: &self.sockets,
                tls: self.tls(),
                env: &[],
            },
            self.port(),
        );
        self.server.insert(server)
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
                ("PGHOST", &self.sockets()),
                ("PGPORT", &self.port().to_string()),
                (
                    "POSTGRES_CREDENTIALS_DIR",
                    &self.credentials.to_string_lossy(),
                ),
            ],
        );
        assert!(
            output.status.success(),
            "initdb-paperless.sh failed: {}\n{}",
            describe(&output),
            self.log()
        );
    }

    /// The environment of the generated scripts that connect over TCP, as
    /// the backup job does: the Service's name (as the job's `PGHOST`),
    /// reached on loopback (`PGHOSTADDR`: libpq connects there and verifies
    /// the certificate against the name), the job's TLS settings with the
    /// test CA, port and credentials directory.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", SERVICE_HOST.to_owned()),
            ("PGHOSTADDR", "127.0.0.1".to_owned()),
            ("PGSSLMODE", "verify-full".to_owned()),
            (
                "PGSSLROOTCERT",
                self.tls().ca.to_string_lossy().into_owned(),
            ),
            ("PGPORT", self.port().to_string()),
            (
                "POSTGRES_CREDENTIALS_DIR",
                self.credentials.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// `pg_isready` with the given arguments against this server's port.
    pub fn probe(&self, args: &[&str]) -> ExitStatus {
        pg_isready(&self.sandbox, self.port(), args).status
    }

    /// A query as the superuser over the local socket (`peer`, as in the
    /// pod); unaligned rows, fields separated by `|`. Fails the test on
    /// error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.server().sql(database, sql)
    }

    /// A query over TCP with a password (scram-sha-256).
    pub fn psql_tcp(
        &self,
        user: &str,
        password: &str,
        database: &str,
        sql: &str,
    ) -> Result<String, String> {
        self.server().sql_as(user, password, database, sql)
    }

    /// pg_settings rows of the named parameters ([`Server::settings`]).
    pub fn settings(&self, names: &[&str]) -> BTreeMap<String, PgSetting> {
        self.server().settings(names)
    }

    /// `SHOW name`, as a client sees it.
    pub fn show(&self, name: &str) -> String {
        self.psql("postgres", &format!("SHOW {name}"))
    }

    /// The server's log so far (empty when it is not running).
    pub fn log(&self) -> String {
        self.server.as_ref().map(Server::log).unwrap_or_default()
    }

    /// Stops the server cleanly (fast shutdown) and waits for it.
    pub fn stop(&mut self) {
        self.server.take().expect("the server is running").stop();
    }
}
