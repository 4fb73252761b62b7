//! TLS and connection logging, proven on a real PostgreSQL server (Debian's
//! `postgresql`) and PgBouncer (Debian's `pgbouncer`) that run the generated
//! postgresql.conf, pg_hba.conf and pgbouncer.ini, with a CA and a server
//! certificate made by openssl for exactly the names of the generated
//! Certificate (see `pg/tls.rs`).
//!
//! Clients reach the server on loopback by a name of the certificate:
//! `host=<name> hostaddr=127.0.0.1`, so libpq connects to the address and
//! verifies the certificate against the name, as it would behind the
//! cluster's DNS.

mod common;
mod pg;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;

use common::PROFILES;
use pg::{
    APP_PASSWORD, CertificateAuthority, Daemon, Generated, Sandbox, TempCluster, build,
    conf_for_server, container_env, describe, free_port, hba_for_test, initdb, pg_program, run,
    server_major, start_pgbouncer, write_credentials, write_tls,
};
use serde_json::Value;

/// The Service name the checks connect by (one of the certificate's).
const SERVICE_NAME: &str = "postgres.paless.svc";

/// `spec.dnsNames` of the server Certificate of `palgen build`.
fn certificate_names(objects: &BTreeMap<String, Value>) -> Vec<String> {
    objects["Certificate/paless/postgres-tls"]["spec"]["dnsNames"]
        .as_array()
        .expect("the Certificate lists dnsNames")
        .iter()
        .map(|name| name.as_str().expect("a name").to_owned())
        .collect()
}

/// psql with a libpq connection string, the password through PGPASSWORD;
/// Ok(rows) or Err(psql's message).
fn connect(sandbox: &Sandbox, conninfo: &str, password: &str, sql: &str) -> Result<String, String> {
    let output = run(sandbox
        .command(pg_program("psql"))
        .args(["--no-psqlrc", "--no-align", "--tuples-only", "--quiet"])
        .args(["--set", "ON_ERROR_STOP=1", "--no-password"])
        .args(["--dbname", conninfo, "--command", sql])
        .env("PGPASSWORD", password));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_owned())
    } else {
        Err(format!("psql {conninfo:?}: {}", describe(&output)))
    }
}

/// The application's connection to `host` on the loopback `port`.
fn conninfo(host: &str, port: u16, tls: &str) -> String {
    format!("host={host} hostaddr=127.0.0.1 port={port} user=paperless dbname=paperless {tls}")
}

/// The SQL that tells whether the session is encrypted, and how.
const SESSION_TLS: &str =
    "SELECT ssl || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// Every name a generated client connects by, and every name of every
/// Service and database pod the build has, is a name of the certificate;
/// and the names the harness reads from the rendered tree (for the test
/// servers' certificates) are the build's.
#[test]
fn the_certificate_names_every_host_clients_connect_to() {
    let generated = Generated::render();
    for profile in PROFILES {
        let objects = build(profile);
        let names = certificate_names(&objects);
        assert_eq!(
            generated.certificate(Some(profile)).dns_names,
            names,
            "{profile}: the tree's Certificate must carry the build's names"
        );
        let mut hosts: Vec<String> = Vec::new();
        for (identity, object) in &objects {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            if identity.starts_with("Service/") {
                hosts.push(name.to_owned());
                hosts.push(format!("{name}.paless.svc.cluster.local"));
            }
            if identity.starts_with("StatefulSet/") {
                let service = object["spec"]["serviceName"].as_str().expect("serviceName");
                for ordinal in 0..object["spec"]["replicas"].as_u64().expect("replicas") {
                    hosts.push(format!("{name}-{ordinal}.{service}"));
                    hosts.push(format!("{name}-{ordinal}.{service}.paless.svc"));
                }
            }
        }
        // The exporter sidecar: localhost, the host of its URI.
        let exporter = container_env(pg::postgres_container(&objects, "postgres-exporter"));
        let uri = &exporter["DATA_SOURCE_URI"];
        hosts.push(uri.split(':').next().expect("host:port").to_owned());
        // The backup job's PGHOST: the dump container, an init container
        // when the dump is also copied off-site.
        if let Some(job) = objects.get("CronJob/paless/postgres-backup") {
            let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
            let dump = ["initContainers", "containers"]
                .iter()
                .filter_map(|list| pod[list].as_array())
                .flatten()
                .find(|container| container["name"] == "dump")
                .expect("the backup job has a container dump");
            let env = container_env(dump);
            hosts.push(env["PGHOST"].clone());
            assert_eq!(env["PGSSLMODE"], "verify-full", "{profile}: the backup job");
        }
        // PgBouncer's server and the replicas' primary.
        if objects.contains_key("Deployment/paless/pgbouncer") {
            let ini = generated.file(profile, "pgbouncer.ini");
            let host = ini
                .split_whitespace()
                .find_map(|word| word.strip_prefix("host="))
                .expect("a host in [databases]");
            hosts.push(host.to_owned());
            assert!(ini.contains("server_tls_sslmode = verify-full"), "{ini}");
        }
        if objects.contains_key("StatefulSet/paless/postgres-replica") {
            let script = generated.file(profile, "replica-bootstrap.sh");
            let host = script
                .split("${PRIMARY_HOST:-")
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .expect("the bootstrap's default primary host");
            hosts.push(host.to_owned());
        }
        for host in &hosts {
            assert!(
                names.contains(host),
                "{profile}: clients connect to {host:?}, which the certificate does not name: {names:?}"
            );
        }
    }
}

/// The generated pg_hba.conf refuses a connection without TLS; the
/// generated TLS settings accept one that verifies the server fully
/// (TLS 1.2 or newer), refuse it with another CA or under a name the
/// certificate does not carry; log_connections and log_disconnections
/// write who connected, how, and for how long.
#[test]
fn plaintext_is_refused_and_only_a_verified_server_is_accepted() {
    let generated = Generated::render();
    let files = generated.server("aws-small");
    assert!(
        files
            .certificate
            .dns_names
            .iter()
            .any(|n| n == SERVICE_NAME)
    );
    let cluster = TempCluster::paperless(&generated, &files);
    let sandbox = cluster.sandbox();
    let port = cluster.port();
    let ca = cluster.tls().ca.display().to_string();
    let verify_full = format!("sslmode=verify-full sslrootcert={ca}");

    let plaintext = connect(
        sandbox,
        &conninfo(SERVICE_NAME, port, "sslmode=disable"),
        APP_PASSWORD,
        "SELECT 1",
    );
    assert!(
        plaintext.as_ref().is_err_and(|e| e.contains(
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"paperless\", database \"paperless\", no encryption"
        )),
        "a connection without TLS must be refused by pg_hba.conf: {plaintext:?}"
    );

    let session = connect(
        sandbox,
        &conninfo(SERVICE_NAME, port, &verify_full),
        APP_PASSWORD,
        SESSION_TLS,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log()));
    assert!(
        session == "true TLSv1.3" || session == "true TLSv1.2",
        "verify-full must give an encrypted session: {session:?}"
    );

    let other_ca = CertificateAuthority::new("another CA");
    let other_ca_file = sandbox.write("other-ca.crt", &other_ca.pem());
    let wrong_ca = connect(
        sandbox,
        &conninfo(
            SERVICE_NAME,
            port,
            &format!(
                "sslmode=verify-full sslrootcert={}",
                other_ca_file.display()
            ),
        ),
        APP_PASSWORD,
        "SELECT 1",
    );
    assert!(
        wrong_ca
            .as_ref()
            .is_err_and(|e| e.contains("certificate verify failed")),
        "a server whose certificate another CA signed must be refused: {wrong_ca:?}"
    );

    let foreign = "postgres.elsewhere.svc";
    assert!(!files.certificate.dns_names.iter().any(|n| n == foreign));
    let wrong_name = connect(
        sandbox,
        &conninfo(foreign, port, &verify_full),
        APP_PASSWORD,
        "SELECT 1",
    );
    assert!(
        wrong_name
            .as_ref()
            .is_err_and(|e| e.contains(&format!("does not match host name \"{foreign}\""))),
        "a server under a name its certificate does not carry must be refused: {wrong_name:?}"
    );

    // TLS below 1.2 is refused by ssl_min_protocol_version.
    let old_protocol = connect(
        sandbox,
        &conninfo(
            SERVICE_NAME,
            port,
            &format!(
                "{verify_full} ssl_min_protocol_version=TLSv1 ssl_max_protocol_version=TLSv1.1"
            ),
        ),
        APP_PASSWORD,
        "SELECT 1",
    );
    assert!(
        old_protocol.is_err(),
        "TLS 1.1 must be refused: {old_protocol:?}"
    );

    let log = cluster.log();
    assert!(
        log.contains("could not accept SSL connection: unsupported protocol"),
        "the server must refuse TLS 1.1 itself:\n{log}"
    );
    for expected in [
        // %r of log_line_prefix: the client's address on the session's lines.
        &[
            "paperless@paperless 127.0.0.1(",
            "connection authorized: user=paperless database=paperless",
            "SSL enabled (protocol=TLSv1.",
        ][..],
        &[
            "disconnection: session time: ",
            "user=paperless database=paperless host=127.0.0.1",
        ],
    ] {
        assert!(
            log.lines()
                .any(|line| expected.iter().all(|part| line.contains(part))),
            "log_connections/log_disconnections must log a line with {expected:?}:\n{log}"
        );
    }
}

/// PostgreSQL reads the key as the pod mounts it (owned by root, group the
/// pod's fsGroup, the volume's defaultMode), and refuses one that others
/// may read, so the mode is not a formality.
#[test]
fn the_server_takes_the_key_as_the_pod_mounts_it_and_refuses_a_world_readable_one() {
    assert!(
        Sandbox::secrets_as_in_the_pod(),
        "this test must run as root to give the key to root, as the kubelet does"
    );
    let generated = Generated::render();
    let files = generated.server("aws-small");
    assert_eq!(
        files.certificate.key_mode, 0o440,
        "the tls volume's defaultMode"
    );

    // The mode the pod has: the server starts (TempCluster waits for it).
    let cluster = TempCluster::paperless(&generated, &files);
    let key = fs::metadata(&cluster.tls().key).expect("the key");
    assert_eq!(
        (key.uid(), key.mode() & 0o777),
        (0, 0o440),
        "the test key is root's, mode 0440"
    );
    drop(cluster);

    // Readable by others: PostgreSQL refuses to start.
    let sandbox = Sandbox::new();
    let credentials = write_credentials(&sandbox);
    let data = sandbox.path().join("data");
    initdb(&sandbox, &data, &credentials);
    let world_readable = pg::ServerCertificate {
        key_mode: 0o444,
        ..files.certificate.clone()
    };
    let tls = write_tls(&sandbox, "tls", &world_readable);
    let config = sandbox.write(
        "postgresql.conf",
        &conf_for_server(&files.conf, server_major()).text,
    );
    let hba = sandbox.write("pg_hba.conf", &hba_for_test(&files.hba));
    let sockets = sandbox.dir("sockets");
    let mut server = Daemon::spawn(
        &sandbox,
        "postgres",
        sandbox
            .command(pg_program("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-c")
            .arg(format!("config_file={}", config.display()))
            .arg("-c")
            .arg(format!("port={}", free_port()))
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", sockets.display()))
            .arg("-c")
            .arg(format!("hba_file={}", hba.display()))
            .arg("-c")
            .arg(format!("ssl_cert_file={}", tls.cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", tls.key.display())),
    );
    let status = server.wait_for_exit();
    let log = server.log();
    assert!(
        !status.success() && log.contains("has group or world access"),
        "a world-readable key must stop the server ({status}):\n{log}"
    );
}

/// PgBouncer with the generated pgbouncer.ini verifies the server's
/// certificate (verify-full against the Service name) and requires TLS of
/// its own clients; with another CA it cannot reach the server.
#[test]
fn pgbouncer_verifies_the_server_and_requires_tls_of_its_clients() {
    let profile = "aws-medium";
    let generated = Generated::render();
    let files = generated.server(profile);
    let cluster = TempCluster::paperless(&generated, &files);
    let sandbox = cluster.sandbox();
    let auth_file = pg::write_userlist(&cluster, &generated, profile);
    let ini = generated.file(profile, "pgbouncer.ini");
    let tls = cluster.tls().clone();
    let ca = tls.ca.display().to_string();
    let pooler_name = "pgbouncer.paless.svc";
    assert!(files.certificate.dns_names.iter().any(|n| n == pooler_name));

    let (bouncer, port) = start_pgbouncer(sandbox, &ini, cluster.port(), &auth_file, &tls);
    // The client verifies PgBouncer; PgBouncer's server connection is TLS.
    let server_session = connect(
        sandbox,
        &conninfo(
            pooler_name,
            port,
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        APP_PASSWORD,
        SESSION_TLS,
    )
    .unwrap_or_else(|e| panic!("{e}\n--- pgbouncer\n{}\n{}", bouncer.log(), cluster.log()));
    assert!(
        server_session.starts_with("true TLSv1."),
        "PgBouncer's connection to the server must be TLS: {server_session:?}"
    );
    let plaintext = connect(
        sandbox,
        &conninfo(pooler_name, port, "sslmode=disable"),
        APP_PASSWORD,
        "SELECT 1",
    );
    assert!(
        plaintext
            .as_ref()
            .is_err_and(|e| e.contains("SSL required")),
        "PgBouncer must refuse a client without TLS: {plaintext:?}"
    );
    drop(bouncer);

    // Trusting another CA, PgBouncer refuses the server.
    let other_ca = CertificateAuthority::new("another CA");
    let mut distrusting = tls.clone();
    distrusting.ca = sandbox.write("other-ca.crt", &other_ca.pem());
    let (bouncer, port) = start_pgbouncer(sandbox, &ini, cluster.port(), &auth_file, &distrusting);
    let refused = connect(
        sandbox,
        &conninfo(
            pooler_name,
            port,
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        APP_PASSWORD,
        "SELECT 1",
    );
    let log = bouncer.log();
    assert!(
        refused.is_err() && log.contains("certificate verify failed"),
        "PgBouncer must not use a server it cannot verify: {refused:?}\n{log}"
    );
}
