//! The container `postgres` of the StatefulSet `postgres` on its first
//! start, reproduced in a sandbox from the objects a kustomization builds:
//! every volume it mounts is a directory of the sandbox at the same path
//! under `pod/` (ConfigMaps and the Secret as files with the volume's
//! modes), its environment and arguments are the StatefulSet's with those
//! paths moved along, and `entrypoint.sh` does what the image's entrypoint
//! does on an empty data directory. There is no container runtime here, so
//! the image itself is what is not reproduced: its PostgreSQL programs are
//! the ones of the sandbox's installation, its locale is C.UTF-8.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{objects_by_identity, stderr, stdout, tool};

use super::{
    APP_PASSWORD, EXPORTER_PASSWORD, POSTGRES_PASSWORD, REPLICATION_PASSWORD, Sandbox, Server,
    ServerCertificate, ServerSpec, TlsFiles, parse_conf, run, write_tls,
};

const ENTRYPOINT: &str = include_str!("entrypoint.sh");

/// The mode of the files of a ConfigMap or Secret volume without
/// `defaultMode`.
const KUBERNETES_DEFAULT_MODE: u32 = 0o644;

/// `kubectl kustomize DIR`, keyed kind/namespace/name.
pub fn kustomize_build(dir: &Path) -> BTreeMap<String, Value> {
    let output = Command::new(tool("kubectl"))
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        stderr(&output)
    );
    objects_by_identity(&stdout(&output))
}

pub struct Pod {
    /// The directory that stands for the container's `/`.
    root: PathBuf,
    mount_paths: Vec<String>,
    read_only: Vec<PathBuf>,
    /// The container's environment, paths moved into the sandbox.
    env: BTreeMap<String, String>,
    /// The container's arguments, paths moved into the sandbox.
    args: Vec<String>,
    secret: BTreeMap<String, String>,
    /// The TLS Secret's files, when the container mounts it.
    tls: Option<TlsFiles>,
    probe: Vec<String>,
    sandbox: Sandbox,
}

impl Pod {
    /// The first pod of the StatefulSet `postgres` among `objects`, its
    /// volumes laid out in the sandbox. Its Secret `postgres-credentials`
    /// holds the keys of the built Secret when the build has one (the dev
    /// overlays), else the four keys the README has the operator create,
    /// with the harness's passwords.
    pub fn lay_out(sandbox: &Sandbox, objects: &BTreeMap<String, Value>) -> Pod {
        let statefulset = &objects["StatefulSet/paless/postgres"];
        let namespace = statefulset["metadata"]["namespace"]
            .as_str()
            .expect("namespace");
        let spec = &statefulset["spec"]["template"]["spec"];
        let container = spec["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|container| container["name"] == "postgres")
            .expect("a container postgres");
        assert!(
            container.get("command").is_none(),
            "the container replaces the image's entrypoint; the test reproduces that \
             entrypoint: {container}"
        );
        let root = sandbox.dir("pod");
        let mut pod = Pod {
            root,
            mount_paths: Vec::new(),
            read_only: Vec::new(),
            env: BTreeMap::new(),
            args: Vec::new(),
            secret: BTreeMap::new(),
            tls: None,
            probe: probe_command(container),
            sandbox: sandbox.clone(),
        };
        for mount in container["volumeMounts"].as_array().expect("volumeMounts") {
            pod.mount(objects, namespace, statefulset, mount);
        }
        for var in container["env"].as_array().expect("env") {
            let name = var["name"].as_str().expect("env name");
            let value = var["value"]
                .as_str()
                .unwrap_or_else(|| panic!("env {name} has no literal value: {var}"));
            let value = pod.moved(value);
            pod.env.insert(name.to_owned(), value);
        }
        pod.args = container["args"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|arg| {
                let arg = arg.as_str().expect("string argument");
                match arg.split_once('=') {
                    Some((name, value)) => format!("{name}={}", pod.moved(value)),
                    None => pod.moved(arg),
                }
            })
            .collect();
        pod
    }

    fn mount(
        &mut self,
        objects: &BTreeMap<String, Value>,
        namespace: &str,
        statefulset: &Value,
        mount: &Value,
    ) {
        let path = mount["mountPath"].as_str().expect("mountPath");
        let name = mount["name"].as_str().expect("volume name");
        assert!(
            mount.get("subPath").is_none(),
            "subPath mounts are not reproduced: {mount}"
        );
        // Each level handed over: the service user must pass through them.
        let mut dir = PathBuf::new();
        for level in path.split('/').filter(|level| !level.is_empty()) {
            dir.push(level);
        }
        let mut prefix = String::from("pod");
        for level in dir.components() {
            prefix = format!("{prefix}/{}", level.as_os_str().to_string_lossy());
            self.sandbox.dir(&prefix);
        }
        let dir = self.root.join(&dir);
        self.mount_paths.push(path.to_owned());
        if mount["readOnly"] == true {
            self.read_only.push(dir.clone());
        }
        let volumes = statefulset["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .expect("volumes");
        let Some(volume) = volumes.iter().find(|volume| volume["name"] == name) else {
            let claims = statefulset["spec"]["volumeClaimTemplates"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            assert!(
                claims.iter().any(|claim| claim["metadata"]["name"] == name),
                "volume {name} is neither a volume nor a claim template"
            );
            return; // a fresh PersistentVolume: empty
        };
        if volume.get("emptyDir").is_some() {
            return;
        }
        let (data, mode) = if let Some(config_map) = volume.get("configMap") {
            let object_name = config_map["name"].as_str().expect("configMap name");
            let object = &objects[&format!("ConfigMap/{namespace}/{object_name}")];
            let data: BTreeMap<String, String> =
                serde_json::from_value(object["data"].clone()).expect("ConfigMap data");
            (data, config_map)
        } else if let Some(secret) = volume.get("secret") {
            let object_name = secret["secretName"].as_str().expect("secretName");
            // The TLS Secret cert-manager makes from a Certificate of the
            // build: a CA and a certificate for the Certificate's names.
            let certificate = objects.values().find(|object| {
                object["kind"] == "Certificate" && object["spec"]["secretName"] == object_name
            });
            if let Some(certificate) = certificate {
                let dns_names = certificate["spec"]["dnsNames"]
                    .as_array()
                    .expect("dnsNames")
                    .iter()
                    .map(|name| name.as_str().expect("a DNS name").to_owned())
                    .collect();
                let key_mode = secret["defaultMode"]
                    .as_u64()
                    .map_or(KUBERNETES_DEFAULT_MODE, |mode| {
                        u32::try_from(mode).expect("a file mode")
                    });
                let dir = format!("pod{path}");
                let tls = write_tls(
                    &self.sandbox,
                    &dir,
                    &ServerCertificate {
                        dns_names,
                        key_mode,
                    },
                );
                // The database mounts the whole Secret; clients only ca.crt.
                self.tls.get_or_insert(tls);
                return;
            }
            let data = match objects.get(&format!("Secret/{namespace}/{object_name}")) {
                Some(object) => {
                    assert!(
                        object.get("data").is_none(),
                        "base64 `data` of Secret {object_name} is not reproduced"
                    );
                    serde_json::from_value(object["stringData"].clone()).expect("Secret stringData")
                }
                None => [
                    ("postgres-password", POSTGRES_PASSWORD),
                    ("app-password", APP_PASSWORD),
                    ("exporter-password", EXPORTER_PASSWORD),
                    ("replication-password", REPLICATION_PASSWORD),
                ]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            };
            self.secret.clone_from(&data);
            (data, secret)
        } else {
            panic!("volume {name} is of a kind the test does not reproduce: {volume}");
        };
        assert!(
            mode.get("items").is_none(),
            "volume {name}: `items` is not reproduced"
        );
        let mode = mode["defaultMode"]
            .as_u64()
            .map_or(KUBERNETES_DEFAULT_MODE, |mode| {
                u32::try_from(mode).expect("a file mode")
            });
        for (key, value) in data {
            let file = self.sandbox.write(&format!("pod{path}/{key}"), &value);
            fs::set_permissions(&file, fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", file.display()));
        }
    }

    /// A path of the container as the sandbox has it; other text as it is.
    fn moved(&self, value: &str) -> String {
        if value.starts_with('/') {
            self.host_path(value).to_string_lossy().into_owned()
        } else {
            value.to_owned()
        }
    }

    /// Where a path under one of the container's mounts is in the sandbox.
    pub fn host_path(&self, path: &str) -> PathBuf {
        assert!(
            self.mount_paths.iter().any(|mount| {
                path.strip_prefix(mount.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }),
            "{path} is on none of the container's volumes {:?}: it would be the image's",
            self.mount_paths
        );
        self.root.join(path.trim_start_matches('/'))
    }

    /// A variable of the container's environment (paths moved).
    pub fn env(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("the container has no {name}: {:?}", self.env))
    }

    /// A key of the mounted Secret.
    pub fn secret(&self, key: &str) -> Option<&str> {
        self.secret.get(key).map(String::as_str)
    }

    /// The readiness probe's command of the container.
    pub fn probe(&self) -> &[String] {
        &self.probe
    }

    /// The postgresql.conf the container's arguments name.
    pub fn config_file(&self) -> PathBuf {
        let value = self
            .args
            .iter()
            .find_map(|arg| arg.strip_prefix("config_file="))
            .unwrap_or_else(|| panic!("no config_file in the arguments {:?}", self.args));
        PathBuf::from(value)
    }

    /// A parameter of that postgresql.conf, as written.
    pub fn conf_value(&self, name: &str) -> String {
        self.conf_entry(name)
            .unwrap_or_else(|| panic!("{} sets no {name}", self.config_file().display()))
    }

    fn conf_has(&self, name: &str) -> bool {
        self.conf_entry(name).is_some()
    }

    fn conf_entry(&self, name: &str) -> Option<String> {
        let path = self.config_file();
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        parse_conf(&text)
            .into_iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.value)
    }

    /// The socket directory and pg_hba.conf the configuration names, in the
    /// sandbox: the only things the servers are told differently from the
    /// pod (the file's absolute paths are the pod's).
    fn moved_conf_paths(&self) -> (PathBuf, PathBuf) {
        let sockets = self.conf_value("unix_socket_directories");
        assert!(
            !sockets.contains(','),
            "one socket directory expected: {sockets}"
        );
        (
            self.host_path(&sockets),
            self.host_path(&self.conf_value("hba_file")),
        )
    }

    /// The certificate and key where the pod's TLS mount is in the
    /// sandbox, when the configuration names them.
    fn moved_certificate_args(&self) -> Vec<String> {
        ["ssl_cert_file", "ssl_key_file"]
            .into_iter()
            .filter(|name| self.conf_has(name))
            .flat_map(|name| {
                let moved = self.host_path(&self.conf_value(name));
                ["-c".to_owned(), format!("{name}={}", moved.display())]
            })
            .collect()
    }

    /// The sandbox's stand-ins for the volumes marked readOnly.
    fn protect_read_only_volumes(&self) {
        for dir in &self.read_only {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o555))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
        }
    }

    /// The first start of the container until the image's entrypoint hands
    /// over to the server: initdb, the temporary server on the socket only,
    /// the scripts of /docker-entrypoint-initdb.d, the temporary server
    /// stopped. The environment is the container's, plus PGHOST, where the
    /// clients find the socket directory that is /var/run/postgresql in the
    /// pod, and what the image's Dockerfile sets that the scripts use.
    pub fn first_start(&self) -> Output {
        self.protect_read_only_volumes();
        let script = self.sandbox.write("entrypoint.sh", ENTRYPOINT);
        let (sockets, hba) = self.moved_conf_paths();
        let mut command = self.sandbox.command("bash");
        command
            .arg(&script)
            .arg(self.host_path("/docker-entrypoint-initdb.d"))
            .args(&self.args)
            .arg("-c")
            .arg(format!("unix_socket_directories={}", sockets.display()))
            .arg("-c")
            .arg(format!("hba_file={}", hba.display()))
            .args(self.moved_certificate_args())
            .envs(&self.env)
            .env("PGHOST", &sockets)
            .env("PG_MAJOR", self.sandbox.install().major.to_string())
            // The home of the image's user postgres: its data volume.
            .env("HOME", self.host_path("/var/lib/postgresql"));
        run(&mut command)
    }

    /// The server as the container runs it once the entrypoint is done
    /// (`postgres` with the container's arguments, on its data directory),
    /// with the overrides of [`Server::start`].
    pub fn start(&self) -> Server {
        let (sockets, hba) = self.moved_conf_paths();
        let data = PathBuf::from(self.env("PGDATA"));
        let config = self.config_file();
        Server::start(
            &self.sandbox,
            &ServerSpec {
                name: "postgres",
                data: &data,
                config: &config,
                hba: &hba,
                sockets: &sockets,
                tls: self
                    .tls
                    .as_ref()
                    .expect("the container mounts the TLS Secret"),
                env: &[],
            },
        )
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }
}

/// The readiness probe's command: plain `pg_isready` (liveness and startup
/// also pass on its exit 1, see tests/probes.rs).
fn probe_command(container: &Value) -> Vec<String> {
    container["readinessProbe"]["exec"]["command"]
        .as_array()
        .expect("readinessProbe is an exec probe")
        .iter()
        .map(|arg| arg.as_str().expect("string argument").to_owned())
        .collect()
}
