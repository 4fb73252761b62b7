//! palgen's generated configuration and scripts, run by the real programs:
//! Debian's PostgreSQL server and clients (`postgresql`,
//! `postgresql-contrib`), `pgbouncer` and `prometheus-postgres-exporter`.
//! Each test starts its own servers on free loopback ports in temporary
//! directories (see `pg/mod.rs`), so the tests run in parallel.

mod common;
mod pg;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{palgen, stderr, stdout};
use pg::{
    APP_PASSWORD, Daemon, EXPORTER_PASSWORD, Generated, ServerFiles, TempCluster, build,
    conf_for_server, container_env, debian_program, free_port, parse_conf, postgres_container,
    program_version, psql, server_major, server_version, substitute,
};

/// The parameters the issue names, checked with `SHOW` on every size.
const SHOWN: [&str; 9] = [
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "maintenance_work_mem",
    "wal_buffers",
    "max_connections",
    "log_min_duration_statement",
    "password_encryption",
    "random_page_cost",
];

/// Set on the command line, as a test must: every server has its own
/// port, socket directory and files.
const OVERRIDDEN: [&str; 6] = [
    "port",
    "listen_addresses",
    "unix_socket_directories",
    "hba_file",
    "ssl_cert_file",
    "ssl_key_file",
];

/// Starts a server with a generated postgresql.conf and proves that the
/// server took every line of it: nothing rejected (other than parameters
/// its major predates, which must be exactly the ones the file writes only
/// for newer images), every parameter's value and source line as written,
/// `SHOW` of the parameters equal to the file, and values worked
/// out by hand from the profile's limits (`by_hand`, as `SHOW` prints them).
fn assert_config_applied(files: &ServerFiles, by_hand: &[(&str, &str)]) {
    let generated_conf = files.conf.as_str();
    eprintln!("server: {}", server_version());
    let mut cluster = TempCluster::new();

    let held_back: BTreeSet<String> = conf_for_server(generated_conf, server_major())
        .held_back
        .into_iter()
        .collect();
    let (rejected, messages) = cluster.unrecognised_parameters(generated_conf);
    assert_eq!(
        rejected,
        held_back,
        "PostgreSQL {} must reject exactly the parameters of newer majors:\n{messages}",
        server_major()
    );
    cluster.start(files);
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"
        ),
        "0",
        "errors in the generated pg_hba.conf"
    );

    let entries = parse_conf(generated_conf);
    let mut names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    names.extend(SHOWN);
    let settings = cluster.settings(&names);
    let config = cluster.config_path().to_string_lossy().into_owned();

    let mut wrong = Vec::new();
    for entry in &entries {
        if held_back.contains(&entry.name) {
            continue;
        }
        let Some(setting) = settings.get(&entry.name) else {
            wrong.push(format!("{}: not a parameter of this server", entry.name));
            continue;
        };
        if OVERRIDDEN.contains(&entry.name.as_str()) {
            // port and the others: "command line"; file paths: "override".
            if !["command line", "override"].contains(&setting.source.as_str()) {
                wrong.push(format!("{}: not overridden: {setting:?}", entry.name));
            }
            continue;
        }
        let from = (
            setting.source.as_str(),
            setting.sourcefile.as_str(),
            setting.sourceline.as_str(),
        );
        if from
            != (
                "configuration file",
                config.as_str(),
                &entry.line.to_string(),
            )
        {
            wrong.push(format!(
                "{} (line {}) did not take effect: {setting:?}",
                entry.name, entry.line
            ));
        } else if setting.normalise(&setting.setting) != setting.normalise(&entry.value) {
            wrong.push(format!(
                "{} = {:?} in the file, the server has {:?} {}",
                entry.name, entry.value, setting.setting, setting.unit
            ));
        }
    }
    for name in SHOWN {
        let setting = &settings[name];
        let shown = cluster.show(name);
        let expected = match entries.iter().find(|entry| entry.name == name) {
            Some(entry) => entry.value.clone(),
            None => setting.boot_val.clone(),
        };
        if setting.normalise(&shown) != setting.normalise(&expected) {
            wrong.push(format!(
                "SHOW {name} = {shown:?}, expected {expected:?} (the file's value, else the default)"
            ));
        }
    }
    for &(name, value) in by_hand {
        let shown = cluster.show(name);
        if shown != value {
            wrong.push(format!(
                "SHOW {name} = {shown:?}, worked out by hand: {value:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the server does not run with the generated postgresql.conf:\n{}\n--- server log\n{}",
        wrong.join("\n"),
        cluster.log()
    );
}

#[test]
fn small_postgresql_conf_from_base_is_applied() {
    // Limits 1Gi, 1 CPU, max_connections 100, local-path (not SSD).
    assert_config_applied(
        &Generated::render().base_server(),
        &[
            ("shared_buffers", "256MB"),       // 1Gi / 4
            ("effective_cache_size", "768MB"), // 1Gi * 3/4
            ("maintenance_work_mem", "64MB"),  // 1Gi / 16
            ("work_mem", "4MB"), // (1024 - 256)MB / ((100 + 8) * 3) = 2.4MB -> at least 4MB
            ("wal_buffers", "7864kB"), // 3% of 256MB = 7864.32kB
            ("max_connections", "100"),
            ("log_min_duration_statement", "1s"),
            ("password_encryption", "scram-sha-256"),
            ("random_page_cost", "4"),     // the default: no SSD
            ("max_worker_processes", "8"), // the default: fewer than 4 CPUs
            ("max_wal_size", "2560MB"),    // 4GB, at most a quarter of the 10Gi volume
            ("min_wal_size", "640MB"),     // 1GB, at most max_wal_size / 4
            ("huge_pages", "off"),         // shared_buffers below 2GB
            ("jit", "off"),
            ("wal_compression", "lz4"), // Debian's 15 is built with lz4, as the images are
        ],
    );
}

#[test]
fn medium_postgresql_conf_of_aws_medium_is_applied() {
    // Limits 2Gi, 2 CPUs, max_connections 100, gp3 (SSD).
    assert_config_applied(
        &Generated::render().server("aws-medium"),
        &[
            ("shared_buffers", "512MB"),        // 2Gi / 4
            ("effective_cache_size", "1536MB"), // 2Gi * 3/4
            ("maintenance_work_mem", "128MB"),  // 2Gi / 16
            ("work_mem", "4854kB"),             // (2048 - 512)MB / ((100 + 8) * 3) = 4854.5kB
            ("wal_buffers", "16MB"), // 3% of 512MB = 15728.64kB, above 14MB: PGTune rounds up to 16MB
            ("max_connections", "100"),
            ("log_min_duration_statement", "1s"),
            ("password_encryption", "scram-sha-256"),
            ("random_page_cost", "1.1"),
            ("max_worker_processes", "8"),
        ],
    );
}

#[test]
fn large_postgresql_conf_of_aws_large_is_applied() {
    // Limits 4Gi, 4 CPUs, max_connections 100, gp3 (SSD).
    assert_config_applied(
        &Generated::render().server("aws-large"),
        &[
            ("shared_buffers", "1GB"),         // 4Gi / 4
            ("effective_cache_size", "3GB"),   // 4Gi * 3/4
            ("maintenance_work_mem", "256MB"), // 4Gi / 16
            ("work_mem", "10082kB"),           // (4096 - 1024)MB / ((100 + 4) * 3) = 10082.46kB
            ("wal_buffers", "16MB"),           // 3% of 1GB = 30.72MB, capped at 16MB
            ("max_connections", "100"),
            ("log_min_duration_statement", "1s"),
            ("password_encryption", "scram-sha-256"),
            ("random_page_cost", "1.1"),
            ("max_worker_processes", "4"), // 4 CPUs: parallel query on
            ("max_parallel_workers_per_gather", "2"), // ceil(4 / 2)
            ("max_parallel_maintenance_workers", "2"),
            ("max_wal_size", "4GB"),  // a quarter of 100Gi is more than 4GB
            ("wal_level", "replica"), // read replicas stream from it
        ],
    );
}

/// A query as `paperless` over TCP with its password (scram-sha-256).
fn as_app(cluster: &TempCluster, sql: &str) -> String {
    cluster
        .psql_tcp("paperless", APP_PASSWORD, "paperless", sql)
        .unwrap_or_else(|error| panic!("{error}\n--- server log\n{}", cluster.log()))
}

/// The readiness probe's command of the postgres container: plain
/// `pg_isready` (liveness and startup also pass on its exit 1, see
/// tests/probes.rs).
fn probe_command(profile: &str) -> Vec<String> {
    let objects = build(profile);
    let container = postgres_container(&objects, "postgres");
    container["readinessProbe"]["exec"]["command"]
        .as_array()
        .expect("readinessProbe is an exec probe")
        .iter()
        .map(|arg| arg.as_str().expect("string argument").to_owned())
        .collect()
}

#[test]
fn init_script_creates_paperless_with_extensions_and_the_probe_answers() {
    let generated = Generated::render();
    let mut cluster = TempCluster::paperless(&generated, &generated.base_server());

    let uuid = as_app(&cluster, "SELECT uuid_generate_v4()");
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "not a UUID: {uuid:?}");
    assert!(uuid.as_bytes()[14] == b'4', "not a version 4 UUID: {uuid}");
    assert_eq!(
        as_app(&cluster, "SELECT encode(digest('x', 'sha256'), 'hex')"),
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    );
    assert_eq!(
        as_app(&cluster, "SELECT current_user || ' ' || current_database()"),
        "paperless paperless"
    );

    // Tenant databases created later come from template1: it has both.
    for database in ["template1", "paperless"] {
        assert_eq!(
            cluster.psql(
                database,
                "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension \
                 WHERE extname IN ('uuid-ossp', 'pgcrypto')"
            ),
            "pgcrypto,uuid-ossp",
            "extensions in {database}"
        );
    }
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'paperless'"
        ),
        "paperless"
    );
    // Passwords are stored as SCRAM verifiers, never in the clear or as md5.
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT string_agg(rolname || ' ' || (rolpassword LIKE 'SCRAM-SHA-256$%'), ',' \
             ORDER BY rolname) FROM pg_authid WHERE rolname IN ('paperless', 'postgres_exporter')"
        ),
        "paperless true,postgres_exporter true"
    );
    assert_eq!(
        cluster
            .psql_tcp(
                "postgres_exporter",
                EXPORTER_PASSWORD,
                "paperless",
                "SELECT pg_has_role('pg_monitor', 'member')"
            )
            .unwrap_or_else(|error| panic!("{error}")),
        "t"
    );
    // With a replication password in the Secret, the replication role.
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT rolreplication AND rolcanlogin FROM pg_roles WHERE rolname = 'replicator'"
        ),
        "t"
    );
    let wrong = cluster.psql_tcp("paperless", "not the password", "paperless", "SELECT 1");
    assert!(
        wrong
            .as_ref()
            .is_err_and(|error| error.contains("password authentication failed")),
        "a wrong password must be rejected: {wrong:?}"
    );
    // CONNECT is revoked from PUBLIC: a role without a grant stays out.
    cluster.psql("postgres", "CREATE ROLE stranger LOGIN PASSWORD 'stranger'");
    let stranger = cluster.psql_tcp("stranger", "stranger", "paperless", "SELECT 1");
    assert!(
        stranger
            .as_ref()
            .is_err_and(|error| error.contains("permission denied for database")),
        "a role without CONNECT must be refused: {stranger:?}"
    );

    // The probe, pointed at the temporary server's socket directory (in the
    // pod it uses the default, /var/run/postgresql).
    let probe = probe_command("aws-small");
    assert_eq!(
        probe[0], "pg_isready",
        "the probe runs pg_isready: {probe:?}"
    );
    let sockets = cluster.sockets();
    let mut args: Vec<&str> = probe[1..].iter().map(String::as_str).collect();
    args.extend(["-h", &sockets]);
    let up = cluster.probe(&args);
    assert!(up.success(), "{probe:?} against a running server: {up}");
    cluster.stop();
    let down = cluster.probe(&args);
    assert!(
        !down.success(),
        "{probe:?} must fail once the server is stopped, got {down}"
    );
}

/// The rows of `docs`: count and md5 of all of them in order.
const CHECKSUM: &str = "SELECT count(*) || ' ' || md5(string_agg(id || ':' || uid || ':' || body, \
                        chr(30) ORDER BY id)) FROM docs";

fn backup_retention_days(profile: &str) -> u64 {
    let output = palgen(&["show", "--profile", profile, "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    shown["settings"]["backup"]["retention_days"]
        .as_u64()
        .expect("settings.backup.retention_days")
}

/// A dump file with the given age, as an earlier run would have left it.
fn old_dump(dir: &Path, name: &str, age_days: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, "PGDMP an old dump").expect("write old dump");
    let mtime = SystemTime::now() - Duration::from_secs(age_days * 24 * 3600);
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(mtime))
        .expect("set mtime");
    path
}

#[test]
fn backup_and_restore_bring_back_every_row_into_a_fresh_server() {
    let profile = "aws-small";
    let generated = Generated::render();
    let server = generated.server(profile);
    let source = TempCluster::paperless(&generated, &server);
    as_app(
        &source,
        "CREATE TABLE docs (id integer PRIMARY KEY, uid uuid NOT NULL DEFAULT uuid_generate_v4(), \
         body text NOT NULL); \
         INSERT INTO docs (id, body) SELECT i, format(E'doc %s: it''s \"quoted\"\\n\\tline two \
         \\\\ back\\\\slash, ünïcödé %s', i, md5(i::text)) FROM generate_series(1, 1000) AS i",
    );
    let original = as_app(&source, CHECKSUM);
    assert!(original.starts_with("1000 "), "{original}");

    let retention = backup_retention_days(profile);
    assert!(retention >= 2, "retention {retention} days");
    let backups = source.sandbox().dir("backups");
    let expired = old_dump(&backups, "paperless-20000101T000000Z.dump", retention + 3);
    let kept = old_dump(&backups, "paperless-20000102T000000Z.dump", retention - 1);

    let mut env = source.client_env();
    env.extend([
        ("PGUSER", "paperless".to_owned()),
        ("PGDATABASE", "paperless".to_owned()),
        ("BACKUP_DIR", backups.to_string_lossy().into_owned()),
        ("BACKUP_RETENTION_DAYS", retention.to_string()),
        (
            "BACKUP_LOCK_WAIT_TIMEOUT",
            pg::dump_env(&build(profile))["BACKUP_LOCK_WAIT_TIMEOUT"].clone(),
        ),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let backup = source.sandbox().run_script(
        "backup.sh",
        &generated.file(profile, "backup.sh"),
        &[],
        &env,
    );
    assert!(
        backup.status.success(),
        "backup.sh failed ({}):\n{}{}\n--- server log\n{}",
        backup.status,
        stdout(&backup),
        stderr(&backup),
        source.log()
    );

    let files = pg::file_names(&backups);
    assert!(
        !expired.exists(),
        "a dump older than {retention} days is kept: {files:?}"
    );
    assert!(
        kept.exists(),
        "a dump within {retention} days was deleted: {files:?}"
    );
    assert!(
        !files.iter().any(|name| name.contains(".partial")),
        "a partial dump is left: {files:?}"
    );
    let new: Vec<&String> = files
        .iter()
        .filter(|name| {
            name.starts_with("paperless-")
                && name.ends_with(".dump")
                && !name.starts_with("paperless-2000")
        })
        .collect();
    assert_eq!(new.len(), 1, "one new dump expected: {files:?}");
    let dump = backups.join(new[0]);
    let header = fs::read(&dump).expect("read dump");
    assert!(
        header.starts_with(b"PGDMP"),
        "not a pg_dump custom-format archive"
    );

    // The restore path: a second, fresh server initialised like the first.
    let target = TempCluster::paperless(&generated, &server);
    let restore_script = generated.file(profile, "restore.sh");
    let restore = |dump: &Path| {
        let mut env = target.client_env();
        env.push(("PGDATABASE", "paperless".to_owned()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        target.sandbox().run_script(
            "restore.sh",
            &restore_script,
            &[&dump.to_string_lossy()],
            &env,
        )
    };
    let restored = restore(&dump);
    assert!(
        restored.status.success(),
        "restore.sh failed ({}):\n{}{}\n--- server log\n{}",
        restored.status,
        stdout(&restored),
        stderr(&restored),
        target.log()
    );
    assert_eq!(as_app(&target, CHECKSUM), original, "restored rows differ");
    assert_eq!(
        target.psql(
            "paperless",
            "SELECT tableowner FROM pg_tables WHERE tablename = 'docs'"
        ),
        "paperless"
    );
    // The restored table still gets UUIDs from the extension.
    as_app(
        &target,
        "INSERT INTO docs (id, body) VALUES (1001, 'after restore')",
    );
    as_app(&target, "DELETE FROM docs WHERE id = 1001");

    // Again, over the restored data: --clean replaces what is there.
    let again = restore(&dump);
    assert!(again.status.success(), "second restore: {}", stderr(&again));
    assert_eq!(
        as_app(&target, CHECKSUM),
        original,
        "rows after a second restore"
    );

    // A dump that breaks off halfway loads nothing: the data stays as it was.
    let truncated = target.sandbox().path().join("truncated.dump");
    fs::write(&truncated, &header[..header.len() / 2]).expect("write truncated dump");
    fs::set_permissions(&truncated, fs::Permissions::from_mode(0o644)).expect("chmod");
    let broken = restore(&truncated);
    assert!(
        !broken.status.success(),
        "restore of a truncated dump succeeded"
    );
    assert_eq!(
        as_app(&target, CHECKSUM),
        original,
        "a failed restore changed data"
    );

    let missing = restore(Path::new("/nonexistent/paperless-20990101T000000Z.dump"));
    assert!(
        !missing.status.success(),
        "restore.sh of a missing dump exited 0: {}",
        stdout(&missing)
    );
    assert!(
        stderr(&missing).contains("/nonexistent/paperless-20990101T000000Z.dump"),
        "the error names the dump: {}",
        stderr(&missing)
    );
}

/// A hung dump must not silence backups: with a table locked exclusively,
/// the dump fails after the lock wait instead of stalling, and the old
/// dumps were pruned before it (all but the newest, however old), so a full
/// volume cannot fail every run. The CronJob bounds the Job and sets the
/// wait; the test waits 2s instead of the CronJob's minutes.
#[test]
fn a_locked_table_fails_the_dump_and_old_dumps_are_pruned_first() {
    let profile = "aws-small";
    let objects = build(profile);
    let job = &objects["CronJob/paless/postgres-backup"]["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["activeDeadlineSeconds"], 21600, "{job}");
    assert_eq!(pg::dump_env(&objects)["BACKUP_LOCK_WAIT_TIMEOUT"], "5min");

    let generated = Generated::render();
    let source = TempCluster::paperless(&generated, &generated.server(profile));
    as_app(&source, "CREATE TABLE docs (id integer PRIMARY KEY)");
    let retention = backup_retention_days(profile);
    let backups = source.sandbox().dir("backups");
    let expired = old_dump(&backups, "paperless-20000101T000000Z.dump", retention + 3);
    let newest = old_dump(&backups, "paperless-20000102T000000Z.dump", retention + 2);
    let leftover = old_dump(&backups, "paperless-20000103T000000Z.dump.partial", 1);

    // A session that holds an exclusive lock on docs for a minute.
    let mut holder = source
        .sandbox()
        .command(source.sandbox().program("psql"))
        .args(["--no-psqlrc", "--host", &source.sockets()])
        .args([
            "--port",
            &source.port().to_string(),
            "--username",
            "postgres",
        ])
        .args([
            "--dbname",
            "paperless",
            "--command",
            "BEGIN; LOCK TABLE docs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT",
        ])
        .spawn()
        .expect("psql runs");
    pg::wait_until(pg::WAIT, || {
        let locks = source.psql(
            "paperless",
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' \
             AND relation = 'docs'::regclass AND granted",
        );
        (locks == "1").then_some(()).ok_or(locks)
    })
    .unwrap_or_else(|error| panic!("the lock is not taken: {error}"));

    let mut env = source.client_env();
    env.extend([
        ("PGUSER", "paperless".to_owned()),
        ("PGDATABASE", "paperless".to_owned()),
        ("BACKUP_DIR", backups.to_string_lossy().into_owned()),
        ("BACKUP_RETENTION_DAYS", retention.to_string()),
        ("BACKUP_LOCK_WAIT_TIMEOUT", "2s".to_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = std::time::Instant::now();
    let backup = source.sandbox().run_script(
        "backup.sh",
        &generated.file(profile, "backup.sh"),
        &[],
        &env,
    );
    let took = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(
        // pg_dump bounds its LOCK TABLE with statement_timeout.
        !backup.status.success()
            && stderr(&backup).contains("statement timeout")
            && stderr(&backup).contains("LOCK TABLE public.docs"),
        "a dump blocked by a lock must fail: {}",
        pg::describe(&backup)
    );
    assert!(took < Duration::from_secs(30), "the dump waited {took:?}");
    let files = pg::file_names(&backups);
    assert!(!expired.exists(), "the expired dump is kept: {files:?}");
    assert!(!leftover.exists(), "the old .partial is kept: {files:?}");
    assert!(newest.exists(), "the newest dump was deleted: {files:?}");
    assert!(
        !files
            .iter()
            .any(|name| name.ends_with(".dump") && !name.starts_with("paperless-2000")),
        "a failed run left a dump: {files:?}"
    );
}

#[test]
fn pgbouncer_with_the_generated_ini_and_userlist_proxies_to_paperless() {
    let profile = "aws-medium";
    let generated = Generated::render();
    let cluster = TempCluster::paperless(&generated, &generated.server(profile));
    let sandbox = cluster.sandbox();

    let auth_file = pg::write_userlist(&cluster, &generated, profile);
    let mode = fs::metadata(&auth_file)
        .expect("userlist.txt written")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "userlist.txt is readable by others: {mode:o}"
    );

    let (bouncer, port) = pg::start_pgbouncer(
        sandbox,
        &generated.file(profile, "pgbouncer.ini"),
        cluster.port(),
        &auth_file,
        cluster.tls(),
    );
    let through = |password: &str, sql: &str| {
        psql(
            sandbox,
            "127.0.0.1",
            port,
            "paperless",
            Some(password),
            "paperless",
            sql,
        )
    };
    let answer = |sql: &str| {
        through(APP_PASSWORD, sql)
            .unwrap_or_else(|error| panic!("{error}\n--- pgbouncer log\n{}", bouncer.log()))
    };
    assert_eq!(answer("SELECT 1"), "1");
    // The server behind it, not PgBouncer, answers: its port, its database.
    assert_eq!(
        answer("SELECT current_database() || ' ' || current_user || ' ' || inet_server_port()"),
        format!("paperless paperless {}", cluster.port())
    );
    // Nothing in the configuration made it complain.
    let log = bouncer.log();
    assert!(
        !log.lines().any(|line| line.contains(" WARNING ")
            || line.contains(" ERROR ")
            || line.contains(" FATAL ")),
        "PgBouncer complained about the generated configuration:\n{log}"
    );

    let wrong = through("not the password", "SELECT 1");
    assert!(
        wrong
            .as_ref()
            .is_err_and(|error| error.contains("authentication failed")),
        "PgBouncer must reject a wrong password: {wrong:?}"
    );
}

#[test]
fn exporter_with_the_generated_settings_serves_pg_up_1() {
    let profile = "aws-small";
    let generated = Generated::render();
    let cluster = TempCluster::paperless(&generated, &generated.server(profile));
    let exporter = debian_program(
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    );
    eprintln!("{}", program_version(&exporter));
    let sandbox = cluster.sandbox();

    let objects = build(profile);
    let mut env = container_env(postgres_container(&objects, "postgres-exporter"));
    // In the pod the exporter reaches the server on localhost:5432: here it
    // is the test server's port; it verifies the server's certificate (for
    // the name localhost) with the CA the pod mounts, here the test CA.
    let uri = env.get_mut("DATA_SOURCE_URI").expect("DATA_SOURCE_URI");
    let (address, database) = uri.split_once('/').expect("host:port/database in the URI");
    assert_eq!(address, "localhost:5432", "DATA_SOURCE_URI {uri}");
    let database = substitute(
        database,
        "sslrootcert=/etc/postgresql/tls/ca.crt",
        &format!("sslrootcert={}", cluster.tls().ca.display()),
    );
    assert!(
        database.contains("sslmode=verify-full"),
        "DATA_SOURCE_URI {uri}"
    );
    *uri = format!("localhost:{}/{database}", cluster.port());
    // The Secret's mount is the credentials directory of the sandbox.
    let pass_file = env
        .get_mut("DATA_SOURCE_PASS_FILE")
        .expect("DATA_SOURCE_PASS_FILE");
    let key = Path::new(pass_file.as_str())
        .file_name()
        .expect("a file name")
        .to_owned();
    *pass_file = cluster
        .credentials_dir()
        .join(key)
        .to_string_lossy()
        .into_owned();

    let port = free_port();
    let mut daemon = Daemon::spawn(
        sandbox,
        "postgres-exporter",
        sandbox
            .command(&exporter)
            .envs(&env)
            .arg(format!("--web.listen-address=127.0.0.1:{port}")),
    );
    daemon.wait_until_ready(|| {
        let metrics = pg::http_get(port, "/metrics")?;
        match metrics.lines().find(|line| line.starts_with("pg_up ")) {
            Some("pg_up 1") => Ok(()),
            other => Err(format!("{other:?} in /metrics (env {env:?})")),
        }
    });
    // Every collector ran: the role has the rights it needs.
    let log = daemon.log();
    assert!(
        !log.contains("level=error"),
        "the exporter reported errors:\n{log}"
    );
}

/// A postgres:15 profile initialises its cluster with the `C` collation
/// (byte order, compared by PostgreSQL itself, not by glibc: a node with a
/// newer image sorts text indexes the same), as Debian's PostgreSQL 15
/// initdb applies the StatefulSet's POSTGRES_INITDB_ARGS.
#[test]
fn a_postgresql_15_cluster_is_initialised_with_a_collation_glibc_does_not_decide() {
    let generated = Generated::render_profiles(
        &[("pg15", "extends: aws-small\nimage: postgres:15\n")],
        &["pg15"],
    );
    let objects = pg::kustomize_build(&generated.tree().join("overlays/pg15"));
    let env = container_env(postgres_container(&objects, "postgres"));
    let args = &env["POSTGRES_INITDB_ARGS"];
    let sandbox = pg::Sandbox::new();
    let credentials = pg::write_credentials(&sandbox);
    let output = pg::run(
        sandbox
            .command(sandbox.program("initdb"))
            .arg("--pgdata")
            .arg(sandbox.path().join("data"))
            .args(["--username=postgres", "--no-sync", "--pwfile"])
            .arg(credentials.join("postgres-password"))
            .args(args.split_whitespace()),
    );
    let printed = stdout(&output);
    assert!(
        output.status.success(),
        "{args}: {printed}{}",
        stderr(&output)
    );
    for line in [
        "provider:    libc",
        "LC_COLLATE:  C\n",
        "LC_CTYPE:    C.UTF-8",
    ] {
        assert!(printed.contains(line), "{args}: no {line:?} in\n{printed}");
    }
}
