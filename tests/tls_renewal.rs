//! A renewed server certificate is served without a restart: the database
//! pod's `tls-reload` container, run here from the generated manifests
//! (its command, and its script from the ConfigMap it mounts), beside a
//! real server whose TLS files are laid out as the kubelet lays out a
//! Secret volume. The renewal is made the way the kubelet applies an
//! updated Secret: the new files in a new directory, then `..data` swapped
//! to it in one rename. A new connection must then get the new certificate
//! (read with `openssl s_client`) and verify it, and a session opened
//! before must carry on over its own TLS connection.

mod common;
mod pg;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use pg::{
    APP_PASSWORD, CertificateAuthority, Daemon, Generated, PostgresInstall, SERVICE_HOST,
    ServerCertificate, TempCluster, TlsFiles, WAIT, build, container_env, debian_program,
    postgres_container, postgres_install, postgres18, run, substitute, wait_until,
};

const PROFILE: &str = "aws-large";
const CONTAINER: &str = "tls-reload";
/// Where the pod mounts the TLS Secret.
const TLS_DIR: &str = "/etc/postgresql/tls";
/// The file the loop touches each round, on the pod's /tmp.
const HEARTBEAT: &str = "/tmp/tls-reload.alive";

/// The container's command, environment and the script its command runs,
/// as `palgen build` writes them.
struct ReloadContainer {
    command: Vec<String>,
    env: BTreeMap<String, String>,
    script: String,
    /// The exec commands of its readiness and liveness probes.
    probes: Vec<Vec<String>>,
}

fn strings(array: &Value) -> Vec<String> {
    array
        .as_array()
        .expect("an array")
        .iter()
        .map(|arg| arg.as_str().expect("a string").to_owned())
        .collect()
}

fn reload_container(objects: &BTreeMap<String, Value>) -> ReloadContainer {
    let container = postgres_container(objects, CONTAINER);
    let command = strings(&container["command"]);
    // The script is a file of a mounted ConfigMap: find the mount it is
    // under and the ConfigMap behind that volume.
    let script_path = command.last().expect("a script argument");
    let mount = container["volumeMounts"]
        .as_array()
        .expect("volume mounts")
        .iter()
        .find(|mount| {
            script_path.starts_with(&format!("{}/", mount["mountPath"].as_str().unwrap()))
        })
        .unwrap_or_else(|| panic!("{script_path} is on no volume of {CONTAINER}"));
    let volumes = &objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"]["volumes"];
    let config_map = volumes
        .as_array()
        .expect("volumes")
        .iter()
        .find(|volume| volume["name"] == mount["name"])
        .and_then(|volume| volume["configMap"]["name"].as_str())
        .expect("the script's volume is a ConfigMap");
    let file = &script_path[mount["mountPath"].as_str().unwrap().len() + 1..];
    let script = objects[&format!("ConfigMap/paless/{config_map}")]["data"][file]
        .as_str()
        .unwrap_or_else(|| panic!("ConfigMap {config_map} has no {file}"))
        .to_owned();
    ReloadContainer {
        command,
        env: container_env(container),
        script,
        probes: ["readinessProbe", "livenessProbe"]
            .map(|probe| strings(&container[probe]["exec"]["command"]))
            .to_vec(),
    }
}

/// A Secret volume as the kubelet's atomic writer keeps it: the keys in a
/// timestamped directory, `..data` a symlink to it, and each key a symlink
/// through `..data`, so a reader sees the old set or the new one, never a
/// mix.
struct SecretVolume {
    dir: PathBuf,
    generation: u32,
}

impl SecretVolume {
    fn new(cluster: &TempCluster, name: &str) -> SecretVolume {
        SecretVolume {
            dir: cluster.sandbox().dir(name),
            generation: 0,
        }
    }

    /// Writes a new set of keys and swaps `..data` to it, as an update of
    /// the Secret does; the first call also makes the keys' symlinks.
    fn update(&mut self, cluster: &TempCluster, files: &[(&str, &str)], mode: u32) {
        self.generation += 1;
        let name = self.dir.file_name().unwrap().to_str().unwrap().to_owned();
        let generation = format!("..2026_12_03_21_00_0{}.000000001", self.generation);
        cluster.sandbox().dir(&format!("{name}/{generation}"));
        for (key, contents) in files {
            cluster.sandbox().write_as_secret(
                &format!("{name}/{generation}/{key}"),
                contents,
                mode,
            );
        }
        let data = self.dir.join("..data");
        let previous = fs::read_link(&data).ok();
        let staged = self.dir.join("..data_tmp");
        symlink(&generation, &staged).expect("symlink ..data_tmp");
        fs::rename(&staged, &data).expect("rename ..data_tmp over ..data");
        match previous {
            Some(previous) => fs::remove_dir_all(self.dir.join(previous)).expect("remove old"),
            None => {
                for (key, _) in files {
                    symlink(format!("..data/{key}"), self.dir.join(key)).expect("key symlink");
                }
            }
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }
}

/// The base64 body of the first certificate of PEM text.
fn certificate_body(pem: &str) -> String {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = pem.find(begin).expect("a certificate") + begin.len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----").unwrap();
    pem[start..end].split_whitespace().collect()
}

/// The certificate the server presents to a new connection.
fn served_certificate(port: u16) -> String {
    let output = run(Command::new(debian_program("openssl", "openssl"))
        .args(["s_client", "-starttls", "postgres", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null()));
    certificate_body(&String::from_utf8_lossy(&output.stdout))
}

/// libpq's settings of a client that verifies the server, as the pods have
/// them, with the test's CA file.
fn verifying_client(cluster: &TempCluster, ca: &Path) -> Command {
    let mut command = cluster.sandbox().command(cluster.sandbox().program("psql"));
    command
        .args(["--no-psqlrc", "--no-align", "--tuples-only", "--quiet"])
        .args(["--set", "ON_ERROR_STOP=1"])
        .args(["--username", "paperless", "--dbname", "paperless"])
        .env("PGHOST", SERVICE_HOST)
        .env("PGHOSTADDR", "127.0.0.1")
        .env("PGPORT", cluster.port().to_string())
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", ca)
        .env("PGPASSWORD", APP_PASSWORD);
    command
}

/// This session's backend and whether it runs over TLS.
const SESSION_SQL: &str =
    "SELECT pg_backend_pid(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n";

/// A psql session that stays open, reading its statements from a pipe.
fn open_session(cluster: &TempCluster, ca: &Path) -> Child {
    let mut session = verifying_client(cluster, ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    session
        .stdin
        .as_mut()
        .unwrap()
        .write_all(SESSION_SQL.as_bytes())
        .expect("send to psql");
    session
}

fn renewal_is_served_without_a_restart(install: &'static PostgresInstall) {
    let generated = Generated::render();
    let files = generated.server(PROFILE);
    let ServerCertificate {
        dns_names,
        key_mode,
    } = files.certificate.clone();
    let container = reload_container(&build(PROFILE));
    assert_eq!(
        container.command[..1],
        ["sh".to_owned()],
        "{:?}",
        container.command
    );
    assert_eq!(container.env["RELOAD_INTERVAL_SECONDS"], "60");

    let authority = CertificateAuthority::new("palgen test CA");
    let (first_cert, first_key) = authority.issue(&dns_names);
    let mut cluster = TempCluster::with_install(install);
    let mut volume = SecretVolume::new(&cluster, "tls");
    volume.update(
        &cluster,
        &[
            ("tls.crt", &first_cert),
            ("tls.key", &first_key),
            ("ca.crt", &authority.pem()),
        ],
        key_mode,
    );
    let ca = volume.path("ca.crt");
    cluster.start_with_tls(
        &files,
        TlsFiles {
            cert: volume.path("tls.crt"),
            key: volume.path("tls.key"),
            ca: ca.clone(),
        },
    );
    cluster.initialise(&generated.base("initdb-paperless.sh"));
    assert_eq!(
        served_certificate(cluster.port()),
        certificate_body(&first_cert)
    );

    // The container's script, pointed at the sandbox's TLS files, socket
    // and port, comparing every second instead of every minute.
    let heartbeat = cluster.sandbox().path().join("tls-reload.alive");
    let heartbeat = heartbeat.to_str().unwrap();
    let script = substitute(
        &substitute(
            &container.script,
            &format!("{TLS_DIR}/tls.crt"),
            volume.path("tls.crt").to_str().unwrap(),
        ),
        HEARTBEAT,
        heartbeat,
    );
    let probe_passes = |probe: &[String]| {
        let args: Vec<String> = probe
            .iter()
            .map(|arg| arg.replace(HEARTBEAT, heartbeat))
            .collect();
        run(cluster.sandbox().command(&args[0]).args(&args[1..]))
            .status
            .success()
    };
    for probe in &container.probes {
        assert!(
            !probe_passes(probe),
            "{probe:?} passes before the loop runs"
        );
    }
    let script_path = cluster.sandbox().write("tls-reload.sh", &script);
    let reloader = Daemon::spawn(
        cluster.sandbox(),
        CONTAINER,
        cluster
            .sandbox()
            .command(&container.command[0])
            .args(&container.command[1..container.command.len() - 1])
            .arg(&script_path)
            .env("RELOAD_INTERVAL_SECONDS", "1")
            .env("PGHOST", cluster.sockets())
            .env("PGPORT", cluster.port().to_string()),
    );
    // Its first round reloads as soon as the server answers.
    wait_until(WAIT, || {
        let log = cluster.log();
        log.contains("received SIGHUP, reloading configuration files")
            .then_some(())
            .ok_or_else(|| format!("no reload yet\n{log}\n{}", reloader.log()))
    })
    .unwrap_or_else(|error| panic!("{error}"));
    for probe in &container.probes {
        assert!(probe_passes(probe), "{probe:?} fails while the loop runs");
    }

    let mut session = open_session(&cluster, &ca);

    // cert-manager renews: a new key and certificate from the same CA.
    let (second_cert, second_key) = authority.issue(&dns_names);
    assert_ne!(
        certificate_body(&first_cert),
        certificate_body(&second_cert)
    );
    volume.update(
        &cluster,
        &[
            ("tls.crt", &second_cert),
            ("tls.key", &second_key),
            ("ca.crt", &authority.pem()),
        ],
        key_mode,
    );
    let renewed = certificate_body(&second_cert);
    wait_until(WAIT, || {
        let served = served_certificate(cluster.port());
        (served == renewed).then_some(()).ok_or_else(|| {
            format!(
                "the server still serves the old certificate\n{}\n[{CONTAINER}]\n{}",
                cluster.log(),
                reloader.log()
            )
        })
    })
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        reloader
            .log()
            .contains("tls.crt changed; PostgreSQL reloaded"),
        "{}",
        reloader.log()
    );

    // A new connection verifies the renewed certificate.
    let fresh = run(verifying_client(&cluster, &ca).args(["--command", SESSION_SQL.trim()]));
    assert!(
        fresh.status.success() && String::from_utf8_lossy(&fresh.stdout).ends_with("|t\n"),
        "a new connection after the renewal: {}",
        pg::describe(&fresh)
    );

    // The session opened before the renewal is still the same backend,
    // still over TLS.
    let mut stdin = session.stdin.take().unwrap();
    stdin
        .write_all(SESSION_SQL.as_bytes())
        .expect("send to psql");
    drop(stdin);
    let output = session.wait_with_output().expect("psql ends");
    let text = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        output.status.success() && rows.len() == 2 && rows[0] == rows[1] && rows[0].ends_with("|t"),
        "the session opened before the renewal: {}\n{}",
        pg::describe(&output),
        cluster.log()
    );
    cluster.stop();
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_on_postgresql_18() {
    renewal_is_served_without_a_restart(postgres18());
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_on_debian_postgresql() {
    renewal_is_served_without_a_restart(postgres_install());
}
