//! Read replicas, proven with real streaming replication between two
//! PostgreSQL servers (Debian's `postgresql` and `postgresql-contrib`) on
//! loopback: the generated primary configuration, pg_hba.conf and init
//! script; the generated replica bootstrap (pg_basebackup over a slot) and
//! readiness check; and the promotion the README documents.
//!
//! The image is `postgres:18`, whose configuration sets `io_method`, a
//! parameter older servers reject. The tests render the same deployment for
//! the major they run with the documented user-profile mechanism
//! (`extends: aws-large` plus `image: postgres:<major>`), and prove that the
//! configuration they test differs from aws-large's only by that parameter
//! and that every script they run is aws-large's, byte for byte.
//!
//! Each test starts its own servers on free ports in its own temporary
//! directory (see `pg/mod.rs`), so they run in parallel.

mod common;
mod pg;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{palgen_in, stderr, stdout};
use pg::{
    APP_PASSWORD, Generated, POSTGRES_PASSWORD, REPLICATION_PASSWORD, Sandbox, Server, ServerSpec,
    TlsFiles, WAIT, describe, exit_ok, initdb, pg_program, require_peer_admits_postgres, run,
    server_major, wait_until, write_credentials, write_tls,
};

/// The backup job's IAM role (IRSA), as a real deployment sets it.
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/paless-postgres-backup";
/// The pod name of the first replica, and the slot the bootstrap must name
/// after it.
const REPLICA_NAME: &str = "postgres-replica-0";
const SLOT: &str = "postgres_replica_0";

// ---------------------------------------------------------------------------
// The generated files.

/// `palgen render` of aws-large and of a user profile that differs from it
/// only by the image's major (the one of the server the tests run).
struct Rendered {
    generated: Generated,
    profile: String,
}

impl Rendered {
    fn new() -> Rendered {
        let major = server_major();
        let profile = format!("large-pg{major}");
        let generated = Generated::render_profiles(
            &[(
                &profile,
                &format!(
                    "extends: aws-large\nimage: postgres:{major}\nbackup:\n  offsite:\n    role_arn: {ROLE_ARN}\n"
                ),
            )],
            &[&profile, "aws-large"],
        );
        Rendered { generated, profile }
    }

    /// A file as `profile` has it: its overlay's copy when the overlay has
    /// one (overlays hold only what differs from base), else base's.
    fn file(&self, profile: &str, name: &str) -> String {
        self.generated.file(profile, name)
    }

    /// A file of the profile the servers run with.
    fn tested(&self, name: &str) -> String {
        self.file(&self.profile, name)
    }
}

/// A generated file without its header line.
fn below_header(text: &str) -> &str {
    text.split_once('\n').map_or(text, |(_, body)| body)
}

/// A postgresql.conf without the settings palgen writes only for
/// PostgreSQL 18 (`io_method`, `idle_replication_slot_timeout`), the comment
/// lines right above each and the blank line after it; and the settings
/// removed.
fn without_io_method(conf: &str) -> (String, Vec<String>) {
    let lines: Vec<&str> = conf.lines().collect();
    let mut drop = vec![false; lines.len()];
    for (at, line) in lines.iter().enumerate() {
        if ["io_method", "idle_replication_slot_timeout"]
            .iter()
            .any(|name| line.trim_start().starts_with(name))
        {
            drop[at] = true;
            let mut above = at;
            while above > 0 && lines[above - 1].trim_start().starts_with('#') {
                above -= 1;
                drop[above] = true;
            }
            if lines.get(at + 1).is_some_and(|next| next.trim().is_empty()) {
                drop[at + 1] = true;
            }
        }
    }
    let mut kept = String::new();
    let mut removed = Vec::new();
    for (line, dropped) in lines.iter().zip(drop) {
        if !dropped {
            kept.push_str(line);
            kept.push('\n');
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            removed.push(line.trim().to_owned());
        }
    }
    (kept, removed)
}

// ---------------------------------------------------------------------------
// One deployment: the generated files copied into a sandbox the `postgres`
// OS user owns, laid out as the pods mount them.

struct Site {
    credentials: PathBuf,
    tls: TlsFiles,
    config: PathBuf,
    hba: PathBuf,
    init_script: PathBuf,
    bootstrap_script: PathBuf,
    ready_script: PathBuf,
    // Last: removed after everything that uses it.
    sandbox: Sandbox,
}

impl Site {
    /// The generated pg_hba.conf runs as it is, so the tests need `peer` to
    /// admit the scripts as the role `postgres`.
    fn new() -> Site {
        require_peer_admits_postgres();
        let rendered = Rendered::new();
        let sandbox = Sandbox::new();
        let credentials = write_credentials(&sandbox);
        let tls = write_tls(
            &sandbox,
            "tls",
            &rendered.generated.certificate(Some(&rendered.profile)),
        );
        sandbox.dir("config");
        let config = sandbox.write(
            "config/postgresql.conf",
            &rendered.tested("postgresql.conf"),
        );
        let hba = sandbox.write("config/pg_hba.conf", &rendered.tested("pg_hba.conf"));
        sandbox.dir("scripts");
        let init_script = sandbox.write(
            "scripts/initdb-paperless.sh",
            &rendered.tested("initdb-paperless.sh"),
        );
        let bootstrap_script = sandbox.write(
            "scripts/replica-bootstrap.sh",
            &rendered.tested("replica-bootstrap.sh"),
        );
        let ready_script = sandbox.write(
            "scripts/replica-ready.sh",
            &rendered.tested("replica-ready.sh"),
        );
        Site {
            credentials,
            config,
            hba,
            init_script,
            bootstrap_script,
            ready_script,
            tls,
            sandbox,
        }
    }

    /// A server with the generated files. Its WAL receiver (on a replica)
    /// connects to the primary's Service name on loopback: `PGHOSTADDR`
    /// stands in for the cluster's DNS, so libpq still verifies the
    /// certificate against the name.
    fn start_server(&self, name: &str, data: &Path, sockets: &Path) -> Server {
        Server::start(
            &self.sandbox,
            &ServerSpec {
                name,
                data,
                config: &self.config,
                hba: &self.hba,
                sockets,
                tls: &self.tls,
                env: &[("PGHOSTADDR", "127.0.0.1")],
            },
        )
    }

    /// Step 1: the primary as the image brings it up on an empty volume:
    /// `initdb` with the superuser password of the Secret, the server with
    /// the generated configuration, then the generated init script over the
    /// local socket.
    fn start_primary(&self) -> Server {
        self.sandbox.dir("primary");
        let data = self.sandbox.path().join("primary/data");
        let sockets = self.sandbox.dir("primary/run");
        initdb(&self.sandbox, &data, &self.credentials);
        let primary = self.start_server("primary", &data, &sockets);
        let output = self.sandbox.sh(
            &self.init_script,
            &[],
            &[
                ("PGHOST", sockets.display().to_string()),
                ("PGPORT", primary.port().to_string()),
                (
                    "POSTGRES_CREDENTIALS_DIR",
                    self.credentials.display().to_string(),
                ),
            ],
        );
        assert!(
            output.status.success(),
            "initdb-paperless.sh failed: {}\n{}",
            describe(&output),
            primary.log()
        );
        assert_eq!(
            primary.sql(
                "postgres",
                "SELECT rolname, rolreplication, rolsuper FROM pg_roles \
                 WHERE rolname = 'replicator'"
            ),
            "replicator|t|f",
            "the init script must create the replication role (and only that)"
        );
        primary
    }

    /// The data directory of the replica, as `volume` leaves it, under an
    /// empty volume, two levels down as the pod's PGDATA
    /// (`/var/lib/postgresql/18/docker`) is under its mount
    /// (`/var/lib/postgresql`); and its run directory (socket and .pgpass,
    /// the pod's `/var/run/postgresql` emptyDir).
    fn replica_dirs(&self, volume: Volume) -> (PathBuf, PathBuf) {
        self.sandbox.dir("replica");
        self.sandbox.dir("replica/volume");
        self.sandbox.dir("replica/volume/18");
        let pgdata = self.sandbox.path().join("replica/volume/18/docker");
        let run_dir = self.sandbox.dir("replica/run");
        match volume {
            Volume::Empty => {}
            Volume::EmptyPgdata => {
                self.sandbox.dir("replica/volume/18/docker");
            }
            Volume::InterruptedClone => {
                // What a bootstrap killed halfway through pg_basebackup
                // leaves: a scratch directory that looks like a cluster.
                self.sandbox.dir("replica/volume/18/docker.bootstrap");
                self.sandbox
                    .write("replica/volume/18/docker.bootstrap/PG_VERSION", "15\n");
                self.sandbox
                    .write("replica/volume/18/docker.bootstrap/half-copied", "x");
            }
        }
        (pgdata, run_dir)
    }

    /// The generated bootstrap, as the replica pod's init container runs it.
    fn bootstrap(&self, primary: &Server, pgdata: &Path, run_dir: &Path) -> Output {
        self.sandbox.sh(
            &self.bootstrap_script,
            &[],
            &[
                ("PGDATA", pgdata.display().to_string()),
                (
                    "POSTGRES_CREDENTIALS_DIR",
                    self.credentials.display().to_string(),
                ),
                ("POSTGRES_RUN_DIR", run_dir.display().to_string()),
                // The script's own primary host, the Service's name, on loopback.
                ("PGHOSTADDR", "127.0.0.1".to_owned()),
                ("PGSSLROOTCERT", self.tls.ca.display().to_string()),
                ("PRIMARY_PORT", primary.port().to_string()),
                ("REPLICA_NAME", REPLICA_NAME.to_owned()),
            ],
        )
    }

    /// The generated readiness check against a server's local socket.
    fn ready(&self, server: &Server) -> Output {
        self.sandbox.sh(
            &self.ready_script,
            &[],
            &[
                ("PGHOST", server.sockets().display().to_string()),
                ("PGPORT", server.port().to_string()),
            ],
        )
    }

    /// Waits (bounded) until the readiness check exits 0.
    fn wait_ready(&self, replica: &Server, primary: &Server) {
        wait_until(WAIT, || exit_ok("replica-ready.sh", &self.ready(replica))).unwrap_or_else(
            |why| {
                panic!(
                    "the replica never became ready: {why}\n{}\n{}",
                    replica.log(),
                    primary.log()
                )
            },
        );
    }
}

/// What the replica's volume holds before its first bootstrap.
#[derive(Clone, Copy)]
enum Volume {
    /// Nothing: PGDATA and its parent do not exist.
    Empty,
    /// PGDATA exists, empty.
    EmptyPgdata,
    /// No PGDATA, but the scratch clone of an interrupted bootstrap.
    InterruptedClone,
}

/// Steps 1 and 2: a primary, a replica bootstrapped by the generated script
/// into a fresh directory, running and streaming (its readiness check says
/// so). Every test that needs a replica starts here.
fn start_pair(site: &Site, volume: Volume) -> (Server, Server) {
    let primary = site.start_primary();
    let (pgdata, run_dir) = site.replica_dirs(volume);
    let scratch = PathBuf::from(format!("{}.bootstrap", pgdata.display()));

    let output = site.bootstrap(&primary, &pgdata, &run_dir);
    assert!(
        output.status.success(),
        "replica-bootstrap.sh failed: {}\n{}",
        describe(&output),
        primary.log()
    );
    assert!(
        stdout(&output).contains("cloning"),
        "the bootstrap of an empty directory must clone the primary: {}",
        describe(&output)
    );
    assert_eq!(
        primary.sql(
            "postgres",
            "SELECT slot_name || ' ' || slot_type FROM pg_replication_slots ORDER BY 1"
        ),
        format!("{SLOT} physical"),
        "the bootstrap must create one physical slot named after the pod"
    );
    assert!(
        pgdata.join("standby.signal").is_file(),
        "the bootstrap must leave standby.signal in {}",
        pgdata.display()
    );
    assert!(pgdata.join("PG_VERSION").is_file());
    assert!(!pgdata.join("half-copied").exists());
    assert!(
        !scratch.exists(),
        "the bootstrap must leave no scratch clone ({}) behind",
        scratch.display()
    );
    let auto_conf = fs::read_to_string(pgdata.join("postgresql.auto.conf")).unwrap();
    assert!(
        auto_conf.contains(&format!("primary_slot_name = '{SLOT}'"))
            && auto_conf.contains("primary_conninfo = 'host=postgres ")
            && auto_conf.contains(" sslmode=verify-full "),
        "postgresql.auto.conf must point the standby at the primary and its slot:\n{auto_conf}"
    );
    let pgpass = run_dir.join(".pgpass");
    let mode = fs::metadata(&pgpass)
        .unwrap_or_else(|e| panic!("{}: {e}", pgpass.display()))
        .permissions();
    assert_eq!(
        mode.mode() & 0o077,
        0,
        "libpq ignores a .pgpass others may read"
    );

    let replica = site.start_server("replica", &pgdata, &run_dir);
    site.wait_ready(&replica, &primary);
    assert_eq!(replica.sql("postgres", "SELECT pg_is_in_recovery()"), "t");
    // The primary sees the replica streaming through the slot, under the
    // slot's name.
    wait_until(WAIT, || {
        let state = primary.sql(
            "postgres",
            "SELECT r.application_name || ' ' || r.state || ' ' || s.active \
             FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid",
        );
        if state == format!("{SLOT} streaming true") {
            Ok(())
        } else {
            Err(format!("pg_stat_replication: {state:?}"))
        }
    })
    .unwrap_or_else(|why| panic!("{why}\n{}\n{}", primary.log(), replica.log()));
    assert_eq!(
        primary.sql(
            "postgres",
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_replication r USING (pid)"
        ),
        "t",
        "the replica must stream over TLS"
    );
    (primary, replica)
}

// ---------------------------------------------------------------------------
// Data.

/// `count md5` of the documents table: any missing, extra or changed row
/// changes it.
const STATE: &str = "SELECT count(*) || ' ' || coalesce(md5(string_agg(\
                     id || ':' || title || ':' || body, ',' ORDER BY id)), '-') FROM documents";

fn as_paperless(server: &Server, sql: &str) -> Result<String, String> {
    server.sql_as("paperless", APP_PASSWORD, "paperless", sql)
}

fn write_as_paperless(server: &Server, sql: &str) {
    as_paperless(server, sql).unwrap_or_else(|error| panic!("{error}\n{}", server.log()));
}

fn state(server: &Server) -> String {
    as_paperless(server, STATE).unwrap_or_else(|error| panic!("{error}\n{}", server.log()))
}

/// Waits (bounded) until the replica, read as the application reads it,
/// holds exactly `expected`.
fn wait_replicated(replica: &Server, primary: &Server, expected: &str) {
    wait_until(WAIT, || {
        let seen = as_paperless(replica, STATE)?;
        if seen == expected {
            Ok(())
        } else {
            Err(format!("replica has {seen:?}, primary {expected:?}"))
        }
    })
    .unwrap_or_else(|why| {
        panic!(
            "rows written on the primary did not reach the replica: {why}\n\
             primary pg_stat_replication: {:?}\n{}\n{}",
            primary.try_sql("postgres", "SELECT * FROM pg_stat_replication"),
            primary.log(),
            replica.log()
        )
    });
}

fn create_documents(primary: &Server, rows: u32) {
    write_as_paperless(
        primary,
        &format!(
            "CREATE TABLE documents (id bigint PRIMARY KEY, title text NOT NULL, \
             body text NOT NULL); \
             INSERT INTO documents SELECT i, 'document ' || i, md5(i::text) \
             FROM generate_series(1, {rows}) AS i"
        ),
    );
}

// ---------------------------------------------------------------------------
// The tests.

/// The configuration the servers run is aws-large's but for `io_method`
/// (which the server the tests run predates), and every script and the
/// pg_hba.conf they run are aws-large's byte for byte: what is proven here
/// holds for the postgres:18 deployment.
#[test]
fn tested_files_are_aws_large_but_for_io_method_and_log_connections() {
    let rendered = Rendered::new();
    let ours = rendered.tested("postgresql.conf");
    let theirs = rendered.file("aws-large", "postgresql.conf");
    assert!(
        theirs.contains("wal_level = replica") && theirs.contains("hot_standby = on"),
        "aws-large must configure the primary for streaming replication:\n{theirs}"
    );
    let (stripped, removed) = without_io_method(&theirs);
    assert_eq!(
        removed,
        [
            "idle_replication_slot_timeout = 86400",
            "io_method = worker"
        ],
        "aws-large:\n{theirs}"
    );
    // Before 18, log_connections takes a Boolean only (templates/postgresql.conf.j2).
    let stripped = stripped.replace(
        "log_connections = 'authentication,authorization'",
        "log_connections = on",
    );
    if server_major() >= 18 {
        assert_eq!(ours, theirs);
    } else {
        // Their header lines differ too: each fingerprints its own body.
        assert_eq!(
            below_header(&ours),
            below_header(&stripped),
            "the postgresql.conf of {} must be aws-large's without io_method",
            rendered.profile
        );
    }
    for name in [
        "pg_hba.conf",
        "initdb-paperless.sh",
        "replica-bootstrap.sh",
        "replica-ready.sh",
    ] {
        assert_eq!(
            rendered.tested(name),
            rendered.file("aws-large", name),
            "{name} of {} must be aws-large's",
            rendered.profile
        );
    }
    let hba = rendered.tested("pg_hba.conf");
    assert!(
        hba.lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()
                == [
                    "hostssl",
                    "replication",
                    "replicator",
                    "0.0.0.0/0",
                    "scram-sha-256"
                ]),
        "pg_hba.conf must admit replication for replicator with scram-sha-256:\n{hba}"
    );
}

/// Steps 1, 2 and 5: the generated bootstrap clones the primary over a slot
/// of its own into a fresh directory (here a volume that still holds the
/// scratch clone of an interrupted bootstrap, which must not be started);
/// both servers run the generated configuration with only the documented
/// overrides; the replica streams and its readiness check says so (and says
/// no for the primary); a second run of the bootstrap on the populated
/// directory changes nothing, and the restarted replica catches up through
/// its slot with what it missed while it was down.
#[test]
fn bootstrapped_replica_streams_and_restarts_without_recloning() {
    let site = Site::new();
    let (primary, replica) = start_pair(&site, Volume::InterruptedClone);

    // The servers run the generated file; the command line sets only the
    // documented overrides (`hba_file` shows as an override, like
    // `config_file` and `data_directory`, which name the file and directory
    // as in the pod); the only other file read is the replica's
    // postgresql.auto.conf, with what the bootstrap wrote there.
    let hba = site.hba.display().to_string();
    let config = site.config.display().to_string();
    for (server, from_auto_conf) in [
        (&primary, ""),
        (&replica, "primary_conninfo,primary_slot_name"),
    ] {
        let settings = |filter: &str| {
            server.sql(
                "postgres",
                &format!(
                    "SELECT coalesce(string_agg(name, ',' ORDER BY name), '') \
                     FROM pg_settings WHERE {filter}"
                ),
            )
        };
        assert_eq!(
            settings("source = 'command line'"),
            "listen_addresses,port,ssl_cert_file,ssl_key_file,unix_socket_directories"
        );
        assert_eq!(
            server.sql(
                "postgres",
                "SELECT current_setting('hba_file') || ' ' || current_setting('config_file')"
            ),
            format!("{hba} {config}")
        );
        assert_eq!(
            settings(
                "source = 'configuration file' AND sourcefile <> current_setting('config_file')"
            ),
            from_auto_conf
        );
        assert_eq!(
            settings(
                "name IN ('wal_level', 'hot_standby', 'max_wal_senders', 'max_replication_slots') \
                 AND sourcefile = current_setting('config_file')"
            ),
            "hot_standby,max_replication_slots,max_wal_senders,wal_level",
        );
        assert_eq!(
            server.sql(
                "postgres",
                "SELECT current_setting('wal_level') || ' ' || current_setting('hot_standby')"
            ),
            "replica on"
        );
        assert_eq!(
            server.sql(
                "postgres",
                "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"
            ),
            "0"
        );
    }

    // The readiness check can fail: the primary is not a standby.
    let output = site.ready(&primary);
    assert!(
        !output.status.success(),
        "replica-ready.sh must fail against the primary: {}",
        describe(&output)
    );
    assert!(
        stderr(&output).contains("not streaming (recovery, receiver: false none)"),
        "{}",
        describe(&output)
    );

    // A pod restart: the server stops, the init container runs again.
    create_documents(&primary, 100);
    let before_restart = state(&primary);
    wait_replicated(&replica, &primary, &before_restart);
    let pgdata = replica.data().to_owned();
    let run_dir = replica.sockets().to_owned();
    replica.stop();
    let marker = pgdata.join("palgen-test-marker");
    fs::write(&marker, "kept").unwrap();
    let auto_conf = fs::read_to_string(pgdata.join("postgresql.auto.conf")).unwrap();

    // Rows the replica misses while it is down: its slot keeps their WAL.
    write_as_paperless(
        &primary,
        "INSERT INTO documents SELECT i, 'while down ' || i, md5(i::text) \
         FROM generate_series(101, 150) AS i",
    );
    let while_down = state(&primary);
    assert_ne!(while_down, before_restart);

    let output = site.bootstrap(&primary, &pgdata, &run_dir);
    assert!(
        output.status.success(),
        "a second bootstrap must succeed: {}",
        describe(&output)
    );
    let said = stdout(&output);
    assert!(
        said.contains("holds a cluster; starting it as it is") && !said.contains("cloning"),
        "a second bootstrap must leave the cluster alone: {}",
        describe(&output)
    );
    assert_eq!(fs::read_to_string(&marker).unwrap(), "kept");
    assert_eq!(
        fs::read_to_string(pgdata.join("postgresql.auto.conf")).unwrap(),
        auto_conf,
        "a second bootstrap must not touch postgresql.auto.conf"
    );
    assert!(pgdata.join("standby.signal").is_file());
    assert_eq!(
        primary.sql(
            "postgres",
            "SELECT string_agg(slot_name, ',') FROM pg_replication_slots"
        ),
        SLOT
    );

    let replica = site.start_server("replica", &pgdata, &run_dir);
    site.wait_ready(&replica, &primary);
    wait_replicated(&replica, &primary, &while_down);
}

/// Steps 3 and 4: rows written on the primary by the application appear on
/// the replica (read as the application) within a bounded wait, exactly;
/// a write on the replica fails as read-only.
#[test]
fn rows_reach_the_replica_which_refuses_writes() {
    let site = Site::new();
    let (primary, replica) = start_pair(&site, Volume::Empty);

    create_documents(&primary, 1000);
    let first = state(&primary);
    assert!(first.starts_with("1000 "), "{first}");
    wait_replicated(&replica, &primary, &first);

    // One more row, in its own transaction: the state tells it apart, so a
    // replica missing a single row could not pass.
    write_as_paperless(
        &primary,
        "INSERT INTO documents VALUES (1001, 'one more', 'row')",
    );
    let second = state(&primary);
    assert!(second.starts_with("1001 "), "{second}");
    assert_ne!(second, first);
    wait_replicated(&replica, &primary, &second);
    // An update and a delete replicate too.
    write_as_paperless(
        &primary,
        "UPDATE documents SET title = 'renamed' WHERE id = 7; DELETE FROM documents WHERE id = 8",
    );
    let third = state(&primary);
    assert!(third.starts_with("1000 ") && third != first, "{third}");
    wait_replicated(&replica, &primary, &third);

    for (who, result) in [
        (
            "paperless",
            as_paperless(
                &replica,
                "INSERT INTO documents VALUES (5000, 'on the replica', 'x')",
            ),
        ),
        (
            "postgres",
            replica.try_sql("paperless", "CREATE TABLE on_the_replica (id int)"),
        ),
    ] {
        let error = result.expect_err("a write on the replica must fail");
        assert!(
            error.contains("read-only transaction"),
            "a write as {who} on the replica must fail as read-only: {error}"
        );
    }
    assert_eq!(state(&replica), third);
    assert_eq!(state(&primary), third);
}

/// Step 6: the promotion the README documents (`SELECT pg_promote()` as
/// postgres on the replica, after the old primary is gone) makes a writable
/// primary that holds every row the old primary committed.
#[test]
fn documented_promotion_makes_a_writable_primary_with_every_committed_row() {
    let site = Site::new();
    let (primary, replica) = start_pair(&site, Volume::EmptyPgdata);

    create_documents(&primary, 500);
    for batch in 0..5 {
        write_as_paperless(
            &primary,
            &format!(
                "INSERT INTO documents SELECT i, 'batch {batch}', md5(i::text) \
                 FROM generate_series({start}, {end}) AS i",
                start = 1000 + batch * 100,
                end = 1099 + batch * 100,
            ),
        );
    }
    // The last commit right before the primary goes: no wait for the
    // replica, what the shutdown hands over must be all of it.
    write_as_paperless(
        &primary,
        "INSERT INTO documents VALUES (9999, 'last', 'commit')",
    );
    let committed = state(&primary);
    assert!(committed.starts_with("1001 "), "{committed}");
    let primary_log = primary.log();
    primary.stop();

    // Without its primary the replica is no longer ready.
    wait_until(WAIT, || {
        let output = site.ready(&replica);
        if output.status.success() {
            Err(format!(
                "replica-ready.sh still succeeds: {}",
                describe(&output)
            ))
        } else {
            Ok(())
        }
    })
    .unwrap_or_else(|why| panic!("{why}\n{}", replica.log()));

    let promoted = replica.sql("postgres", "SELECT pg_promote()");
    assert_eq!(promoted, "t", "pg_promote():\n{}", replica.log());
    assert_eq!(
        replica.sql("postgres", "SELECT pg_is_in_recovery()"),
        "f",
        "{}",
        replica.log()
    );
    assert!(!replica.data().join("standby.signal").exists());
    assert_eq!(
        state(&replica),
        committed,
        "the promoted replica must hold every committed row\n{primary_log}\n{}",
        replica.log()
    );

    write_as_paperless(
        &replica,
        "INSERT INTO documents VALUES (10000, 'after', 'promotion')",
    );
    let after = state(&replica);
    assert!(after.starts_with("1002 "), "{after}");
    assert_ne!(after, committed, "the state must tell one more row apart");

    // By design, the readiness check keeps a promoted replica out of the
    // read Service: it is no longer a streaming standby.
    let output = site.ready(&replica);
    assert!(
        !output.status.success() && stderr(&output).contains("receiver: false none"),
        "{}",
        describe(&output)
    );
}

/// Step 7: pg_hba.conf admits replication connections only for the
/// replication role, only with its password: the application role and even
/// the superuser (who has the privilege) are turned away by pg_hba itself.
#[test]
fn only_the_replication_role_may_connect_for_replication() {
    let site = Site::new();
    let primary = site.start_primary();
    let identify = |user: &str, password: &str| {
        run(site
            .sandbox
            .command(pg_program("psql"))
            .args([
                "--no-psqlrc",
                "--no-align",
                "--tuples-only",
                "--no-password",
            ])
            .args(["--host", "127.0.0.1", "--port", &primary.port().to_string()])
            .args(["--username", user])
            .args(["--dbname", "dbname=postgres replication=true"])
            .args(["--command", "IDENTIFY_SYSTEM"])
            .env("PGPASSWORD", password))
    };
    let rejected_by_hba = |output: &Output, user: &str| {
        assert!(
            !output.status.success()
                && stderr(output).contains(&format!(
                    "no pg_hba.conf entry for replication connection from host \"127.0.0.1\", \
                     user \"{user}\""
                )),
            "a replication connection as {user} must be rejected by pg_hba: {}",
            describe(output)
        );
    };

    // The replication role with its password: admitted.
    let output = identify("replicator", REPLICATION_PASSWORD);
    assert!(
        output.status.success(),
        "{}\n{}",
        describe(&output),
        primary.log()
    );
    let system_id = primary.sql(
        "postgres",
        "SELECT system_identifier FROM pg_control_system()",
    );
    assert!(
        stdout(&output).starts_with(&format!("{system_id}|")),
        "IDENTIFY_SYSTEM: {}",
        describe(&output)
    );
    // ... and only with its password (scram-sha-256, not trust).
    let output = identify("replicator", "wrong password");
    assert!(
        !output.status.success()
            && stderr(&output).contains("password authentication failed for user \"replicator\""),
        "{}",
        describe(&output)
    );

    // The application role, with its right password: no.
    rejected_by_hba(&identify("paperless", APP_PASSWORD), "paperless");
    // Not even once it holds the REPLICATION attribute: pg_hba decides.
    primary.sql("postgres", "ALTER ROLE paperless REPLICATION");
    rejected_by_hba(&identify("paperless", APP_PASSWORD), "paperless");
    // The superuser, who may replicate, with its right password: no.
    rejected_by_hba(&identify("postgres", POSTGRES_PASSWORD), "postgres");

    // pg_basebackup as the application role: no.
    let output = run(site
        .sandbox
        .command(pg_program("pg_basebackup"))
        .args(["--host", "127.0.0.1", "--port", &primary.port().to_string()])
        .args(["--username", "paperless", "--no-password"])
        .arg("--pgdata")
        .arg(site.sandbox.path().join("stolen"))
        .env("PGPASSWORD", APP_PASSWORD));
    rejected_by_hba(&output, "paperless");
    assert!(!site.sandbox.path().join("stolen").exists());

    // The same roles over ordinary connections are admitted: the rejections
    // above are about replication, not about the roles or their passwords.
    assert_eq!(
        primary
            .sql_as(
                "paperless",
                APP_PASSWORD,
                "paperless",
                "SELECT current_user"
            )
            .unwrap_or_else(|e| panic!("{e}")),
        "paperless"
    );
    assert_eq!(
        primary
            .sql_as(
                "postgres",
                POSTGRES_PASSWORD,
                "postgres",
                "SELECT current_user"
            )
            .unwrap_or_else(|e| panic!("{e}")),
        "postgres"
    );
}

// ---------------------------------------------------------------------------
// Removing replicas.

/// The procedure `palgen plan` prints for StatefulSet postgres-replica when
/// a user profile extending aws-large goes to `read_replicas: 0`, and the
/// postgresql.conf the primary then gets.
fn plan_without_replicas() -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("profiles")).unwrap();
    let profile = dir.path().join("profiles/acme.yaml");
    fs::write(&profile, "extends: aws-large\n").unwrap();
    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme", "-q"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    fs::write(
        &profile,
        "extends: aws-large\nreplication:\n  read_replicas: 0\n",
    )
    .unwrap();
    let planned = palgen_in(dir.path(), &["plan"]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    let report = stdout(&planned);
    let steps = common::overlay_procedure(&report, "acme");
    assert!(
        !steps.is_empty(),
        "no procedure for the replicas:\n{report}"
    );
    let accepted = palgen_in(
        dir.path(),
        &["render", "--profile", "acme", "--accept-unsafe", "-q"],
    );
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let conf = fs::read_to_string(dir.path().join("k8s/overlays/acme/postgresql.conf"))
        .or_else(|_| fs::read_to_string(dir.path().join("k8s/base/postgresql.conf")))
        .unwrap();
    (steps, conf)
}

/// The oldest WAL segment file in the primary's pg_wal.
fn oldest_wal_segment(primary: &Server) -> String {
    primary.sql(
        "postgres",
        "SELECT min(name) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'",
    )
}

/// Writes and switches WAL segments, then checkpoints, so the primary
/// removes or recycles every segment nothing keeps.
fn churn_wal(primary: &Server) {
    for round in 0..4 {
        primary.sql(
            "postgres",
            &format!(
                "CREATE TABLE IF NOT EXISTS churn (n int); INSERT INTO churn VALUES ({round}); \
                 SELECT pg_switch_wal()"
            ),
        );
    }
    primary.sql("postgres", "CHECKPOINT");
    primary.sql("postgres", "CHECKPOINT");
}

/// Removing the replicas as `palgen plan` says: once the pod is gone, the
/// plan's own command (what it runs in the primary's container, after
/// `kubectl exec ... --`) drops the slot the replica held, and the primary
/// recycles the WAL the slot kept. Without replicas, postgresql.conf still
/// bounds what a slot may keep.
#[test]
fn removing_a_replica_as_the_plan_says_drops_its_slot_and_recycles_wal() {
    let (steps, conf) = plan_without_replicas();
    assert!(
        conf.lines()
            .any(|l| l.starts_with("max_slot_wal_keep_size = ")),
        "without replicas, retained WAL must stay bounded:\n{conf}"
    );
    // The overlay's procedure renders, has the change reviewed and
    // committed, applies; the replicas' own steps follow.
    let at = steps
        .iter()
        .position(|s| s == "kubectl -n paless delete statefulset postgres-replica")
        .unwrap_or_else(|| panic!("no step deletes the replicas: {steps:#?}"));
    let steps = &steps[at..];
    assert!(
        steps[1].starts_with("kubectl -n paless wait --for=delete pod/postgres-replica-0 "),
        "{steps:?}"
    );
    let drop_slots = steps[2]
        .strip_prefix("kubectl -n paless exec postgres-0 -c postgres -- ")
        .unwrap_or_else(|| panic!("step 3 runs in the primary's container: {steps:?}"))
        .split("   #")
        .next()
        .unwrap()
        .to_owned();

    let site = Site::new();
    let (primary, replica) = start_pair(&site, Volume::Empty);
    create_documents(&primary, 100);
    let slot_wal = |primary: &Server| {
        primary.sql(
            "postgres",
            &format!(
                // The segment that holds restart_lsn (pg_walfile_name names
                // the one before it when the LSN is on a boundary).
                "SELECT pg_walfile_name(restart_lsn + 1) \
                 FROM pg_replication_slots WHERE slot_name = '{SLOT}'"
            ),
        )
    };
    // Steps 1 and 2: the StatefulSet is deleted and its pod is gone.
    drop(replica);
    wait_until(WAIT, || {
        match primary.sql(
            "postgres",
            &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{SLOT}'"),
        ) {
            active if active == "f" => Ok(()),
            active => Err(format!("slot active: {active:?}")),
        }
    })
    .unwrap_or_else(|why| panic!("{why}\n{}", primary.log()));
    let held = slot_wal(&primary);
    churn_wal(&primary);
    assert!(
        oldest_wal_segment(&primary) <= held,
        "the inactive slot keeps WAL from {held}: {}",
        oldest_wal_segment(&primary)
    );

    // Step 3, as written.
    let output = site.sandbox.run_script(
        "drop-slots.sh",
        &drop_slots,
        &[],
        &[
            ("PGHOST", &primary.sockets().display().to_string()),
            ("PGPORT", &primary.port().to_string()),
        ],
    );
    assert!(
        output.status.success(),
        "{drop_slots}: {}\n{}",
        describe(&output),
        primary.log()
    );
    assert_eq!(
        primary.sql("postgres", "SELECT count(*) FROM pg_replication_slots"),
        "0",
        "the plan's command must drop the replica's slot"
    );
    churn_wal(&primary);
    assert!(
        oldest_wal_segment(&primary) > held,
        "with the slot dropped the primary recycles the WAL it kept ({held}): oldest is {}",
        oldest_wal_segment(&primary)
    );
}
