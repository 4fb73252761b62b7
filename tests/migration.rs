//! The commands of the engine-switch procedure `palgen plan` prints, run
//! against real PostgreSQL servers: the dump before anything changes, the
//! row counts of both servers and their `diff` that verifies the import,
//! and the final dump before the old volumes go. Each command is what the
//! step runs in a database container (after `kubectl exec ... --`), run in
//! the server's sandbox as the container's user, over the local socket.
//! CloudNativePG's import itself (pg_dump and pg_restore by the operator)
//! is stood in for by restoring the dump into the second server.

mod common;
mod pg;

use std::fs;

use common::{palgen_in, stderr, stdout};
use pg::{APP_PASSWORD, Generated, TempCluster, describe};

/// The procedure of StatefulSet postgres when user profile `acme`
/// (extends aws-small) switches to the cloudnative-pg engine.
fn migration_steps() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("profiles")).unwrap();
    let profile = dir.path().join("profiles/acme.yaml");
    fs::write(&profile, "extends: aws-small\n").unwrap();
    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme", "-q"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    fs::write(
        &profile,
        "extends: aws-small\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme-backups/postgres\n",
    )
    .unwrap();
    let planned = palgen_in(dir.path(), &["plan"]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    let report = stdout(&planned);
    let steps = common::overlay_procedure(&report, "acme");
    assert!(steps.len() > 10, "no migration procedure:\n{report}");
    steps
}

/// The step that writes `file`, as it runs in the container: what follows
/// `kubectl exec ... --`, without the comment.
fn in_container(steps: &[String], file: &str) -> String {
    let step = steps
        .iter()
        .find(|s| {
            s.split("   #")
                .next()
                .unwrap()
                .ends_with(&format!("> {file}"))
        })
        .unwrap_or_else(|| panic!("no step writes {file}: {steps:#?}"));
    let command = step.split("   #").next().unwrap();
    command
        .split_once(" -- ")
        .unwrap_or_else(|| panic!("not run in a container: {step}"))
        .1
        .to_owned()
}

fn run(cluster: &TempCluster, name: &str, command: &str) -> std::process::Output {
    cluster.sandbox().run_script(
        name,
        command,
        &[],
        &[
            ("PGHOST", &cluster.sockets()),
            ("PGPORT", &cluster.port().to_string()),
        ],
    )
}

fn run_ok(cluster: &TempCluster, name: &str, command: &str) {
    let output = run(cluster, name, command);
    assert!(
        output.status.success(),
        "{command}: {}\n{}",
        describe(&output),
        cluster.log()
    );
}

#[test]
fn the_migration_dump_and_import_check_run_on_real_servers() {
    let steps = migration_steps();
    let generated = Generated::render();
    let server = generated.server("aws-small");
    let statefulset = TempCluster::paperless(&generated, &server);
    let cluster = TempCluster::paperless(&generated, &server);
    let app = |c: &TempCluster, sql: &str| {
        c.psql_tcp("paperless", APP_PASSWORD, "paperless", sql)
            .unwrap_or_else(|e| panic!("{e}\n{}", c.log()))
    };
    app(
        &statefulset,
        "CREATE TABLE documents (id integer PRIMARY KEY, title text); \
         INSERT INTO documents SELECT i, 'document ' || i FROM generate_series(1, 500) AS i; \
         CREATE TABLE tags (id integer PRIMARY KEY); INSERT INTO tags VALUES (1), (2)",
    );

    // The dump before anything changes, then the import (stood in for).
    run_ok(
        &statefulset,
        "dump.sh",
        &in_container(&steps, "paperless.sql"),
    );
    let dump = statefulset.sandbox().path().join("paperless.sql");
    fs::copy(&dump, cluster.sandbox().path().join("paperless.sql")).unwrap();
    run_ok(
        &cluster,
        "import.sh",
        "psql -U postgres -v ON_ERROR_STOP=1 --single-transaction -d paperless < paperless.sql",
    );

    // The verification: row counts on both, compared by the step as written.
    let verify = |expect_same: bool| {
        run_ok(
            &statefulset,
            "rows.sh",
            &in_container(&steps, "rows-statefulset.txt"),
        );
        run_ok(
            &cluster,
            "rows.sh",
            &in_container(&steps, "rows-cluster.txt"),
        );
        fs::copy(
            cluster.sandbox().path().join("rows-cluster.txt"),
            statefulset.sandbox().path().join("rows-cluster.txt"),
        )
        .unwrap();
        let diff = steps
            .iter()
            .find(|s| s.starts_with("diff rows-statefulset.txt rows-cluster.txt"))
            .unwrap();
        let output = run(&statefulset, "diff.sh", diff.split("   #").next().unwrap());
        assert_eq!(
            output.status.success(),
            expect_same,
            "{}",
            describe(&output)
        );
        output
    };
    verify(true);
    let counts =
        fs::read_to_string(statefulset.sandbox().path().join("rows-statefulset.txt")).unwrap();
    assert_eq!(counts, "documents 500\ntags 2\n");

    // A row the import missed fails the check, naming the table.
    app(&statefulset, "INSERT INTO tags VALUES (3)");
    let missed = verify(false);
    assert!(stdout(&missed).contains("tags 3"), "{}", describe(&missed));

    // The final dump before the old volumes go.
    run_ok(
        &statefulset,
        "final.sh",
        &in_container(&steps, "paperless-statefulset-final.sql"),
    );
    let final_dump = fs::read_to_string(
        statefulset
            .sandbox()
            .path()
            .join("paperless-statefulset-final.sql"),
    )
    .unwrap();
    assert!(final_dump.contains("COPY public.tags"), "{final_dump}");
}
