//! The test control plane (scripts/control-plane.sh): kubectl against it, and
//! the parts of a cloud a real cluster would have that it lacks: the platforms'
//! own StorageClasses and a storage driver that binds claims.

#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::repo_root;

/// The zones of the control plane's three fake nodes.
pub const ZONES: [&str; 3] = ["test-a", "test-b", "test-c"];

/// The StorageClasses the managed platforms ship (palgen's cloud overlays
/// define their own; claims of deployments rendered before may name these),
/// each with its real provisioner's name, and the class of the `postgres-16`
/// stress profile, which a team's cluster would have.
const PLATFORM_STORAGE_CLASSES: [(&str, &str); 4] = [
    ("local-path", "rancher.io/local-path"),
    ("standard-rwo", "pd.csi.storage.gke.io"),
    ("managed-premium", "disk.csi.azure.com"),
    ("fast-nvme", "rancher.io/local-path"),
];

pub struct Cluster {
    kubeconfig: PathBuf,
}

/// What one kubectl run printed.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Every line the server sent as a warning (kubectl prints them as
    /// "Warning: ...").
    pub fn warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.starts_with("Warning:"))
            .collect()
    }
}

impl Cluster {
    /// The running control plane. scripts/test.sh starts it before the tests
    /// and exports PALGEN_TEST_KUBECONFIG; a developer starts it with
    /// `scripts/control-plane.sh start`. Not running is a failure, never a
    /// skip.
    pub fn connect() -> Cluster {
        let kubeconfig = std::env::var_os("PALGEN_TEST_KUBECONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".tools/control-plane/run/kubeconfig"));
        assert!(
            kubeconfig.is_file(),
            "the test control plane is not running ({} is missing): \
             scripts/test.sh starts it; by hand: scripts/control-plane.sh build && \
             scripts/control-plane.sh start",
            kubeconfig.display()
        );
        let cluster = Cluster { kubeconfig };
        let ready = cluster.kubectl(&["get", "--raw", "/readyz"]);
        assert!(
            ready.success,
            "the test control plane does not answer: {}",
            ready.stderr
        );
        cluster.install_platform_storage_classes();
        cluster.install_dedicated_node_pool();
        cluster
    }

    pub fn kubectl(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("kubectl runs"))
    }

    /// kubectl run in `dir`, for the relative overlay paths procedures print.
    pub fn kubectl_in(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(
            self.command(args)
                .current_dir(dir)
                .output()
                .expect("kubectl runs"),
        )
    }

    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("kubectl reads its input");
        Run::from(child.wait_with_output().expect("kubectl ends"))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        command
    }

    /// What KUBECONFIG names for a shell step's bare `kubectl` to reach
    /// this cluster.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `kubectl get` as JSON; panics (naming what) when it fails.
    pub fn get(&self, args: &[&str]) -> Value {
        let mut all = vec!["get", "-o", "json"];
        all.extend(args);
        let run = self.kubectl(&all);
        assert!(run.success, "kubectl {all:?} failed: {}", run.stderr);
        serde_json::from_str(&run.stdout).expect("kubectl prints JSON")
    }

    pub fn items(&self, kind: &str, namespace: &str) -> Vec<Value> {
        self.get(&[kind, "-n", namespace])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A namespace of the test's own, removed first if a previous run left it.
    pub fn fresh_namespace(&self, name: &str) {
        self.kubectl(&[
            "delete",
            "namespace",
            name,
            "--ignore-not-found",
            "--wait=true",
        ]);
    }

    /// What the `dedicated-pool` stress profile schedules onto, as a team
    /// with a database node pool has it: node labels and a PriorityClass.
    fn install_dedicated_node_pool(&self) {
        let run = self.kubectl(&[
            "label",
            "nodes",
            "--all",
            "--overwrite",
            "node-pool=database",
            "example.com/disk=ssd",
        ]);
        assert!(run.success, "node labels: {}", run.stderr);
        let class = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "database-critical"},
            "value": 1000000,
        });
        let run = self.apply_as_platform(&class.to_string());
        assert!(run.success, "PriorityClass: {}", run.stderr);
    }

    /// Objects a cluster's administrators own, applied under their name.
    fn apply_as_platform(&self, objects: &str) -> Run {
        self.kubectl_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=platform",
                "-f",
                "-",
            ],
            objects,
        )
    }

    fn install_platform_storage_classes(&self) {
        let classes: Vec<String> = PLATFORM_STORAGE_CLASSES
            .iter()
            .map(|(name, provisioner)| {
                json!({
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {"name": name},
                    "provisioner": provisioner,
                    "volumeBindingMode": "WaitForFirstConsumer",
                    "allowVolumeExpansion": true,
                })
                .to_string()
            })
            .collect();
        let run = self.apply_as_platform(&classes.join("\n"));
        assert!(run.success, "platform StorageClasses: {}", run.stderr);
    }

    /// Plays the storage driver: every claim in `namespace` that the
    /// scheduler placed (WaitForFirstConsumer sets the selected node) gets a
    /// PersistentVolume of the size it asks for in that node's zone, which the
    /// controller-manager's volume binder then binds, as a CSI driver's
    /// provisioner would. Returns how many volumes it created.
    pub fn provision_claims(&self, namespace: &str) -> usize {
        let zones = self.node_zones();
        let mut created = 0;
        for claim in self.items("persistentvolumeclaims", namespace) {
            let status = claim["status"]["phase"].as_str().unwrap_or_default();
            let annotations = &claim["metadata"]["annotations"];
            let Some(node) = annotations["volume.kubernetes.io/selected-node"].as_str() else {
                continue;
            };
            if status != "Pending" || claim["spec"]["volumeName"].is_string() {
                continue;
            }
            let name = claim["metadata"]["name"].as_str().unwrap();
            let class = claim["spec"]["storageClassName"]
                .as_str()
                .unwrap_or_default();
            let driver = annotations["volume.kubernetes.io/storage-provisioner"]
                .as_str()
                .unwrap_or("test.palgen/driver");
            let volume = json!({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {
                    "name": format!("pv-{}", claim["metadata"]["uid"].as_str().unwrap()),
                    "annotations": {"pv.kubernetes.io/provisioned-by": driver},
                },
                "spec": {
                    "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                    "accessModes": claim["spec"]["accessModes"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": class,
                    "volumeMode": "Filesystem",
                    "claimRef": {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "namespace": namespace,
                        "name": name,
                        "uid": claim["metadata"]["uid"],
                    },
                    // Never mounted: no kubelet runs. A path stands in for
                    // the driver's volume handle.
                    "hostPath": {"path": format!("/nonexistent/{namespace}/{name}")},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{
                        "key": "topology.kubernetes.io/zone",
                        "operator": "In",
                        "values": [zones[node]],
                    }]}]}},
                },
            });
            let run = self.kubectl_stdin(&["create", "-f", "-"], &volume.to_string());
            // Tests waiting on one namespace at once race to the same claim:
            // the first one's volume serves.
            if run.stderr.contains("AlreadyExists") {
                continue;
            }
            assert!(
                run.success,
                "volume for claim {namespace}/{name}: {}",
                run.stderr
            );
            created += 1;
        }
        created
    }

    /// Node name to zone.
    pub fn node_zones(&self) -> BTreeMap<String, String> {
        self.get(&["nodes"])["items"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| {
                (
                    node["metadata"]["name"].as_str().unwrap().to_owned(),
                    node["metadata"]["labels"]["topology.kubernetes.io/zone"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    /// Waits until `done` holds, provisioning claims in `namespace` on the
    /// way; panics with `what` after `limit`.
    pub fn wait_until(
        &self,
        namespace: &str,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&Cluster) -> bool,
    ) {
        let started = Instant::now();
        loop {
            self.provision_claims(namespace);
            if done(self) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "{what}: not reached in {limit:?}; pods: {}",
                self.kubectl(&["get", "pods,pvc", "-n", namespace, "-o", "wide"])
                    .stdout
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Whether a label selector (matchLabels and matchExpressions) selects
/// these labels.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let empty = serde_json::Map::new();
    let match_labels = selector["matchLabels"].as_object().unwrap_or(&empty);
    let expressions = selector["matchExpressions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match_labels
        .iter()
        .all(|(key, value)| &labels[key] == value)
        && expressions.iter().all(|expression| {
            let label = &labels[expression["key"].as_str().unwrap()];
            let listed = expression["values"]
                .as_array()
                .is_some_and(|values| values.contains(label));
            match expression["operator"].as_str().unwrap() {
                "In" => listed,
                "NotIn" => !listed,
                "Exists" => !label.is_null(),
                "DoesNotExist" => label.is_null(),
                other => panic!("unknown selector operator {other}"),
            }
        })
}
