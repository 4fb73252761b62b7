//! Audit logging (`audit.log_statement`, `audit.connections`), read back
//! from the log of real servers started with the generated
//! postgresql.conf and initialised by the generated init script:
//! PostgreSQL 18 (the image's major) and Debian's older one.
//!
//! - Each level logs exactly the statements it names, each line with who
//!   (user@database), from where (the client's address) and the
//!   application_name the client gave.
//! - The init script's CREATE ROLE ... PASSWORD, DDL, never puts a password
//!   into the log.
//! - Connection logging can be turned off; a failed login is still logged.

mod common;
mod pg;

use pg::{
    APP_PASSWORD, EXPORTER_PASSWORD, Generated, PostgresInstall, REPLICATION_PASSWORD, TempCluster,
    postgres_install, postgres18,
};

/// What the application does, one statement of each class
/// `log_statement` tells apart, each recognisable in the log.
const SESSION: [(&str, &str); 3] = [
    ("ddl", "CREATE TABLE audit_probe (x int)"),
    ("mod", "INSERT INTO audit_probe VALUES (42)"),
    ("all", "SELECT x AS audit_read FROM audit_probe"),
];
const APPLICATION: &str = "audit-check";

/// A server of `install` with the configuration of a profile extending
/// aws-large with `overrides`, initialised as on a first start.
fn audited_server(install: &'static PostgresInstall, overrides: &str) -> TempCluster {
    let major = install.major;
    let profile = "acme-audit";
    let generated = Generated::render_profiles(
        &[(
            profile,
            &format!("extends: aws-large\nimage: postgres:{major}\n{overrides}"),
        )],
        &[profile],
    );
    let mut cluster = TempCluster::with_install(install);
    cluster.start(&generated.server(profile));
    cluster.initialise(&generated.base("initdb-paperless.sh"));
    cluster
}

/// The application's statements over TCP with its password and an
/// application_name, one query each (a query of several statements is
/// logged as one line); the lines the server logged for them.
fn application_session(cluster: &TempCluster) -> Vec<String> {
    let before = cluster.log().lines().count();
    for (_, statement) in SESSION {
        cluster
            .psql_tcp(
                "paperless",
                APP_PASSWORD,
                &format!("dbname=paperless application_name={APPLICATION}"),
                statement,
            )
            .unwrap_or_else(|error| panic!("{error}\n{}", cluster.log()));
    }
    settled_lines_after(cluster, before)
}

/// The log's lines after the first `skip`, once it stopped growing: a
/// disconnection is logged as the backend exits, after the client is gone.
fn settled_lines_after(cluster: &TempCluster, skip: usize) -> Vec<String> {
    let mut count = cluster.log().lines().count();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = cluster.log().lines().count();
        if now == count {
            break;
        }
        count = now;
    }
    cluster
        .log()
        .lines()
        .skip(skip)
        .map(str::to_owned)
        .collect()
}

/// The statements of [`SESSION`] that the lines log, by class.
fn logged_classes(lines: &[String]) -> Vec<&'static str> {
    SESSION
        .iter()
        .filter(|(_, statement)| {
            lines
                .iter()
                .any(|line| line.contains(&format!("statement: {statement}")))
        })
        .map(|(class, _)| *class)
        .collect()
}

/// Every statement line names who, from where and which application.
fn assert_statement_lines_say_who(lines: &[String]) {
    for line in lines.iter().filter(|line| line.contains("statement: ")) {
        assert!(
            line.contains("paperless@paperless 127.0.0.1(")
                && line.contains(&format!("app={APPLICATION} ")),
            "a statement line without user@database, client address and application:\n{line}"
        );
    }
}

/// The cloud profiles' default (ddl): the schema change with who did it,
/// not the writes or reads; the init script's passwords never.
fn ddl_by_default(install: &'static PostgresInstall) {
    let cluster = audited_server(install, "");
    assert_eq!(cluster.show("log_statement"), "ddl");
    let initialised = cluster.log();
    for password in [APP_PASSWORD, EXPORTER_PASSWORD, REPLICATION_PASSWORD] {
        assert!(
            !initialised.contains(password),
            "the init script's password {password:?} is in the log:\n{initialised}"
        );
    }
    let lines = application_session(&cluster);
    assert_eq!(logged_classes(&lines), ["ddl"], "{}", lines.join("\n"));
    assert_statement_lines_say_who(&lines);
    let log = lines.join("\n");
    assert!(
        log.contains("connection authorized: user=paperless database=paperless")
            && log.contains("disconnection: session time:"),
        "the session's connection is not logged:\n{log}"
    );
}

#[test]
fn cloud_profiles_log_schema_changes_with_who_and_where_on_postgresql_18() {
    ddl_by_default(postgres18());
}

#[test]
fn cloud_profiles_log_schema_changes_with_who_and_where_on_debian_postgresql() {
    assert!(pg::server_major() < 18, "Debian's server is older than 18");
    ddl_by_default(postgres_install());
}

/// Each level logs what it names and nothing of the statements it leaves
/// out; the replication role's password stays out of the log at `all`
/// too (a profile with read replicas creates that role).
#[test]
fn each_log_statement_level_logs_what_it_names_on_postgresql_18() {
    for (level, expected) in [
        ("none", &[][..]),
        ("mod", &["ddl", "mod"][..]),
        ("all", &["ddl", "mod", "all"][..]),
    ] {
        let cluster = audited_server(postgres18(), &format!("audit:\n  log_statement: {level}\n"));
        let initialised = cluster.log();
        for password in [APP_PASSWORD, EXPORTER_PASSWORD, REPLICATION_PASSWORD] {
            assert!(
                !initialised.contains(password),
                "{level}: the init script's password {password:?} is in the log:\n{initialised}"
            );
        }
        let lines = application_session(&cluster);
        assert_eq!(
            logged_classes(&lines),
            expected,
            "log_statement {level}:\n{}",
            lines.join("\n")
        );
        assert_statement_lines_say_who(&lines);
    }
}

/// `audit.connections: false`: sessions leave no connection lines; a
/// failed login still logs its error.
#[test]
fn connection_logging_can_be_turned_off_on_postgresql_18() {
    let cluster = audited_server(postgres18(), "audit:\n  connections: false\n");
    let lines = application_session(&cluster);
    let log = lines.join("\n");
    for unwanted in ["connection authorized", "disconnection: session time"] {
        assert!(!log.contains(unwanted), "{unwanted:?} is logged:\n{log}");
    }
    let before = cluster.log().lines().count();
    let wrong = cluster.psql_tcp("paperless", "not the password", "paperless", "SELECT 1");
    assert!(wrong.is_err(), "a wrong password is refused");
    let log = settled_lines_after(&cluster, before).join("\n");
    assert!(
        log.contains("password authentication failed for user \"paperless\""),
        "a failed login is not logged:\n{log}"
    );
}
