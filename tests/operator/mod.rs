//! The operators palgen's custom resources are written for, built by
//! scripts/operators.sh, run against the test control plane for one test
//! binary: the CloudNativePG operator with its admission webhooks on
//! loopback, its Barman Cloud plugin on a Unix socket, and cert-manager's
//! controller.
//!
//! Each runs under a small shell that holds a pipe from this process: when
//! the test binary ends, however it ends, the pipe closes and the shell stops
//! the operator and removes what it registered cluster-wide (the webhook
//! configurations, the node without a kubelet).

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::repo_root;
use crate::kube::Cluster;

/// The label a namespace carries for the CloudNativePG webhooks of this test
/// binary to judge what is sent to it; namespaces without it are judged by
/// the CRD schemas alone.
pub const WEBHOOK_LABEL: &str = "palgen.test/operators";

/// A node no kubelet and no kwok serve, Ready and tainted: the test pins
/// CloudNativePG's instance and job pods to it. A pod that ran (kwok's
/// part) would have a made-up pod IP, and the operator would call that
/// address for the instance's status; bound here, the pods stay Pending and
/// the operator waits, as it would for a slow kubelet.
pub const NO_KUBELET_NODE: &str = "palgen-no-kubelet";

/// The image the Barman Cloud plugin injects as its sidecar (never pulled).
const BARMAN_SIDECAR_IMAGE: &str = "ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.14.0";

/// The namespace the CloudNativePG operator runs in, as its manifests
/// install it (palgen's NetworkPolicies admit its status calls from there).
pub const OPERATOR_NAMESPACE: &str = "cnpg-system";

pub struct Operators {
    /// Run directory: certificates, the plugin's socket, the logs.
    pub run: PathBuf,
    /// The shells the operators run under; their stdin pipes stay open for
    /// as long as the operators should run.
    _lifelines: Vec<Child>,
}

impl Operators {
    /// Starts the Barman Cloud plugin, then the CloudNativePG operator
    /// watching `watched` (which must carry [`WEBHOOK_LABEL`] with this
    /// process's id), registers its webhooks, and starts one cert-manager
    /// controller per namespace of `certificates`.
    pub fn start(cluster: &Cluster, watched: &[&str], certificates: &[&str]) -> Operators {
        let built = built_operators();
        let run = tempfile::Builder::new()
            .prefix("palgen-operators-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        let kubeconfig = cluster.kubeconfig().to_str().unwrap().to_owned();
        let mut lifelines = Vec::new();

        let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": OPERATOR_NAMESPACE}});
        apply(cluster, &namespace);
        add_node_without_kubelet(cluster);

        let sockets = run.join("plugins");
        fs::create_dir_all(&sockets).unwrap();
        lifelines.push(spawn(
            &run,
            "barman-cloud",
            Command::new(built.join("barman-cloud"))
                .args(["operator", "--leader-elect=false"])
                .args([
                    "--metrics-bind-address",
                    "0",
                    "--health-probe-bind-address",
                    "0",
                ])
                .arg("--plugin-path")
                .arg(&sockets)
                .env("KUBECONFIG", &kubeconfig)
                .env("SIDECAR_IMAGE", BARMAN_SIDECAR_IMAGE),
            "",
        ));
        wait_for(
            &run,
            "barman-cloud",
            "the Barman Cloud plugin's socket",
            || fs::read_dir(&sockets).is_ok_and(|mut entries| entries.next().is_some()),
        );

        let certs = run.join("webhook");
        let ca_bundle = webhook_certificates(&certs);
        let port = free_port();
        let configurations = webhook_configurations(&built, port, &ca_bundle);
        let names: Vec<String> = configurations
            .iter()
            .map(|c| {
                format!(
                    "{}/{}",
                    c["kind"].as_str().unwrap().to_lowercase(),
                    c["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        let cleanup = format!(
            "kubectl --kubeconfig '{kubeconfig}' delete {} node/{NO_KUBELET_NODE} --ignore-not-found --wait=false",
            names.join(" ")
        );
        let cnpg = built.join("cloudnative-pg");
        let manager = fs::read_dir(cnpg.join("operator"))
            .expect("the CloudNativePG operator's binary")
            .next()
            .expect("operator/manager_<arch>")
            .unwrap()
            .path();
        lifelines.push(spawn(
            &run,
            "cloudnative-pg",
            Command::new(manager)
                .current_dir(&cnpg)
                .args([
                    "controller",
                    "--leader-elect=false",
                    "--metrics-bind-address",
                    "0",
                ])
                .arg(format!("--webhook-port={port}"))
                .env("KUBECONFIG", &kubeconfig)
                // A certificate directory of its own: the operator neither
                // makes its certificates nor patches webhook configurations.
                .env("WEBHOOK_CERT_DIR", &certs)
                .env("OPERATOR_NAMESPACE", OPERATOR_NAMESPACE)
                .env("WATCH_NAMESPACE", watched.join(","))
                .env("PLUGIN_SOCKET_DIR", &sockets),
            &cleanup,
        ));
        for configuration in &configurations {
            apply(cluster, configuration);
        }
        wait_for(
            &run,
            "cloudnative-pg",
            "the CloudNativePG webhook server",
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );

        for namespace in certificates {
            lifelines.push(spawn(
                &run,
                &format!("cert-manager-{namespace}"),
                Command::new(built.join("cert-manager")).args([
                    "--kubeconfig",
                    &kubeconfig,
                    "--namespace",
                    namespace,
                ]),
                "",
            ));
        }
        Operators {
            run,
            _lifelines: lifelines,
        }
    }

    /// The last lines an operator logged, for failure messages.
    pub fn log_tail(&self, name: &str) -> String {
        let log = fs::read_to_string(self.run.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// The value of [`WEBHOOK_LABEL`] for this test binary.
pub fn webhook_label_value() -> String {
    std::process::id().to_string()
}

/// Where scripts/operators.sh put the operators; not built is a failure.
fn built_operators() -> PathBuf {
    let output = Command::new(repo_root().join("scripts/operators.sh"))
        .arg("dir")
        .output()
        .expect("scripts/operators.sh runs");
    assert!(
        output.status.success(),
        "the operators are not built ({}): scripts/test.sh builds them; by hand: \
         scripts/operators.sh build",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Runs `command` with its output in `<run>/<name>.log` under a shell that
/// stops it, then runs `cleanup`, when the returned shell's stdin closes.
fn spawn(run: &Path, name: &str, command: &mut Command, cleanup: &str) -> Child {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(
            "\"$@\" >\"$PALGEN_OPERATOR_LOG\" 2>&1 & child=$!; cat >/dev/null; \
             kill \"$child\" 2>/dev/null; wait \"$child\"; eval \"$PALGEN_OPERATOR_CLEANUP\"",
        )
        .arg("sh")
        .arg(program)
        .args(args)
        .env("PALGEN_OPERATOR_LOG", run.join(format!("{name}.log")))
        .env("PALGEN_OPERATOR_CLEANUP", cleanup)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = command.get_current_dir() {
        shell.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            shell.env(key, value);
        }
    }
    shell.spawn().expect("sh runs")
}

fn wait_for(run: &Path, name: &str, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "{what} did not come up in 180s; the end of its log:\n{}",
            fs::read_to_string(run.join(format!("{name}.log"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A CA and the webhook server's certificate for 127.0.0.1, under the names
/// the operator reads from WEBHOOK_CERT_DIR; returns the CA as base64 PEM,
/// the caBundle of the webhook configurations.
fn webhook_certificates(dir: &Path) -> String {
    fs::create_dir_all(dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=palgen-test-webhook-ca",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(dir, &ca);
    let mut request = vec!["req", "-subj", "/CN=127.0.0.1"];
    request.extend(ec);
    request.extend(["-keyout", "apiserver.key", "-out", "apiserver.csr"]);
    openssl(dir, &request);
    fs::write(
        dir.join("extensions"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "apiserver.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "extensions",
            "-out",
            "apiserver.crt",
        ],
    );
    String::from_utf8(openssl(dir, &["base64", "-A", "-in", "ca.crt"])).unwrap()
}

/// The operator's own webhook configurations (config/webhook of its
/// module), pointed at its loopback server instead of its Service and
/// limited to the namespaces of this test binary.
fn webhook_configurations(built: &Path, port: u16, ca_bundle: &str) -> Vec<Value> {
    let text = fs::read_to_string(built.join("cloudnative-pg-webhooks.yaml"))
        .expect("the operator's webhook configurations");
    let label = webhook_label_value();
    serde_saphyr::from_multiple::<Value>(&text)
        .expect("webhook configurations parse")
        .into_iter()
        .filter(|document| !document.is_null())
        .map(|mut configuration| {
            let name = configuration["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_owned();
            configuration["metadata"] = json!({"name": format!("palgen-test-{label}-cnpg-{name}")});
            for webhook in configuration["webhooks"].as_array_mut().unwrap() {
                let path = webhook["clientConfig"]["service"]["path"]
                    .as_str()
                    .expect("a webhook path")
                    .to_owned();
                webhook["clientConfig"] = json!({
                    "url": format!("https://127.0.0.1:{port}{path}"),
                    "caBundle": ca_bundle,
                });
                webhook["namespaceSelector"] = json!({"matchLabels": {WEBHOOK_LABEL: label}});
            }
            configuration
        })
        .collect()
}

fn apply(cluster: &Cluster, object: &Value) {
    let run = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=palgen-test",
            "-f",
            "-",
        ],
        &object.to_string(),
    );
    assert!(run.success, "{object}: {}", run.stderr);
}

/// The node of [`NO_KUBELET_NODE`]: Ready (the controller-manager's grace
/// period keeps it so for ten minutes), in the first zone (the storage
/// driver the tests play makes volumes per zone), tainted so that only pods
/// that tolerate it land there.
fn add_node_without_kubelet(cluster: &Cluster) {
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NO_KUBELET_NODE, "labels": {
            NO_KUBELET_NODE: "true",
            "kubernetes.io/hostname": NO_KUBELET_NODE,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": crate::kube::ZONES[0],
        }},
        "spec": {"taints": [{"key": NO_KUBELET_NODE, "value": "true", "effect": "NoSchedule"}]},
    });
    apply(cluster, &node);
    let stamp = utc_now();
    let status = json!({"status": {
        "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250"},
        "capacity": {"cpu": "64", "memory": "256Gi", "pods": "250"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "PalgenTest",
            "message": "no kubelet: pods bound here never start",
            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
    }});
    let run = cluster.kubectl(&[
        "patch",
        "node",
        NO_KUBELET_NODE,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
    assert!(run.success, "node {NO_KUBELET_NODE}: {}", run.stderr);
}

fn utc_now() -> String {
    let output = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date runs");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
