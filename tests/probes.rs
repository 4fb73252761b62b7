//! The database container's probes against real PostgreSQL servers: the
//! generated commands, run as the kubelet runs them, on a server that
//! replays WAL after a crash. Startup and liveness must pass while it
//! recovers (pg_isready exits 1, "rejecting connections"), readiness only
//! once it accepts connections; no answer at all must fail them all.

mod common;
mod pg;

use std::collections::BTreeMap;
use std::process::Output;

use serde_json::Value;

use common::{palgen, stderr, stdout};
use pg::{
    Generated, PostgresInstall, TempCluster, WAIT, build, postgres_container, postgres_install,
    postgres18, run, wait_until,
};

/// A profile whose generated configuration keeps a lot of WAL between
/// checkpoints (max_wal_size 4GB), as a busy primary does.
const PROFILE: &str = "aws-large";
/// Rows that write about 150MB of WAL: enough that replaying it takes long
/// enough to catch the process that does it.
const ROWS: u32 = 500_000;
const PROBES: [&str; 3] = ["startupProbe", "livenessProbe", "readinessProbe"];

/// The exec command of each probe of the container `postgres`.
fn probe_commands() -> BTreeMap<&'static str, Vec<String>> {
    let objects = build(PROFILE);
    let container = postgres_container(&objects, "postgres");
    PROBES
        .into_iter()
        .map(|probe| {
            let command = container[probe]["exec"]["command"]
                .as_array()
                .unwrap_or_else(|| panic!("{probe} is not an exec probe: {container}"))
                .iter()
                .map(|arg| arg.as_str().expect("a string argument").to_owned())
                .collect();
            (probe, command)
        })
        .collect()
}

/// A probe's command in the cluster's sandbox, pointed at its socket
/// directory and port (the pod's are the defaults, /var/run/postgresql and
/// 5432).
fn run_probe(cluster: &TempCluster, command: &[String]) -> Output {
    run(cluster
        .sandbox()
        .command(&command[0])
        .args(&command[1..])
        .env("PGHOST", cluster.sockets())
        .env("PGPORT", cluster.port().to_string()))
}

/// Exit code of every probe, in [`PROBES`] order.
fn probe_exit_codes(cluster: &TempCluster, commands: &BTreeMap<&str, Vec<String>>) -> Vec<i32> {
    PROBES
        .iter()
        .map(|probe| {
            let output = run_probe(cluster, &commands[probe]);
            output
                .status
                .code()
                .unwrap_or_else(|| panic!("{probe} killed by a signal: {}", stderr(&output)))
        })
        .collect()
}

/// [`probe_exit_codes`], and the exit code of `pg_isready` itself.
fn exit_codes(cluster: &TempCluster, commands: &BTreeMap<&str, Vec<String>>) -> Vec<i32> {
    let mut codes = probe_exit_codes(cluster, commands);
    let bare = ["pg_isready".to_owned()];
    codes.push(
        run_probe(cluster, &bare)
            .status
            .code()
            .expect("an exit code"),
    );
    codes
}

fn signal(pid: u32, name: &str) {
    let output = run(std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string()));
    assert!(
        output.status.success(),
        "kill -{name} {pid}: {}",
        stderr(&output)
    );
}

/// Crash with WAL to replay; the replaying process held still, so that
/// the probes run while recovery is certainly under way; then let go.
fn probes_through_crash_recovery(install: &'static PostgresInstall) {
    let generated = Generated::render();
    let commands = probe_commands();
    let mut cluster = TempCluster::with_install(install);
    cluster.start(&generated.server(PROFILE));
    cluster.psql(
        "postgres",
        &format!(
            "CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 8) AS t \
             FROM generate_series(1, {ROWS}) AS g"
        ),
    );
    assert_eq!(
        exit_codes(&cluster, &commands),
        [0, 0, 0, 0],
        "startup, liveness, readiness and pg_isready on the running server"
    );

    let server = cluster.crash_and_restart();
    let replay = wait_until(WAIT, || {
        server
            .child_pid("postgres: startup")
            .ok_or_else(|| format!("no startup process yet\n{}", server.log()))
    })
    .unwrap_or_else(|error| panic!("{error}"));
    signal(replay, "STOP");
    let log = server.log();
    assert!(
        !log.contains("ready to accept connections"),
        "recovery ended before the replaying process was held: write more WAL\n{log}"
    );
    assert!(
        log.contains("database system was interrupted"),
        "the restart does not recover from a crash:\n{log}"
    );
    let during = exit_codes(&cluster, &commands);
    signal(replay, "CONT");
    assert_eq!(
        during,
        [0, 0, 1, 1],
        "during crash recovery pg_isready exits 1: startup and liveness must pass \
         (exit 0), readiness must not\n{}",
        cluster.log()
    );

    wait_until(WAIT, || {
        let codes = exit_codes(&cluster, &commands);
        (codes == [0, 0, 0, 0])
            .then_some(())
            .ok_or_else(|| format!("exit codes {codes:?}"))
    })
    .unwrap_or_else(|error| panic!("after recovery: {error}\n{}", cluster.log()));
    assert_eq!(
        cluster.psql("postgres", "SELECT count(*) FROM filler"),
        ROWS.to_string(),
        "the replayed rows"
    );

    cluster.stop();
    let after = exit_codes(&cluster, &commands);
    assert_eq!(
        after,
        [1, 1, 2, 2],
        "with no server, pg_isready exits 2 and every probe fails"
    );
}

#[test]
fn probes_let_crash_recovery_finish_on_debian_postgresql() {
    probes_through_crash_recovery(postgres_install());
}

#[test]
fn probes_let_crash_recovery_finish_on_postgresql_18() {
    probes_through_crash_recovery(postgres18());
}

fn startup_probe(objects: &str) -> Value {
    let objects = common::objects_by_identity(objects);
    objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"]["containers"][0]
        ["startupProbe"]
        .clone()
}

/// The startup budget covers replaying max_wal_size on the profile's disk:
/// 64GiB at the 25MiB/s assumed of SSD classes is 2622s, plus 60s to
/// start, in 10s periods.
#[test]
fn startup_budget_covers_replaying_max_wal_size() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("wal-heavy.yaml"),
        "extends: aws-large\nstorage:\n  size: 400Gi\npostgres:\n  max_wal_size: 64Gi\n",
    )
    .expect("write a profile");
    let profiles = dir.path().to_str().expect("a UTF-8 path");
    let output = palgen(&[
        "--profiles-dir",
        profiles,
        "build",
        "--profile",
        "wal-heavy",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let probe = startup_probe(&stdout(&output));
    assert_eq!(probe["periodSeconds"], 10, "{probe}");
    assert_eq!(probe["failureThreshold"], 269, "{probe}");

    // A profile with little WAL keeps the ten minutes it had.
    let output = palgen(&["build", "--profile", PROFILE]);
    let probe = startup_probe(&stdout(&output));
    assert_eq!(probe["failureThreshold"], 60, "{probe}");

    let show = palgen(&["--profiles-dir", profiles, "show", "--profile", "wal-heavy"]);
    assert!(
        stdout(&show).contains(
            "replay of max_wal_size 64Gi at 25MiB/s (SSD) = 2622s, + 60s to start = 2682s"
        ),
        "palgen show explains the budget:\n{}",
        stdout(&show)
    );
}

/// The number of lines of the server's log once it has stopped growing: a
/// session's disconnection is logged as its backend exits, after the
/// client is gone.
fn settled_log_lines(cluster: &TempCluster) -> usize {
    let mut count = cluster.log().lines().count();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = cluster.log().lines().count();
        if now == count {
            return count;
        }
        count = now;
    }
}

/// The lines the server logged after the first `skip`.
fn new_log_lines(cluster: &TempCluster, skip: usize) -> Vec<String> {
    cluster
        .log()
        .lines()
        .skip(skip)
        .map(str::to_owned)
        .collect()
}

/// Every probe, five times, on a running server: what the server logs of
/// them (`expected` lines a probe run), and that real sessions are still
/// logged with their address.
fn probe_log_lines(
    install: &'static PostgresInstall,
    generated: &Generated,
    profile: &str,
    expected_per_probe: &[&str],
) {
    let commands = probe_commands();
    let mut cluster = TempCluster::with_install(install);
    cluster.start(&generated.server(profile));
    cluster.initialise(&generated.base("initdb-paperless.sh"));

    let before = settled_log_lines(&cluster);
    for _ in 0..5 {
        assert_eq!(probe_exit_codes(&cluster, &commands), [0, 0, 0]);
    }
    settled_log_lines(&cluster);
    let logged = new_log_lines(&cluster, before);
    let runs = 5 * PROBES.len();
    let expected: Vec<String> = (0..runs)
        .flat_map(|_| expected_per_probe.iter())
        .map(|line| (*line).to_owned())
        .collect();
    let logged_messages: Vec<String> = logged
        .iter()
        .map(|line| {
            // From the severity on: the prefix holds times and pids.
            let severity = ["LOG:", "FATAL:", "ERROR:", "WARNING:"]
                .iter()
                .filter_map(|severity| line.find(severity))
                .min()
                .unwrap_or(0);
            line[severity..].to_owned()
        })
        .collect();
    assert_eq!(
        logged_messages,
        expected,
        "{runs} probe runs logged this:\n{}",
        logged.join("\n")
    );

    // A session of the application: who, from where (%r), how long.
    let before = cluster.log().lines().count();
    cluster
        .psql_tcp("paperless", pg::APP_PASSWORD, "paperless", "SELECT 1")
        .unwrap_or_else(|error| panic!("{error}\n{}", cluster.log()));
    let wrong = cluster.psql_tcp("paperless", "not the password", "paperless", "SELECT 1");
    assert!(wrong.is_err(), "a wrong password is refused");
    let logged = new_log_lines(&cluster, before).join("\n");
    for wanted in [
        "paperless@paperless 127.0.0.1(",
        "connection authorized: user=paperless database=paperless",
        "disconnection: session time:",
        "password authentication failed for user \"paperless\"",
    ] {
        assert!(
            logged.contains(wanted),
            "the log of a session and a failed login lacks {wanted:?}:\n{logged}"
        );
    }
}

/// PostgreSQL 18 logs nothing of a probe: receipt is not logged, and the
/// probe hangs up before it authenticates.
#[test]
fn probes_do_not_flood_the_log_of_postgresql_18() {
    probe_log_lines(postgres18(), &Generated::render(), PROFILE, &[]);
}

/// Before 18, log_connections cannot leave out the receipt: one line a
/// probe, with the configuration palgen writes for an image of that major.
#[test]
fn probes_log_one_line_each_on_debian_postgresql() {
    let major = pg::server_major();
    assert!(major < 18, "Debian's server is older than 18");
    let profile = format!("aws-large-{major}");
    let generated = Generated::render_profiles(
        &[(
            &profile,
            &format!("extends: {PROFILE}\nimage: postgres:{major}\n"),
        )],
        &[&profile],
    );
    probe_log_lines(
        postgres_install(),
        &generated,
        &profile,
        &["LOG:  connection received: host=[local]"],
    );
}
