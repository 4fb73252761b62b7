//! Pieces every generated pod is made of, so that each workload meets Pod
//! Security Standards *restricted* the same way.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    KeyToPath, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec,
    PreferredSchedulingTerm, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
    VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::contract;
use crate::model::quantity::Bytes;
use crate::model::settings::{self, Amounts, NodeOperator, Scheduling, TolerationOperator};

/// A non-root identity: the user and group the image's files belong to.
#[derive(Debug, Clone, Copy)]
pub struct RunAs {
    pub user: i64,
    pub group: i64,
}

/// The `postgres` user of the official image; the data files belong to it.
pub const POSTGRES_USER: RunAs = RunAs {
    user: 999,
    group: 999,
};
/// The `pgbouncer` user of the CloudNativePG PgBouncer image.
pub const PGBOUNCER_USER: RunAs = RunAs {
    user: 998,
    group: 996,
};

pub fn pod_security(run_as: RunAs) -> PodSecurityContext {
    PodSecurityContext {
        run_as_user: Some(run_as.user),
        run_as_group: Some(run_as.group),
        fs_group: Some(run_as.group),
        fs_group_change_policy: Some("OnRootMismatch".to_owned()),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn container_security(run_as: RunAs) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(run_as.user),
        run_as_group: Some(run_as.group),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Default::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An environment variable. An empty value is left out, as the API server
/// stores it (a variable without a value is empty), so what is applied and
/// what is stored never differ.
pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    let value: String = value.into();
    EnvVar {
        name: name.to_owned(),
        value: (!value.is_empty()).then_some(value),
        ..Default::default()
    }
}

pub fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        ..Default::default()
    }
}

/// The volumes of one pod, declared by the mounts that use them: a pod has
/// exactly the volumes its containers mount, in the order they are first
/// mounted.
#[derive(Debug, Default)]
pub struct Volumes(Vec<Volume>);

impl Volumes {
    /// Mounts `volume` at `path`, declaring it for the pod on first use.
    pub fn mount(&mut self, volume: Volume, path: &str) -> VolumeMount {
        let mounted = mount(&volume.name, path);
        self.declare(volume);
        mounted
    }

    pub fn read_only(&mut self, volume: Volume, path: &str) -> VolumeMount {
        VolumeMount {
            read_only: Some(true),
            ..self.mount(volume, path)
        }
    }

    fn declare(&mut self, volume: Volume) {
        match self.0.iter().find(|declared| declared.name == volume.name) {
            Some(declared) => assert_eq!(
                declared, &volume,
                "two different volumes named {}",
                volume.name
            ),
            None => self.0.push(volume),
        }
    }

    pub fn into_list(self) -> Vec<Volume> {
        self.0
    }
}

pub fn config_map_volume(volume: &str, config_map: &str) -> Volume {
    Volume {
        name: volume.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn empty_dir(volume: &str) -> Volume {
    Volume {
        name: volume.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

/// Memory-backed, so nothing written there reaches a disk; counted against
/// the container's memory limit, hence the size limit.
pub fn memory_dir(volume: &str, size_limit: String) -> Volume {
    Volume {
        name: volume.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".to_owned()),
            size_limit: Some(Quantity(size_limit)),
        }),
        ..Default::default()
    }
}

/// The credentials Secret as files, readable by the pod's group only.
fn credentials_volume() -> Volume {
    Volume {
        name: "credentials".to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(contract::CREDENTIALS_SECRET.to_owned()),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every key of the credentials Secret: only the primary's database
/// container, which creates the roles on the first start, needs them all.
pub fn credentials_mount(volumes: &mut Volumes) -> VolumeMount {
    volumes.read_only(credentials_volume(), contract::CREDENTIALS_DIR)
}

/// One key of the credentials Secret, at the same path as in
/// [`credentials_mount`]: a container that connects as one role never sees
/// the other roles' passwords (the exporter, the dump and PgBouncer not the
/// superuser's or the replication password).
pub fn credential_mount(volumes: &mut Volumes, key: &str) -> VolumeMount {
    let mut volume = credentials_volume();
    volume.name = format!("credentials-{}", key.trim_end_matches("-password"));
    if let Some(secret) = volume.secret.as_mut() {
        secret.items = Some(vec![KeyToPath {
            key: key.to_owned(),
            path: key.to_owned(),
            ..Default::default()
        }]);
    }
    volumes.read_only(volume, contract::CREDENTIALS_DIR)
}

/// The TLS Secret with its private key, for the programs that serve TLS.
/// Mode 0440 with the pod's fsGroup: the kubelet writes the files as root,
/// group fsGroup, and PostgreSQL accepts a key owned by root with at most
/// group read (u=rw,g=r), never one that others may read.
fn tls_volume(secret: &str) -> Volume {
    Volume {
        name: "tls".to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Only the CA certificate of the TLS Secret, for clients that verify the
/// server: they never see its key.
fn tls_ca_volume(secret: &str) -> Volume {
    Volume {
        name: "tls-ca".to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(0o444),
            items: Some(vec![KeyToPath {
                key: contract::TLS_CA_KEY.to_owned(),
                path: contract::TLS_CA_KEY.to_owned(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Only the certificate of the TLS Secret, for the container that watches
/// it for renewals: no key.
fn tls_certificate_volume(secret: &str) -> Volume {
    Volume {
        name: "tls-certificate".to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(0o444),
            items: Some(vec![KeyToPath {
                key: contract::TLS_CERT_KEY.to_owned(),
                path: contract::TLS_CERT_KEY.to_owned(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn tls_certificate_mount(volumes: &mut Volumes, secret: &str) -> VolumeMount {
    volumes.read_only(tls_certificate_volume(secret), contract::TLS_DIR)
}

pub fn tls_mount(volumes: &mut Volumes, secret: &str) -> VolumeMount {
    volumes.read_only(tls_volume(secret), contract::TLS_DIR)
}

pub fn tls_ca_mount(volumes: &mut Volumes, secret: &str) -> VolumeMount {
    volumes.read_only(tls_ca_volume(secret), contract::TLS_DIR)
}

/// A container that connects to the database and verifies its certificate:
/// libpq's settings and the CA of the TLS Secret `secret` mounted.
pub fn verify_server_certificate(container: &mut Container, volumes: &mut Volumes, secret: &str) {
    container
        .env
        .get_or_insert_with(Vec::new)
        .extend(verify_full_env());
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(tls_ca_mount(volumes, secret));
}

/// libpq's settings for a client that verifies the server: the certificate
/// must chain to the mounted CA and name the host connected to.
pub fn verify_full_env() -> Vec<EnvVar> {
    vec![
        env("PGSSLMODE", "verify-full"),
        env("PGSSLROOTCERT", contract::tls_ca_file()),
    ]
}

/// A single-node volume of the profile's StorageClass.
pub fn claim_spec(class: &str, size: Bytes) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
        storage_class_name: Some(class.to_owned()),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_owned(),
                Quantity(size.to_string()),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn resources(requests: &Amounts, limits: &Amounts) -> ResourceRequirements {
    let amounts = |a: &Amounts| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(a.cpu.to_kubernetes())),
            ("memory".to_owned(), Quantity(a.memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(amounts(requests)),
        limits: Some(amounts(limits)),
        ..Default::default()
    }
}

/// Checkov checks that a workload knowingly fails, as the annotations
/// Checkov reads (`checkov.io/skipN: CHECK=reason`). The README lists them.
pub fn checkov_skips(skips: &[(&str, &str)]) -> BTreeMap<String, String> {
    skips
        .iter()
        .enumerate()
        .map(|(index, (check, reason))| {
            (
                format!("checkov.io/skip{}", index + 1),
                format!("{check}={reason}"),
            )
        })
        .collect()
}

/// Tags are pinned by default; a digest cannot be chosen for the user.
pub const SKIP_IMAGE_DIGEST: (&str, &str) = (
    "CKV_K8S_43",
    "images are pinned by tag; pin a digest with image: repository:tag@sha256:<digest> in a profile",
);
/// A database restart must not wait on the registry.
pub const SKIP_PULL_ALWAYS: (&str, &str) = (
    "CKV_K8S_15",
    "IfNotPresent so that a database restart never depends on the registry; pin a digest to make the image immutable",
);
/// The official postgres image's files belong to uid 999.
pub const SKIP_POSTGRES_UID: (&str, &str) = (
    "CKV_K8S_40",
    "the official postgres image runs as its postgres user, uid 999, which owns the data files",
);
/// The CloudNativePG PgBouncer image runs as its own user.
pub const SKIP_PGBOUNCER_UID: (&str, &str) = (
    "CKV_K8S_40",
    "the CloudNativePG PgBouncer image runs as its pgbouncer user, uid 998",
);

/// A pod spec with only the profile's scheduling set (node selector,
/// tolerations, PriorityClass, node affinity), for the database, PgBouncer
/// and backup pods to fill in: they run on the same dedicated nodes. Pods
/// that also spread over nodes set `affinity` with [`affinity`].
pub fn scheduled(scheduling: &Scheduling) -> PodSpec {
    let some_text = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    PodSpec {
        node_selector: (!scheduling.node_selector.is_empty())
            .then(|| scheduling.node_selector.clone()),
        tolerations: (!scheduling.tolerations.is_empty()).then(|| {
            scheduling
                .tolerations
                .iter()
                .map(|toleration| Toleration {
                    key: some_text(&toleration.key),
                    operator: Some(toleration.operator.to_string()),
                    value: (toleration.operator == TolerationOperator::Equal)
                        .then(|| toleration.value.clone()),
                    effect: toleration.effect.map(|effect| effect.to_string()),
                    ..Default::default()
                })
                .collect()
        }),
        priority_class_name: some_text(&scheduling.priority_class_name),
        affinity: affinity(scheduling, None),
        ..Default::default()
    }
}

/// The profile's node affinity and, for pods of `spread` where given, the
/// preference to spread them over nodes; none when neither applies.
pub fn affinity(scheduling: &Scheduling, spread: Option<LabelSelector>) -> Option<Affinity> {
    let node_affinity = node_affinity(&scheduling.node_affinity);
    let pod_anti_affinity = spread.map(spread_over_nodes);
    (node_affinity.is_some() || pod_anti_affinity.is_some()).then(|| Affinity {
        node_affinity,
        pod_anti_affinity,
        ..Default::default()
    })
}

fn node_affinity(settings: &settings::NodeAffinity) -> Option<NodeAffinity> {
    let requirement =
        |key: &str, operator: NodeOperator, values: &[String]| NodeSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_string(),
            values: (!values.is_empty()).then(|| values.to_vec()),
        };
    (!settings.is_empty()).then(|| NodeAffinity {
        required_during_scheduling_ignored_during_execution: (!settings.required.is_empty()).then(
            || NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(
                        settings
                            .required
                            .iter()
                            .map(|r| requirement(&r.key, r.operator, &r.values))
                            .collect(),
                    ),
                    ..Default::default()
                }],
            },
        ),
        preferred_during_scheduling_ignored_during_execution: (!settings.preferred.is_empty())
            .then(|| {
                settings
                    .preferred
                    .iter()
                    .map(|p| PreferredSchedulingTerm {
                        weight: p.weight,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![requirement(
                                &p.key, p.operator, &p.values,
                            )]),
                            ..Default::default()
                        },
                    })
                    .collect()
            }),
    })
}

/// Pods of `pods` prefer nodes that hold no other: preferred, not
/// required, so a cluster with fewer nodes than pods still schedules them.
fn spread_over_nodes(pods: LabelSelector) -> PodAntiAffinity {
    PodAntiAffinity {
        preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
            weight: 100,
            pod_affinity_term: PodAffinityTerm {
                label_selector: Some(pods),
                topology_key: "kubernetes.io/hostname".to_owned(),
                ..Default::default()
            },
        }]),
        ..Default::default()
    }
}

/// Pods of `pods` spread evenly over zones where the scheduler can.
pub fn spread_over_zones(pods: LabelSelector) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone".to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        label_selector: Some(pods),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_declared_once_in_the_order_of_first_use() {
        let mut volumes = Volumes::default();
        let first = volumes.mount(empty_dir("tmp"), "/tmp");
        let second = volumes.read_only(credentials_volume(), "/a");
        let again = volumes.mount(empty_dir("tmp"), "/scratch");
        assert_eq!(first.name, again.name);
        assert_eq!(second.read_only, Some(true));
        let names: Vec<String> = volumes.into_list().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["tmp", "credentials"]);
    }

    #[test]
    #[should_panic(expected = "two different volumes named tmp")]
    fn one_name_cannot_stand_for_two_volumes() {
        let mut volumes = Volumes::default();
        volumes.mount(empty_dir("tmp"), "/tmp");
        volumes.mount(memory_dir("tmp", "1Mi".to_owned()), "/other");
    }
}
