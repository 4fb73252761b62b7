//! The manual procedures an unsafe change needs, as commands a platform
//! engineer runs in order. Every name comes from the objects the plan
//! compares: namespace, StatefulSet, container, claims, overlay.

use crate::contract;

/// A StatefulSet as the procedures need it.
pub struct StatefulSet {
    pub namespace: String,
    pub name: String,
    /// The container that holds the database files.
    pub container: String,
    /// The claims its pods own, `<template>-<statefulset>-<ordinal>`.
    pub claims: Vec<String>,
    /// Whether its pods clone their data from the primary (read replicas),
    /// so their volumes can be dropped and rebuilt instead of migrated.
    pub clones_primary: bool,
}

impl StatefulSet {
    fn kubectl(&self) -> String {
        format!("kubectl -n {}", self.namespace)
    }

    fn first_pod(&self) -> String {
        format!("{}-0", self.name)
    }

    fn delete_claims(&self, why: &str) -> Vec<String> {
        self.claims
            .iter()
            .map(|claim| format!("{} delete pvc {claim}   # {why}", self.kubectl()))
            .collect()
    }

    fn rollout(&self) -> String {
        format!(
            "{} rollout status statefulset/{}",
            self.kubectl(),
            self.name
        )
    }
}

/// A bigger disk where the class can expand volumes: grow each claim, then
/// replace the StatefulSet object (its templates are immutable) without
/// touching its pods.
pub fn grow_disk(
    set: &StatefulSet,
    template: &str,
    size: &str,
    class_check: Option<String>,
    apply: &str,
) -> Vec<String> {
    let kubectl = set.kubectl();
    let mut steps: Vec<String> = class_check.into_iter().collect();
    for claim in &set.claims {
        steps.push(format!(
            "{kubectl} patch pvc {claim} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{size}\"}}}}}}}}'"
        ));
    }
    for claim in &set.claims {
        steps.push(format!(
            "{kubectl} get pvc {claim} -o jsonpath='{{.status.capacity.storage}}'   # repeat until it prints {size}"
        ));
    }
    steps.push(format!(
        "{kubectl} delete statefulset {} --cascade=orphan   # the pods and their volumes keep running",
        set.name
    ));
    steps.push(format!(
        "{}   # recreates StatefulSet {} with volumeClaimTemplate {template} at {size}",
        apply, set.name
    ));
    steps.push(set.rollout());
    steps
}

/// Immutable StatefulSet fields (selector, serviceName, podManagementPolicy,
/// a template change that is not a size): replace the object, keep the
/// volumes, then let the new object recreate each pod.
pub fn recreate_statefulset(set: &StatefulSet, apply: &str) -> Vec<String> {
    let kubectl = set.kubectl();
    let mut steps = vec![
        format!(
            "{kubectl} delete statefulset {} --cascade=orphan   # the pods and their volumes keep running",
            set.name
        ),
        apply.to_owned(),
    ];
    for ordinal in (0..set.claims.len().max(1)).rev() {
        steps.push(format!(
            "{kubectl} delete pod {}-{ordinal}   # then wait until it is Ready again; the new StatefulSet recreates it on the same volume",
            set.name
        ));
    }
    steps.push(set.rollout());
    steps
}

/// The data must move to a new volume (a smaller disk, another class, a
/// class that cannot expand): dump, recreate, restore.
pub fn move_data(set: &StatefulSet, why: &str, apply: &str) -> Vec<String> {
    if set.clones_primary {
        return reclone(set, apply);
    }
    dump_and_restore(set, &[], why, apply)
}

/// Replicas hold a copy of the primary: drop their volumes and let them
/// clone again.
fn reclone(set: &StatefulSet, apply: &str) -> Vec<String> {
    let mut steps = vec![format!("{} delete statefulset {}", set.kubectl(), set.name)];
    steps.extend(set.delete_claims("a copy of the primary; it is cloned again"));
    steps.push(apply.to_owned());
    steps.push(set.rollout());
    steps
}

/// A dump taken from the running server, restored into a fresh one. The
/// server's own `pg_dump` and `psql` run in its container over the local
/// socket (peer authentication as `postgres`).
pub fn dump_and_restore(
    set: &StatefulSet,
    replicas: &[StatefulSet],
    why: &str,
    apply: &str,
) -> Vec<String> {
    let kubectl = set.kubectl();
    let pod = set.first_pod();
    let container = &set.container;
    let database = contract::DATABASE;
    let mut steps = vec![
        "stop the application (scale its web and worker Deployments to 0), so nothing writes after the dump".to_owned(),
        format!(
            "{kubectl} exec {pod} -c {container} -- pg_dump -U postgres --clean --if-exists {database} > {database}.sql"
        ),
        format!("{kubectl} delete statefulset {}", set.name),
    ];
    steps.extend(set.delete_claims(&format!("only after checking {database}.sql; {why}")));
    for replica in replicas {
        steps.push(format!(
            "{} delete statefulset {}",
            replica.kubectl(),
            replica.name
        ));
        steps.extend(replica.delete_claims("a copy of the old primary; it is cloned again"));
    }
    steps.push(apply.to_owned());
    steps.push(set.rollout());
    steps.push(format!(
        "{kubectl} exec -i {pod} -c {container} -- psql -U postgres -v ON_ERROR_STOP=1 --single-transaction -d {database} < {database}.sql"
    ));
    steps.push("start the application again".to_owned());
    steps
}

/// A PostgreSQL major version change: the new server refuses the old data
/// directory, so the data is dumped by the old one and restored into the new.
pub fn major_upgrade(
    set: &StatefulSet,
    replicas: &[StatefulSet],
    from: u32,
    to: u32,
    apply: &str,
) -> Vec<String> {
    let mut steps = dump_and_restore(
        set,
        replicas,
        &format!("PostgreSQL {to} cannot start on a PostgreSQL {from} data directory"),
        apply,
    );
    if to > from {
        steps.push(format!(
            "alternative, keeping the volume: scale StatefulSet {} to 0, run pg_upgrade from {from} to {to} on claim {} in a one-off pod that has both versions' binaries, then apply",
            set.name,
            set.claims.first().map_or("(none)", String::as_str)
        ));
    }
    steps
}

/// A standalone claim whose spec cannot change in place.
pub fn replace_claim(namespace: &str, name: &str, apply: &str) -> Vec<String> {
    vec![
        format!(
            "copy what you keep off PVC {name} (a pod that mounts it, then `kubectl -n {namespace} cp`)"
        ),
        format!("kubectl -n {namespace} delete pvc {name}"),
        apply.to_owned(),
    ]
}

/// StorageClass parameters are immutable: replace the class. Volumes it
/// provisioned keep what they were created with.
pub fn replace_storage_class(name: &str, apply: &str) -> Vec<String> {
    vec![
        format!(
            "kubectl delete storageclass {name}   # existing volumes are untouched and keep their old parameters"
        ),
        apply.to_owned(),
        "only volumes provisioned from now on get the new parameters; move data to one as for a smaller disk if an existing volume must change".to_owned(),
    ]
}

/// Fields of a Service or Deployment that only a new object can change.
pub fn replace_object(
    namespace: &str,
    kind: &str,
    name: &str,
    effect: &str,
    apply: &str,
) -> Vec<String> {
    vec![
        format!(
            "kubectl -n {namespace} delete {} {name}   # {effect}",
            kind.to_lowercase()
        ),
        apply.to_owned(),
    ]
}

/// A CloudNativePG major upgrade: the operator runs pg_upgrade when the
/// image's major goes up; a backup is the only way back.
pub fn cnpg_major_upgrade(namespace: &str, cluster: &str, apply: &str) -> Vec<String> {
    vec![
        format!(
            "kubectl -n {namespace} apply -f - <<'EOF'\napiVersion: postgresql.cnpg.io/v1\nkind: Backup\nmetadata: {{name: {cluster}-before-upgrade}}\nspec: {{cluster: {{name: {cluster}}}, method: plugin, pluginConfiguration: {{name: barman-cloud.cloudnative-pg.io}}}}\nEOF"
        ),
        format!(
            "kubectl -n {namespace} wait backup/{cluster}-before-upgrade --for=jsonpath='{{.status.phase}}'=completed --timeout=1h"
        ),
        "stop the application (scale its web and worker pods to 0)".to_owned(),
        apply.to_owned(),
        format!(
            "kubectl -n {namespace} wait cluster/{cluster} --for=condition=Ready --timeout=1h   # the instances restart on the new major"
        ),
        "start the application again; should the upgrade fail, restore the backup into a new Cluster (bootstrap.recovery)".to_owned(),
    ]
}

/// A change the operator refuses on an existing Cluster: a new Cluster
/// that imports the data, then the application moved to it.
pub fn cnpg_new_cluster(namespace: &str, cluster: &str, apply: &str) -> Vec<String> {
    vec![
        format!(
            "create a Cluster with another name and the new settings, bootstrapped with initdb.import from {cluster}-rw.{namespace}.svc (as `palgen migrate` writes one)"
        ),
        "stop the application, wait until the new Cluster is Ready, point the Pooler at it"
            .to_owned(),
        format!(
            "kubectl -n {namespace} delete cluster {cluster}   # once the new one holds the data"
        ),
        apply.to_owned(),
    ]
}
