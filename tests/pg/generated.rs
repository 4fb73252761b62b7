//! palgen's output: the rendered tree, and the objects of `palgen build`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ServerCertificate;
use crate::common::{objects_by_identity, palgen, render_all, stderr, stdout};

/// A tree palgen rendered into a temporary directory.
pub struct Generated {
    tree: PathBuf,
    /// Holds the tree: it is removed with the `Generated`.
    _dir: tempfile::TempDir,
}

impl Generated {
    /// `palgen render --all`.
    pub fn render() -> Generated {
        let dir = render_all();
        Generated {
            tree: dir.path().to_owned(),
            _dir: dir,
        }
    }

    /// `palgen --profiles-dir <user profiles> render --profile ...` of the
    /// given profiles (built-in ones or of `user_profiles`, which are
    /// `(name, YAML)` pairs written as `<name>.yaml`).
    pub fn render_profiles(user_profiles: &[(&str, &str)], profiles: &[&str]) -> Generated {
        let dir = tempfile::tempdir().expect("temporary directory");
        let profiles_dir = dir.path().join("profiles");
        fs::create_dir(&profiles_dir).expect("mkdir profiles");
        for (name, yaml) in user_profiles {
            fs::write(profiles_dir.join(format!("{name}.yaml")), yaml)
                .expect("write a user profile");
        }
        let tree = dir.path().join("k8s");
        let mut args = vec!["--profiles-dir", profiles_dir.to_str().unwrap(), "render"];
        for profile in profiles {
            args.extend(["--profile", profile]);
        }
        args.extend(["--out", tree.to_str().unwrap()]);
        let output = palgen(&args);
        assert!(
            output.status.success(),
            "palgen render of {profiles:?} failed: {}",
            stderr(&output)
        );
        Generated { tree, _dir: dir }
    }

    /// The rendered tree's root (holding `base/`, `components/`, `overlays/`).
    pub fn tree(&self) -> &Path {
        &self.tree
    }

    /// A file of `base/`.
    pub fn base(&self, name: &str) -> String {
        read(&self.tree.join("base").join(name))
    }

    /// A file as the profile sees it: its overlay's copy when the overlay
    /// has one (it holds only what differs), else that of a component the
    /// overlay lists, else base's.
    pub fn file(&self, profile: &str, name: &str) -> String {
        let overlay = self.tree.join("overlays").join(profile);
        let kustomization = read(&overlay.join("kustomization.yaml"));
        let components = kustomization
            .lines()
            .filter_map(|line| line.strip_prefix("- ../../components/"))
            .map(|component| self.tree.join("components").join(component).join(name));
        std::iter::once(overlay.join(name))
            .chain(components)
            .find(|path| path.exists())
            .map_or_else(|| self.base(name), |path| read(&path))
    }

    /// What the server of base (the small size) reads.
    pub fn base_server(&self) -> ServerFiles {
        ServerFiles {
            conf: self.base("postgresql.conf"),
            hba: self.base("pg_hba.conf"),
            certificate: self.certificate(None),
        }
    }

    /// What the server of a profile reads.
    pub fn server(&self, profile: &str) -> ServerFiles {
        ServerFiles {
            conf: self.file(profile, "postgresql.conf"),
            hba: self.file(profile, "pg_hba.conf"),
            certificate: self.certificate(Some(profile)),
        }
    }

    /// The server certificate of base, or of a profile: the names of
    /// base's Certificate unless the overlay's patch replaces them (a patch
    /// replaces a list of strings whole, as Kustomize applies it), and the
    /// mode of the database pod's `tls` volume.
    pub fn certificate(&self, profile: Option<&str>) -> ServerCertificate {
        let document = |path: &Path| -> Value {
            serde_saphyr::from_str(&read(path))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let base = self.tree.join("base");
        let patched = profile
            .map(|profile| {
                self.tree
                    .join("overlays")
                    .join(profile)
                    .join(format!("patch-{CERTIFICATE_FILE}"))
            })
            .filter(|path| path.exists())
            .map(|path| document(&path))
            .filter(|patch| patch["spec"]["dnsNames"].is_array());
        let certificate = patched.unwrap_or_else(|| document(&base.join(CERTIFICATE_FILE)));
        let dns_names = certificate["spec"]["dnsNames"]
            .as_array()
            .expect("the Certificate lists dnsNames")
            .iter()
            .map(|name| name.as_str().expect("a DNS name").to_owned())
            .collect();
        let statefulset = document(&base.join("statefulset-postgres.yaml"));
        let key_mode = statefulset["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|volume| volume["name"] == "tls")
            .and_then(|volume| volume["secret"]["defaultMode"].as_u64())
            .expect("the database pod mounts the TLS Secret as volume tls, with a defaultMode");
        ServerCertificate {
            dns_names,
            key_mode: u32::try_from(key_mode).expect("a file mode"),
        }
    }
}

/// The server Certificate's file in base.
const CERTIFICATE_FILE: &str = "certificate-postgres-tls.yaml";

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The generated files a PostgreSQL server reads.
pub struct ServerFiles {
    pub conf: String,
    pub hba: String,
    /// What its TLS Secret must hold.
    pub certificate: ServerCertificate,
}

/// The objects of `palgen build --profile NAME`, keyed kind/namespace/name.
pub fn build(profile: &str) -> BTreeMap<String, Value> {
    let output = palgen(&["build", "--profile", profile]);
    assert!(output.status.success(), "palgen build: {}", stderr(&output));
    objects_by_identity(&stdout(&output))
}

/// A container of the StatefulSet `postgres`.
pub fn postgres_container<'a>(objects: &'a BTreeMap<String, Value>, name: &str) -> &'a Value {
    objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|container| container["name"] == name)
        .unwrap_or_else(|| panic!("StatefulSet postgres has no container {name}"))
}

/// The literal environment of the backup CronJob's container `dump` (an
/// init container when there is an off-site copy).
pub fn dump_env(objects: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    let pod = &objects["CronJob/paless/postgres-backup"]["spec"]["jobTemplate"]["spec"]["template"]
        ["spec"];
    let dump = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| pod[list].as_array())
        .flatten()
        .find(|container| container["name"] == "dump")
        .expect("the backup pod has a container dump");
    container_env(dump)
}

/// A container's literal environment (a value from a Secret or ConfigMap
/// reference fails: the tests could not reproduce it).
pub fn container_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|var| {
            let name = var["name"].as_str().expect("env name").to_owned();
            let value = var["value"]
                .as_str()
                .unwrap_or_else(|| panic!("env {name} has no literal value: {var}"))
                .to_owned();
            (name, value)
        })
        .collect()
}

/// Replaces the one occurrence of `from` in generated text; the tests use it
/// only for host, port and path values that differ outside the cluster.
pub fn substitute(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected exactly one {from:?} in the generated text:\n{text}"
    );
    text.replacen(from, to, 1)
}
