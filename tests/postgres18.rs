//! The committed configuration on PostgreSQL 18, the major of the image the
//! manifests name (`postgres:18`): its server programs are built from
//! source with lz4, as the image's are (see `pg/pg18.rs`), the clients are
//! Debian's.
//!
//! - Every postgresql.conf and pg_hba.conf under k8s/, found by walking the
//!   tree, runs a server as it is: nothing commented out.
//! - Each kustomization of k8s/ that builds the StatefulSet `postgres` is
//!   started the way the image's entrypoint starts it on an empty volume
//!   (see `pg/entrypoint.rs`), and the server it leaves has what the init
//!   script creates and answers the container's probe.

mod common;
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread;

use common::{files_under, repo_root, stdout};
use pg::{
    Pod, Sandbox, Server, ServerCertificate, ServerSpec, describe, initdb, kustomize_build,
    parse_conf, pg_isready, postgres18, require_peer_admits_postgres, run, write_credentials,
    write_tls,
};

/// Parameters the servers are given on the command line: each test server
/// needs its own port, loopback only, and the pod's absolute paths
/// (`/var/run/postgresql`, `/etc/postgresql/config/pg_hba.conf`, the TLS
/// Secret's certificate and key) stand for files of the sandbox.
/// `postgres -C` proves the file's own values.
const OVERRIDDEN: [&str; 6] = [
    "port",
    "listen_addresses",
    "unix_socket_directories",
    "hba_file",
    "ssl_cert_file",
    "ssl_key_file",
];

/// What pg_file_settings says of a file line whose parameter the command
/// line holds (a restart-only parameter with another value in the file).
const HELD_BY_COMMAND_LINE: &str = "setting could not be applied";

/// The committed files of that name anywhere under k8s/.
fn committed(file_name: &str) -> Vec<String> {
    let root = repo_root();
    files_under(&root, &root.join("k8s"))
        .into_iter()
        .filter(|path| path.rsplit('/').next() == Some(file_name))
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `postgres -C name` with nothing but the file: Ok(the value it prints),
/// Err(its messages) when the file does not load.
fn postgres_c(sandbox: &Sandbox, data: &Path, config: &Path, name: &str) -> Result<String, String> {
    let output = run(sandbox
        .command(sandbox.program("postgres"))
        .arg("-D")
        .arg(data)
        .arg("-c")
        .arg(format!("config_file={}", config.display()))
        .args(["-C", name]));
    if output.status.success() {
        Ok(stdout(&output).trim_end().to_owned())
    } else {
        Err(describe(&output))
    }
}

/// Proves that `server` runs with `config` and `hba` as PostgreSQL 18 reads
/// them; returns what is wrong (empty when nothing is). `postgres -C`, on
/// the file alone, must print each overridden parameter's value as written.
/// Every line must be in pg_file_settings without error (the overridden
/// ones: held by the command line), every other parameter must come from
/// its line with its value and no restart pending; pg_hba_file_rules must
/// have every rule line of pg_hba.conf and no error.
fn wrong_settings(
    server: &Server,
    config_file: &Path,
    hba_file: &Path,
    c_values: &BTreeMap<String, Result<String, String>>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let config = config_file.to_string_lossy();
    let entries = parse_conf(&read(config_file));
    assert!(!entries.is_empty(), "{config} sets nothing");

    for entry in entries
        .iter()
        .filter(|entry| OVERRIDDEN.contains(&entry.name.as_str()))
    {
        match &c_values[&entry.name] {
            Ok(value) if *value == entry.value => {}
            Ok(value) => wrong.push(format!(
                "line {}: postgres -C {} prints {value:?}, the file says {:?}",
                entry.line, entry.name, entry.value
            )),
            Err(error) => wrong.push(format!("postgres -C {}: {error}", entry.name)),
        }
    }

    let file_rows = server.sql(
        "postgres",
        &format!(
            "SELECT sourceline || chr(31) || lower(name) || chr(31) || coalesce(error, '') \
             FROM pg_file_settings WHERE sourcefile = '{config}' ORDER BY sourceline"
        ),
    );
    let file_rows: Vec<(usize, String, String)> = file_rows
        .lines()
        .map(|row| {
            let fields: Vec<&str> = row.split('\u{1f}').collect();
            (
                fields[0].parse().expect("sourceline"),
                fields[1].to_owned(),
                fields[2].to_owned(),
            )
        })
        .collect();
    let expected_lines: Vec<(usize, String)> = entries
        .iter()
        .map(|entry| (entry.line, entry.name.clone()))
        .collect();
    let read_lines: Vec<(usize, String)> = file_rows
        .iter()
        .map(|(line, name, _)| (*line, name.clone()))
        .collect();
    if read_lines != expected_lines {
        wrong.push(format!(
            "pg_file_settings has the lines {read_lines:?}, the file {expected_lines:?}"
        ));
    }
    for (line, name, error) in &file_rows {
        // A restart-only parameter the command line holds reports it; one
        // that a reload could change (the certificate paths) does not.
        let allowed = error.is_empty()
            || (OVERRIDDEN.contains(&name.as_str()) && error == HELD_BY_COMMAND_LINE);
        if !allowed {
            wrong.push(format!("line {line} ({name}): error {error:?}"));
        }
    }
    let other_errors = server.sql(
        "postgres",
        &format!(
            "SELECT string_agg(coalesce(sourcefile, '?') || ':' || coalesce(sourceline::text, '?') \
             || ' ' || error, '; ') FROM pg_file_settings WHERE error IS NOT NULL \
             AND sourcefile IS DISTINCT FROM '{config}'"
        ),
    );
    if !other_errors.is_empty() {
        wrong.push(format!("errors outside the file: {other_errors}"));
    }

    let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    let settings = server.settings(&names);
    for entry in &entries {
        if OVERRIDDEN.contains(&entry.name.as_str()) {
            continue;
        }
        let Some(setting) = settings.get(&entry.name) else {
            wrong.push(format!(
                "line {}: {} is not a parameter of PostgreSQL 18",
                entry.line, entry.name
            ));
            continue;
        };
        let from = (
            setting.source.as_str(),
            setting.sourcefile.as_str(),
            setting.sourceline.as_str(),
        );
        if from != ("configuration file", &*config, &entry.line.to_string()) {
            wrong.push(format!(
                "line {}: {} did not take effect: {setting:?}",
                entry.line, entry.name
            ));
        } else if setting.normalise(&setting.setting) != setting.normalise(&entry.value) {
            wrong.push(format!(
                "line {}: {} = {:?} in the file, the server has {:?} {}",
                entry.line, entry.name, entry.value, setting.setting, setting.unit
            ));
        }
    }
    let pending: BTreeSet<String> = server
        .sql(
            "postgres",
            "SELECT lower(name) FROM pg_settings WHERE pending_restart",
        )
        .lines()
        .map(str::to_owned)
        .collect();
    let unexpected: Vec<&String> = pending
        .iter()
        .filter(|name| !OVERRIDDEN.contains(&name.as_str()))
        .collect();
    if !unexpected.is_empty() {
        wrong.push(format!("pending restart: {unexpected:?}"));
    }

    let hba = hba_file.to_string_lossy();
    let rule_lines: Vec<String> = read(hba_file)
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(index, _)| (index + 1).to_string())
        .collect();
    let rules = server.sql(
        "postgres",
        "SELECT file_name || chr(31) || coalesce(line_number::text, '') || chr(31) || \
         coalesce(error, '') FROM pg_hba_file_rules ORDER BY rule_number, line_number",
    );
    let mut read_rules = Vec::new();
    for row in rules.lines() {
        let fields: Vec<&str> = row.split('\u{1f}').collect();
        if fields[0] != hba {
            wrong.push(format!("pg_hba_file_rules reads another file: {row:?}"));
        }
        if !fields[2].is_empty() {
            wrong.push(format!("{hba}:{}: {}", fields[1], fields[2]));
        }
        read_rules.push(fields[1].to_owned());
    }
    if read_rules != rule_lines {
        wrong.push(format!(
            "pg_hba_file_rules has the lines {read_rules:?}, the file's rules are on {rule_lines:?}"
        ));
    }
    wrong
}

/// The `postgres -C` values of the overridden parameters, from the file
/// alone (read before the server runs on the data directory).
fn c_values(
    sandbox: &Sandbox,
    data: &Path,
    config: &Path,
) -> BTreeMap<String, Result<String, String>> {
    OVERRIDDEN
        .iter()
        .map(|&name| (name.to_owned(), postgres_c(sandbox, data, config, name)))
        .collect()
}

/// Copies a committed file into the sandbox byte for byte.
fn copy_in(sandbox: &Sandbox, relative: &str, at: &str) -> PathBuf {
    let text = read(&repo_root().join(relative));
    let path = sandbox.write(at, &text);
    assert_eq!(fs::read(&path).expect("read the copy"), text.as_bytes());
    path
}

#[test]
fn every_committed_postgresql_conf_and_pg_hba_conf_runs_unchanged_on_postgresql_18() {
    require_peer_admits_postgres();
    let confs = committed("postgresql.conf");
    let hbas = committed("pg_hba.conf");
    let base_conf = "k8s/base/postgresql.conf".to_owned();
    let base_hba = "k8s/base/pg_hba.conf".to_owned();
    assert!(confs.contains(&base_conf), "{confs:?}");
    assert!(hbas.contains(&base_hba), "{hbas:?}");
    // Each postgresql.conf with the pg_hba.conf beside it (else base's);
    // then every pg_hba.conf not used so, with base's postgresql.conf.
    let mut pairs: Vec<(String, String)> = confs
        .iter()
        .map(|conf| {
            let beside = format!("{}/pg_hba.conf", conf.rsplit_once('/').expect("a dir").0);
            let hba = if hbas.contains(&beside) {
                beside
            } else {
                base_hba.clone()
            };
            (conf.clone(), hba)
        })
        .collect();
    for hba in &hbas {
        if !pairs.iter().any(|(_, used)| used == hba) {
            pairs.push((base_conf.clone(), hba.clone()));
        }
    }

    let install = postgres18();
    eprintln!("{}: {} pairs", install.version, pairs.len());
    let sandbox = Sandbox::with_install(install);
    let credentials = write_credentials(&sandbox);
    let data = sandbox.path().join("data");
    initdb(&sandbox, &data, &credentials);
    let sockets = sandbox.dir("sockets");
    // Every committed postgresql.conf turns TLS on; the server needs the
    // Secret's files, as the pod mounts them (root-owned, group-readable).
    let tls = write_tls(
        &sandbox,
        "tls",
        &ServerCertificate {
            dns_names: vec!["localhost".to_owned()],
            key_mode: 0o440,
        },
    );

    let mut failures = Vec::new();
    for (index, (conf, hba)) in pairs.iter().enumerate() {
        let config_file = copy_in(&sandbox, conf, &format!("{index}-postgresql.conf"));
        let hba_file = copy_in(&sandbox, hba, &format!("{index}-pg_hba.conf"));
        let c_values = c_values(&sandbox, &data, &config_file);
        let server = Server::start(
            &sandbox,
            &ServerSpec {
                name: &format!("postgres-{index}"),
                data: &data,
                config: &config_file,
                hba: &hba_file,
                sockets: &sockets,
                tls: &tls,
                env: &[],
            },
        );
        let wrong = wrong_settings(&server, &config_file, &hba_file, &c_values);
        if !wrong.is_empty() {
            failures.push(format!(
                "{conf} with {hba}:\n  {}\n{}",
                wrong.join("\n  "),
                server.log()
            ));
        }
        server.stop();
    }
    assert!(
        failures.is_empty(),
        "PostgreSQL 18 does not run the committed files as written:\n{}",
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------
// The container's first start.

/// The kustomizations of k8s/ that build the StatefulSet `postgres` (the
/// base and every overlay; components build nothing alone).
fn deployments() -> Vec<PathBuf> {
    let root = repo_root();
    let dirs: Vec<PathBuf> = files_under(&root, &root.join("k8s"))
        .into_iter()
        .filter(|path| path.ends_with("/kustomization.yaml"))
        .map(|path| root.join(path).parent().expect("a directory").to_path_buf())
        .filter(|dir| {
            let text = read(&dir.join("kustomization.yaml"));
            !text.contains("\nkind: Component")
        })
        .collect();
    assert!(
        dirs.contains(&root.join("k8s/base")),
        "no k8s/base in {dirs:?}"
    );
    dirs
}

/// Starts the container of `dir`'s build on an empty volume and proves what
/// the server it leaves has; returns what is wrong.
fn first_start_of(dir: &Path) -> Vec<String> {
    let name = dir
        .strip_prefix(repo_root())
        .unwrap_or(dir)
        .display()
        .to_string();
    let objects = kustomize_build(dir);
    if !objects.contains_key("StatefulSet/paless/postgres") {
        eprintln!("{name}: builds no StatefulSet postgres, nothing to start");
        return Vec::new();
    }
    let sandbox = Sandbox::with_install(postgres18());
    let pod = Pod::lay_out(&sandbox, &objects);
    let started = pod.first_start();
    if !started.status.success() {
        return vec![format!(
            "{name}: the entrypoint failed: {}",
            describe(&started)
        )];
    }
    let init_script = pod.host_path("/docker-entrypoint-initdb.d/initdb-paperless.sh");
    let mode = fs::metadata(&init_script)
        .expect("the init script is mounted")
        .permissions()
        .mode();
    let verb = if mode & 0o111 == 0 {
        "sourcing"
    } else {
        "running"
    };
    let log = stdout(&started);
    let mut wrong = Vec::new();
    if !log.contains(&format!("entrypoint: {verb} {}", init_script.display())) {
        wrong.push(format!(
            "the entrypoint did not run the init script:\n{log}"
        ));
    }

    let config = pod.config_file();
    let (sockets, hba) = (
        pod.host_path(&pod.conf_value("unix_socket_directories")),
        pod.host_path(&pod.conf_value("hba_file")),
    );
    let c_values = c_values(&sandbox, Path::new(pod.env("PGDATA")), &config);
    let server = pod.start();
    wrong.extend(wrong_settings(&server, &config, &hba, &c_values));

    let password = |key: &str| pod.secret(key).unwrap_or_else(|| panic!("no {key}"));
    let expect =
        |wrong: &mut Vec<String>, what: &str, got: Result<String, String>, want: &str| match got {
            Ok(got) if got == want => {}
            Ok(got) => wrong.push(format!("{what}: {got:?}, expected {want:?}")),
            Err(error) => wrong.push(format!("{what}: {error}")),
        };
    // initdb took the superuser's password from POSTGRES_PASSWORD_FILE.
    expect(
        &mut wrong,
        "the superuser over TCP with the Secret's postgres-password",
        server.sql_as(
            "postgres",
            password("postgres-password"),
            "postgres",
            "SELECT current_user",
        ),
        "postgres",
    );
    // A collation PostgreSQL computes itself, whatever the image's glibc.
    expect(
        &mut wrong,
        "locale provider, builtin locale, collation and character type of template1 and paperless",
        Ok(server.sql(
            "postgres",
            "SELECT string_agg(datname || ' ' || datlocprovider::text || ' ' || coalesce(datlocale, '-')              || ' ' || datcollate || ' ' || datctype, ', ' ORDER BY datname) FROM pg_database              WHERE datname IN ('template1', 'paperless')",
        )),
        "paperless b C.UTF-8 C C.UTF-8, template1 b C.UTF-8 C C.UTF-8",
    );
    for database in ["template1", "paperless"] {
        expect(
            &mut wrong,
            &format!("extensions in {database}"),
            Ok(server.sql(
                database,
                "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension \
                 WHERE extname IN ('uuid-ossp', 'pgcrypto')",
            )),
            "pgcrypto,uuid-ossp",
        );
    }
    expect(
        &mut wrong,
        "roles",
        Ok(server.sql(
            "postgres",
            "SELECT string_agg(rolname || ' super=' || rolsuper || ' login=' || rolcanlogin \
             || ' replication=' || rolreplication || ' scram=' \
             || (rolpassword LIKE 'SCRAM-SHA-256$%'), ', ' ORDER BY rolname) FROM pg_authid \
             WHERE rolname NOT LIKE 'pg\\_%'",
        )),
        &[
            "paperless super=false login=true replication=false scram=true",
            "postgres super=true login=true replication=true scram=true",
            "postgres_exporter super=false login=true replication=false scram=true",
        ]
        .into_iter()
        .chain(
            pod.secret("replication-password")
                .map(|_| "replicator super=false login=true replication=true scram=true"),
        )
        .collect::<Vec<_>>()
        .join(", "),
    );
    expect(
        &mut wrong,
        "owner of the database paperless, and who may connect",
        Ok(server.sql(
            "postgres",
            "SELECT pg_get_userbyid(datdba) || ' ' || (SELECT string_agg(grant_, ',' ORDER BY \
             grant_) FROM (SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' \
             ELSE pg_get_userbyid(a.grantee) END || ':' || a.privilege_type AS grant_ \
             FROM aclexplode(datacl) AS a) AS grants) \
             FROM pg_database WHERE datname = 'paperless'",
        )),
        "paperless paperless:CONNECT,paperless:CREATE,paperless:TEMPORARY,\
         postgres_exporter:CONNECT",
    );
    expect(
        &mut wrong,
        "paperless over TCP uses both extensions",
        server.sql_as(
            "paperless",
            password("app-password"),
            "paperless",
            "SELECT length(uuid_generate_v4()::text) || ' ' || \
             encode(digest('x', 'sha256'), 'hex')",
        ),
        "36 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
    );
    expect(
        &mut wrong,
        "postgres_exporter over TCP is a pg_monitor",
        server.sql_as(
            "postgres_exporter",
            password("exporter-password"),
            "paperless",
            "SELECT pg_has_role('pg_monitor', 'member')",
        ),
        "t",
    );

    // The container's probe, pointed at the sandbox's socket directory and
    // the test port (in the pod: the defaults, /var/run/postgresql and 5432).
    let probe = pod.probe();
    assert_eq!(
        probe[0], "pg_isready",
        "the probe runs pg_isready: {probe:?}"
    );
    let sockets = sockets.to_string_lossy();
    let mut args: Vec<&str> = probe[1..].iter().map(String::as_str).collect();
    args.extend(["-h", &sockets]);
    let up = pg_isready(pod.sandbox(), server.port(), &args);
    if !up.status.success() {
        wrong.push(format!(
            "{probe:?} on the running server: {}",
            describe(&up)
        ));
    }
    let port = server.port();
    server.stop();
    let down = pg_isready(pod.sandbox(), port, &args);
    if down.status.success() {
        wrong.push(format!("{probe:?} answers with the server stopped"));
    }
    wrong
        .into_iter()
        .map(|line| format!("{name}: {line}"))
        .collect()
}

#[test]
fn every_deployment_is_initialised_on_postgresql_18_as_the_image_entrypoint_does() {
    require_peer_admits_postgres();
    let dirs = deployments();
    eprintln!("{}: {} kustomizations", postgres18().version, dirs.len());
    // Two at a time: each is an initdb and three server starts.
    let failures: Vec<String> = thread::scope(|scope| {
        let dirs = &dirs;
        let workers: Vec<_> = (0..2)
            .map(|first| {
                scope.spawn(move || {
                    dirs.iter()
                        .skip(first)
                        .step_by(2)
                        .flat_map(|dir| first_start_of(dir))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a worker panicked"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "the first start on PostgreSQL 18 went wrong:\n{}",
        failures.join("\n")
    );
}

/// The harness's entrypoint itself: the scripts of
/// /docker-entrypoint-initdb.d run in sorted order, a plain *.sh sourced by
/// the entrypoint's shell (its variables stay for the next one sourced), an
/// executable one run as its own process (it does not see them), *.sql fed
/// to psql, anything else ignored; all with the entrypoint's environment.
#[test]
fn the_test_entrypoint_sources_plain_scripts_and_runs_executable_ones_in_order() {
    require_peer_admits_postgres();
    let objects = kustomize_build(&repo_root().join("k8s/base"));
    let sandbox = Sandbox::with_install(postgres18());
    let pod = Pod::lay_out(&sandbox, &objects);
    let trace = sandbox.write("trace", "");
    let trace = trace.display();
    let scripts = [
        (
            "10-sourced.sh",
            0o644,
            format!(
                "marker=set-by-10\necho \"10 sourced as=$(basename \"$0\") \
                 user=$POSTGRES_USER db=$POSTGRES_DB password=${{POSTGRES_PASSWORD:+yes}} \
                 pgpassword=${{PGPASSWORD:+yes}} file=${{POSTGRES_PASSWORD_FILE:-unset}}\" >> {trace}\n"
            ),
        ),
        (
            "20-executable.sh",
            0o755,
            format!(
                "#!/bin/bash\necho \"20 executed as=$(basename \"$0\") \
                 marker=${{marker:-unset}}\" >> {trace}\n"
            ),
        ),
        (
            "30-sourced.sh",
            0o644,
            format!("echo \"30 sourced marker=$marker\" >> {trace}\n"),
        ),
        (
            "40-query.sql",
            0o644,
            format!("\\! echo \"40 sql\" >> {trace}\nSELECT 1;\n"),
        ),
        ("50-notes.txt", 0o644, "not run\n".to_owned()),
    ];
    for (name, mode, text) in &scripts {
        let path = pod.host_path(&format!("/docker-entrypoint-initdb.d/{name}"));
        fs::write(&path, text).expect("write a script");
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    let started = pod.first_start();
    assert!(started.status.success(), "{}", describe(&started));
    let trace = fs::read_to_string(sandbox.path().join("trace")).expect("trace");
    assert_eq!(
        trace,
        "10 sourced as=entrypoint.sh user=postgres db=postgres password=yes pgpassword=yes file=unset\n\
         20 executed as=20-executable.sh marker=unset\n\
         30 sourced marker=set-by-10\n\
         40 sql\n",
    );
    let log = stdout(&started);
    assert!(
        log.contains("entrypoint: ignoring ") && log.contains("50-notes.txt"),
        "{log}"
    );
}

/// With read replicas, a slot no replica used for a day is invalidated:
/// PostgreSQL 18 runs aws-large's configuration with that bound, and a slot
/// left by a replica that is gone is dropped from the WAL it holds once
/// idle longer (shown with the bound shortened to a second).
#[test]
fn abandoned_replication_slots_are_invalidated_on_postgresql_18() {
    let generated = pg::Generated::render();
    let mut cluster = pg::TempCluster::with_install(postgres18());
    cluster.start(&generated.server("aws-large"));
    assert_eq!(cluster.show("idle_replication_slot_timeout"), "1d");

    cluster.psql(
        "postgres",
        "SELECT pg_create_physical_replication_slot('postgres_replica_9', true)",
    );
    cluster.psql(
        "postgres",
        "ALTER SYSTEM SET idle_replication_slot_timeout = '1s'",
    );
    cluster.psql("postgres", "SELECT pg_reload_conf()");
    thread::sleep(std::time::Duration::from_secs(2));
    cluster.psql("postgres", "CHECKPOINT");
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT invalidation_reason FROM pg_replication_slots \
             WHERE slot_name = 'postgres_replica_9'"
        ),
        "idle_timeout"
    );
}

/// The memory estimate's private heap per backend (`palgen show`'s total
/// rule, "+ NMB private") holds what a real backend of aws-large's
/// configuration takes privately after catalog and application queries:
/// its RssAnon, read by the backend itself from /proc.
#[test]
fn a_backend_takes_no_more_private_memory_than_the_estimate_counts() {
    let shown = stdout(&common::palgen(&["show", "--profile", "aws-large"]));
    let private_mb: u64 = shown
        .split(" private + ")
        .next()
        .and_then(|before| before.rsplit("+ ").next())
        .and_then(|amount| amount.strip_suffix("MB"))
        .and_then(|mb| mb.parse().ok())
        .unwrap_or_else(|| panic!("no private memory term in:\n{shown}"));
    let generated = pg::Generated::render();
    let mut cluster = pg::TempCluster::with_install(postgres18());
    cluster.start(&generated.server("aws-large"));
    let status = cluster.psql(
        "postgres",
        "CREATE TABLE documents (id serial PRIMARY KEY, title text, body text); \
         INSERT INTO documents (title, body) SELECT 'doc ' || i, repeat('x', 200) FROM generate_series(1, 20000) i; \
         SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid; \
         SELECT title FROM documents ORDER BY body, title LIMIT 5; \
         SELECT pg_read_file('/proc/self/status')",
    );
    let rss_anon_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|value| value.trim().strip_suffix(" kB"))
        .and_then(|kb| kb.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RssAnon in:\n{status}"));
    assert!(
        rss_anon_kb <= private_mb * 1024,
        "a backend holds {rss_anon_kb}kB privately, the estimate counts {private_mb}MB"
    );
    // Measured, so that a smaller constant is seen to fail.
    eprintln!("backend RssAnon {rss_anon_kb}kB of {private_mb}MB counted");
}
