//! PgBouncer (Debian's `pgbouncer`) with a generated pgbouncer.ini, in
//! front of a test server.

use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};

use crate::common::stderr;

use super::{
    Daemon, Generated, Sandbox, TempCluster, TlsFiles, debian_program, free_port, program_version,
    substitute,
};

/// The generated pgbouncer.ini with only what differs outside the cluster
/// replaced: the server's port, loopback and a free port to listen on, the
/// pod's volumes as directories of the sandbox. The server's host stays the
/// Service's name, `postgres`, which the certificate must carry: c-ares,
/// PgBouncer's resolver, reads it as `localhost` through `HOSTALIASES`
/// (see [`start_pgbouncer`]), the way the cluster's DNS would resolve it.
fn ini_for_test(
    ini: &str,
    server_port: u16,
    port: u16,
    auth_file: &Path,
    sockets: &Path,
    tls: &TlsFiles,
) -> String {
    let mut ini = substitute(
        ini,
        "host=postgres port=5432",
        &format!("host=postgres port={server_port}"),
    );
    for (from, to) in [
        (
            "listen_addr = *".to_owned(),
            "listen_addr = 127.0.0.1".to_owned(),
        ),
        (
            "listen_port = 6432".to_owned(),
            format!("listen_port = {port}"),
        ),
        (
            "unix_socket_dir = /var/run/pgbouncer".to_owned(),
            format!("unix_socket_dir = {}", sockets.display()),
        ),
        (
            "auth_file = /etc/pgbouncer/auth/userlist.txt".to_owned(),
            format!("auth_file = {}", auth_file.display()),
        ),
        (
            "server_tls_ca_file = /etc/postgresql/tls/ca.crt".to_owned(),
            format!("server_tls_ca_file = {}", tls.ca.display()),
        ),
        (
            "client_tls_cert_file = /etc/postgresql/tls/tls.crt".to_owned(),
            format!("client_tls_cert_file = {}", tls.cert.display()),
        ),
        (
            "client_tls_key_file = /etc/postgresql/tls/tls.key".to_owned(),
            format!("client_tls_key_file = {}", tls.key.display()),
        ),
    ] {
        ini = substitute(&ini, &from, &to);
    }
    ini
}

/// Starts PgBouncer with the generated `ini` against the server on
/// `server_port`, with the userlist `auth_file` and the server's TLS files;
/// waits (bounded) until it listens. Returns it and its port.
pub fn start_pgbouncer(
    sandbox: &Sandbox,
    ini: &str,
    server_port: u16,
    auth_file: &Path,
    tls: &TlsFiles,
) -> (Daemon, u16) {
    let pgbouncer = debian_program("pgbouncer", "pgbouncer");
    eprintln!("{}", program_version(&pgbouncer));
    let port = free_port();
    let sockets = sandbox.dir("pgbouncer-run");
    let ini_path = sandbox.write(
        "pgbouncer.ini",
        &ini_for_test(ini, server_port, port, auth_file, &sockets, tls),
    );
    let aliases = sandbox.write("host.aliases", "postgres localhost\n");
    let mut daemon = Daemon::spawn(
        sandbox,
        "pgbouncer",
        sandbox
            .command(&pgbouncer)
            .env("HOSTALIASES", &aliases)
            .arg(&ini_path),
    );
    daemon.wait_until_ready(|| {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .map(drop)
            .map_err(|e| format!("connect to port {port}: {e}"))
    });
    (daemon, port)
}

/// Runs the profile's generated pgbouncer-userlist.sh as its init container
/// does, with the cluster's credentials; the userlist file it wrote.
pub fn write_userlist(cluster: &TempCluster, generated: &Generated, profile: &str) -> PathBuf {
    let sandbox = cluster.sandbox();
    let auth_dir = sandbox.dir("pgbouncer-auth");
    let userlist = sandbox.run_script(
        "pgbouncer-userlist.sh",
        &generated.file(profile, "pgbouncer-userlist.sh"),
        &[],
        &[
            (
                "POSTGRES_CREDENTIALS_DIR",
                &cluster.credentials_dir().to_string_lossy(),
            ),
            ("PGBOUNCER_AUTH_DIR", &auth_dir.to_string_lossy()),
        ],
    );
    assert!(
        userlist.status.success(),
        "pgbouncer-userlist.sh failed: {}",
        stderr(&userlist)
    );
    auth_dir.join("userlist.txt")
}
