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
    /// Its pods, by ordinal.
    pub pods: Vec<String>,
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

    /// `pg_dump` of the application database by the server of this
    /// StatefulSet's first pod, into `file` on the operator's machine.
    fn dump(&self, file: &str) -> String {
        dump_command(&self.kubectl(), &self.first_pod(), &self.container, file)
    }

    fn row_counts(&self, file: &str) -> String {
        row_counts_command(&self.kubectl(), &self.first_pod(), &self.container, file)
    }

    fn rollout(&self) -> String {
        format!(
            "{} rollout status statefulset/{}",
            self.kubectl(),
            self.name
        )
    }
}

/// Every table of the application database with its exact row count, one
/// per line, so two servers' data can be compared with `diff`.
pub const ROW_COUNTS_SQL: &str = "SELECT c.oid::regclass || ' ' || (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

const STOP_APPLICATION: &str = "stop the application (scale its web and worker Deployments to 0), so nothing writes after the dump";

fn dump_command(kubectl: &str, pod: &str, container: &str, file: &str) -> String {
    let database = contract::DATABASE;
    format!(
        "{kubectl} exec {pod} -c {container} -- pg_dump -U postgres --clean --if-exists {database} > {file}"
    )
}

fn restore_command(kubectl: &str, pod: &str, container: &str, file: &str) -> String {
    let database = contract::DATABASE;
    format!(
        "{kubectl} exec -i {pod} -c {container} -- psql -U postgres -v ON_ERROR_STOP=1 --single-transaction -d {database} < {file}"
    )
}

fn row_counts_command(kubectl: &str, pod: &str, container: &str, file: &str) -> String {
    let database = contract::DATABASE;
    format!(
        "{kubectl} exec {pod} -c {container} -- psql -U postgres -d {database} -Atc \"{ROW_COUNTS_SQL}\" > {file}"
    )
}

/// The step that proves two servers hold the same rows.
fn compare_rows(before: &str, after: &str, going_back: &str) -> String {
    format!(
        "diff {before} {after}   # must print nothing: every table has as many rows on both; until here, going back is {going_back}"
    )
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

/// Another StorageClass in a claim template: a claim's class cannot change,
/// so the existing claims keep theirs and only claims made from now on use
/// the new one. Replace the StatefulSet object without touching its pods;
/// where the new class retains its volumes and the old one may not, retain
/// the existing volumes too (a volume's reclaim policy can change).
pub fn new_class_for_new_claims(set: &StatefulSet, retain: &[String], apply: &str) -> Vec<String> {
    let kubectl = set.kubectl();
    let mut steps = vec![
        format!(
            "{kubectl} delete statefulset {} --cascade=orphan   # the pods and their volumes keep running",
            set.name
        ),
        apply.to_owned(),
    ];
    for claim in retain {
        steps.push(format!(
            "kubectl patch pv \"$({kubectl} get pvc {claim} -o jsonpath='{{.spec.volumeName}}')\" -p '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'   # the volume outlives its claim, as the new class's do"
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
        STOP_APPLICATION.to_owned(),
        set.dump(&format!("{database}.sql")),
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
    steps.push(restore_command(
        &kubectl,
        &pod,
        container,
        &format!("{database}.sql"),
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
    let mut reason = format!("PostgreSQL {to} cannot start on a PostgreSQL {from} data directory");
    if to > from {
        reason.push_str(&format!(
            " (to keep the volume instead: scale StatefulSet {} to 0 and run pg_upgrade from {from} to {to} on claim {} in a one-off pod that has both versions' binaries)",
            set.name,
            set.claims.first().map_or("(none)", String::as_str)
        ));
    }
    dump_and_restore(set, replicas, &reason, apply)
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
        format!(
            "{apply}   # only volumes provisioned from now on get the new parameters; move data to one as for a smaller disk if an existing volume must change"
        ),
    ]
}

/// A PriorityClass's value is immutable: replace the class. Pods resolve
/// their priority when they are created, so running pods keep the old one
/// until they are replaced.
pub fn replace_priority_class(name: &str, apply: &str) -> Vec<String> {
    vec![
        format!(
            "kubectl delete priorityclass {name}   # running pods keep their priority; a pod created before the apply below is refused, so run it right away"
        ),
        apply.to_owned(),
        "pods created from now on get the new value; running pods keep the old one until they are replaced".to_owned(),
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
    let mut steps = cnpg_backup(namespace, cluster, "before-upgrade");
    steps.extend([
        "stop the application (scale its web and worker pods to 0)".to_owned(),
        apply.to_owned(),
        format!(
            "kubectl -n {namespace} wait cluster/{cluster} --for=condition=Ready --timeout=1h   # the instances restart on the new major"
        ),
        "start the application again; should the upgrade fail, restore the backup into a new Cluster (bootstrap.recovery)".to_owned(),
    ]);
    steps
}

/// A base backup of the Cluster through the Barman Cloud plugin, named
/// `<cluster>-<purpose>`, and the wait until it has completed.
fn cnpg_backup(namespace: &str, cluster: &str, purpose: &str) -> Vec<String> {
    let backup = format!("{cluster}-{purpose}");
    vec![
        format!(
            "kubectl -n {namespace} apply -f - <<'EOF'\napiVersion: postgresql.cnpg.io/v1\nkind: Backup\nmetadata: {{name: {backup}}}\nspec: {{cluster: {{name: {cluster}}}, method: plugin, pluginConfiguration: {{name: barman-cloud.cloudnative-pg.io}}}}\nEOF"
        ),
        format!(
            "kubectl -n {namespace} wait backup/{backup} --for=jsonpath='{{.status.phase}}'=completed --timeout=1h"
        ),
    ]
}

/// WAL archiving or scheduled base backups stop (backups turned off, the
/// ObjectStore or ScheduledBackup no longer generated): a last base backup
/// first, so what the archive holds ends with the newest data; then the
/// apply, and the objects `kubectl apply -k` leaves behind.
pub fn cnpg_stop_backups(
    namespace: &str,
    cluster: &str,
    leftover: Option<(&str, &str)>,
    apply: &str,
) -> Vec<String> {
    let mut steps = cnpg_backup(namespace, cluster, "final");
    steps.push(apply.to_owned());
    if let Some((kind, name)) = leftover {
        steps.push(format!(
            "kubectl -n {namespace} delete {} {name}   # what the bucket holds stays",
            kind.to_lowercase()
        ));
    }
    steps
}

/// A shorter ObjectStore retention: after the apply the plugin deletes base
/// backups older than the new policy, and the WAL they need.
pub fn cnpg_shorter_retention(
    namespace: &str,
    cluster: &str,
    destination: &str,
    retention: &str,
    apply: &str,
) -> Vec<String> {
    let mut steps = cnpg_backup(namespace, cluster, "final");
    steps.extend([
        format!(
            "kubectl -n {namespace} get backups.postgresql.cnpg.io   # those older than {retention} go, with their WAL: copy them out of {destination} first if you keep them"
        ),
        apply.to_owned(),
    ]);
    steps
}

/// Archiving moves to another destination: the new one holds no base
/// backup to recover from until one is taken there.
pub fn cnpg_new_destination(namespace: &str, cluster: &str, apply: &str) -> Vec<String> {
    let mut steps = cnpg_backup(namespace, cluster, "final");
    steps.push(apply.to_owned());
    steps.extend(cnpg_backup(namespace, cluster, "first"));
    steps
}

/// A running database server, of either engine, as a dump, a restore and a
/// row count reach it.
pub enum Server {
    StatefulSet(StatefulSet),
    Cluster(CnpgCluster),
}

impl Server {
    fn kubectl(&self) -> String {
        match self {
            Server::StatefulSet(set) => set.kubectl(),
            Server::Cluster(cluster) => cluster.kubectl(),
        }
    }

    fn dump(&self, file: &str) -> String {
        match self {
            Server::StatefulSet(set) => set.dump(file),
            Server::Cluster(cluster) => cluster.dump(file),
        }
    }

    fn row_counts(&self, file: &str) -> String {
        match self {
            Server::StatefulSet(set) => set.row_counts(file),
            Server::Cluster(cluster) => cluster.row_counts(file),
        }
    }

    fn restore(&self, file: &str) -> String {
        match self {
            Server::StatefulSet(set) => {
                restore_command(&set.kubectl(), &set.first_pod(), &set.container, file)
            }
            Server::Cluster(cluster) => {
                restore_command(&cluster.kubectl(), &cluster.primary_pod(), "postgres", file)
            }
        }
    }

    fn ready(&self) -> String {
        match self {
            Server::StatefulSet(set) => set.rollout(),
            Server::Cluster(cluster) => cluster.wait_ready(),
        }
    }
}

/// What a move to another namespace needs: the running server, the new
/// one the apply creates, and what is left behind in the old namespace.
pub struct NamespaceMove<'a> {
    pub from: Server,
    pub to: Server,
    /// `kind/name` of every object of the old overlay in the old namespace.
    pub old_objects: Vec<String>,
    /// The claims of its StatefulSets, which outlive them.
    pub old_claims: Vec<String>,
    /// The new namespace needs the credentials Secret the user created in
    /// the old one (a profile without dev credentials, statefulset engine).
    pub copy_credentials: bool,
    pub apply: &'a str,
}

/// A new namespace is a new deployment: the apply creates every object
/// there with an empty database and leaves the old ones running. The data
/// goes through a dump, checked by row counts before anything in the old
/// namespace is deleted; the application moves in between.
pub fn move_namespace(change: &NamespaceMove) -> Vec<String> {
    let (old, new) = (change.from.kubectl(), change.to.kubectl());
    let database = contract::DATABASE;
    let mut steps = vec![
        STOP_APPLICATION.to_owned(),
        format!(
            "{}   # the data, before anything changes",
            change.from.dump(&format!("{database}.sql"))
        ),
        change.from.row_counts("rows-before.txt"),
        format!(
            "{}   # creates the new namespace with an empty database; the old namespace keeps running",
            change.apply
        ),
    ];
    if change.copy_credentials {
        let secret = contract::CREDENTIALS_SECRET;
        steps.push(format!(
            "{old} get secret {secret} -o json | jq '{{apiVersion, kind, type, data, metadata: {{name: .metadata.name}}}}' | {new} apply -f -   # the same passwords; the new pods wait for this Secret"
        ));
    }
    steps.extend([
        change.to.ready(),
        format!(
            "{}   # restores the dump",
            change.to.restore(&format!("{database}.sql"))
        ),
        change.to.row_counts("rows-after.txt"),
        compare_rows(
            "rows-before.txt",
            "rows-after.txt",
            "starting the application again in the old namespace",
        ),
        format!(
            "move the application into the new namespace (the NetworkPolicy admits only pods of its own namespace labelled {}={}), then start it again",
            contract::PART_OF_KEY,
            contract::PART_OF_VALUE
        ),
    ]);
    if !change.old_objects.is_empty() {
        steps.push(format!(
            "{old} delete {}   # the old deployment, once the application works in the new namespace",
            change.old_objects.join(" ")
        ));
    }
    steps.extend(change.old_claims.iter().map(|claim| {
        format!(
            "{old} delete pvc {claim}   # the old data: only after the diff above printed nothing"
        )
    }));
    steps
}

/// A CloudNativePG Cluster as the procedures need it.
pub struct CnpgCluster {
    pub namespace: String,
    pub name: String,
}

impl CnpgCluster {
    fn kubectl(&self) -> String {
        format!("kubectl -n {}", self.namespace)
    }

    /// The pod of the current primary, wherever failovers moved it.
    fn primary_pod(&self) -> String {
        format!(
            "\"$({} get pod -l cnpg.io/cluster={},cnpg.io/instanceRole=primary -o name)\"",
            self.kubectl(),
            self.name
        )
    }

    fn dump(&self, file: &str) -> String {
        dump_command(&self.kubectl(), &self.primary_pod(), "postgres", file)
    }

    fn row_counts(&self, file: &str) -> String {
        row_counts_command(&self.kubectl(), &self.primary_pod(), "postgres", file)
    }

    fn wait_ready(&self) -> String {
        format!(
            "{} wait cluster/{} --for=condition=Ready --timeout=60m",
            self.kubectl(),
            self.name
        )
    }
}

/// A change the operator refuses on an existing Cluster (a lower major, a
/// smaller volume): the Cluster is recreated by the apply, so the data
/// goes through a dump, checked before the old Cluster is deleted.
pub fn cnpg_new_cluster(namespace: &str, cluster: &str, apply: &str) -> Vec<String> {
    let cluster = CnpgCluster {
        namespace: namespace.to_owned(),
        name: cluster.to_owned(),
    };
    let kubectl = cluster.kubectl();
    let database = contract::DATABASE;
    vec![
        STOP_APPLICATION.to_owned(),
        cluster.dump(&format!("{database}.sql")),
        cluster.row_counts("rows-before.txt"),
        format!(
            "{kubectl} delete cluster {}   # its instances and volumes go: only after checking {database}.sql",
            cluster.name
        ),
        "with WAL archiving on, move the old archive (the destination's directory named after the profile) aside in the object store: a new Cluster refuses to archive into a non-empty one".to_owned(),
        format!(
            "{apply}   # a new, empty Cluster {} with the new settings",
            cluster.name
        ),
        cluster.wait_ready(),
        format!(
            "{}   # restores the dump",
            restore_command(
                &kubectl,
                &cluster.primary_pod(),
                "postgres",
                &format!("{database}.sql")
            )
        ),
        cluster.row_counts("rows-after.txt"),
        "diff rows-before.txt rows-after.txt   # must print nothing: every table has as many rows as before".to_owned(),
        format!(
            "give the application the new password of Secret {}-app (key password), then start it again",
            cluster.name
        ),
    ]
}

/// The names a move from the statefulset engine to CloudNativePG needs.
pub struct Migration<'a> {
    pub profile: &'a str,
    pub cluster: &'a str,
    /// The overlay's ObjectStore file, with backups on: the Cluster archives
    /// WAL there from its first start.
    pub object_store: Option<String>,
    pub apply: &'a str,
}

/// The `palgen migrate` path: a new Cluster imports the database from the
/// running StatefulSet, the import is verified, the application moves to
/// it, and only then, as a separate last step after a fresh dump, the old
/// StatefulSets and their volumes go.
pub fn statefulset_to_cluster(
    migration: &Migration,
    primary: &StatefulSet,
    replicas: &[&StatefulSet],
) -> Vec<String> {
    let kubectl = primary.kubectl();
    let database = contract::DATABASE;
    let cluster = CnpgCluster {
        namespace: primary.namespace.clone(),
        name: migration.cluster.to_owned(),
    };
    let mut steps = vec![
        "install cert-manager, the CloudNativePG operator and the Barman Cloud plugin (README: CloudNativePG engine); do not apply the overlay before the step that says so".to_owned(),
        STOP_APPLICATION.to_owned(),
        format!(
            "{}   # a copy of the data before anything changes",
            primary.dump(&format!("{database}.sql"))
        ),
    ];
    if let Some(file) = &migration.object_store {
        steps.push(format!(
            "kubectl apply -f {file}   # the object store the Cluster archives WAL to from its first start"
        ));
    }
    steps.extend([
        format!(
            "palgen migrate --profile {} | kubectl apply -f -   # a new Cluster {} that imports {database} from the running StatefulSet {}",
            migration.profile, cluster.name, primary.name
        ),
        cluster.wait_ready(),
        primary.row_counts("rows-statefulset.txt"),
        cluster.row_counts("rows-cluster.txt"),
        compare_rows(
            "rows-statefulset.txt",
            "rows-cluster.txt",
            &format!(
                "`{kubectl} delete cluster {}` and starting the application again",
                cluster.name
            ),
        ),
        format!(
            "{kubectl} delete deployment,cronjob,service,poddisruptionbudget -l app.kubernetes.io/managed-by=palgen   # frees the Service name the Pooler takes; the StatefulSets and their volumes stay"
        ),
        format!(
            "{}   # the Pooler, the Cluster's other objects; the Cluster's bootstrap (the import) is ignored once it exists",
            migration.apply
        ),
        format!(
            "give the application the password of Secret {}-app (key password; the role is {} as before), start it again and check it",
            cluster.name,
            contract::APP_ROLE
        ),
        format!(
            "{}   # LAST, separately, once the application runs on Cluster {}: a fresh dump of the old server, kept with {database}.sql",
            primary.dump(&format!("{database}-statefulset-final.sql")),
            cluster.name
        ),
    ]);
    let mut old = vec![primary];
    old.extend(replicas);
    let names: Vec<&str> = old.iter().map(|set| set.name.as_str()).collect();
    steps.push(format!(
        "{kubectl} delete statefulset {}   # the old servers stop; their volumes stay",
        names.join(" ")
    ));
    let claims: Vec<&str> = old
        .iter()
        .flat_map(|set| &set.claims)
        .map(String::as_str)
        .collect();
    steps.push(format!(
        "{kubectl} delete pvc {}   # the old data: only after the verified import and the final dump",
        claims.join(" ")
    ));
    steps
}

/// Back from CloudNativePG to palgen's StatefulSet: the Cluster's data is
/// dumped, restored into the new StatefulSet and compared; the Cluster
/// (whose deletion deletes its volumes) goes last, after a fresh dump.
pub fn cluster_to_statefulset(
    cluster: &CnpgCluster,
    pooler: Option<&str>,
    primary: &StatefulSet,
    apply: &str,
) -> Vec<String> {
    let kubectl = cluster.kubectl();
    let database = contract::DATABASE;
    let mut steps = vec![
        format!(
            "{kubectl} get secret {}   # the StatefulSet reads its passwords: create it as README: Applying says if it is missing",
            contract::CREDENTIALS_SECRET
        ),
        STOP_APPLICATION.to_owned(),
        format!(
            "{}   # a copy of the data before anything changes",
            cluster.dump(&format!("{database}.sql"))
        ),
    ];
    if let Some(pooler) = pooler {
        steps.push(format!(
            "{kubectl} delete pooler {pooler}   # frees the Service name the StatefulSet's Service takes"
        ));
    }
    steps.extend([
        apply.to_owned(),
        primary.rollout(),
        restore_command(
            &primary.kubectl(),
            &primary.first_pod(),
            &primary.container,
            &format!("{database}.sql"),
        ),
        cluster.row_counts("rows-cluster.txt"),
        primary.row_counts("rows-statefulset.txt"),
        compare_rows(
            "rows-cluster.txt",
            "rows-statefulset.txt",
            &format!("`{kubectl} delete statefulset {}` and `{kubectl} delete pvc {}`", primary.name, primary.claims.join(" ")),
        ),
        format!(
            "give the application the password of Secret {} (key {}), start it again and check it",
            contract::CREDENTIALS_SECRET,
            contract::APP_PASSWORD_KEY
        ),
        format!(
            "{}   # LAST, separately, once the application runs on StatefulSet {}: a fresh dump of the Cluster, kept with {database}.sql",
            cluster.dump(&format!("{database}-cluster-final.sql")),
            primary.name
        ),
        format!(
            "{kubectl} delete cluster {}   # its instances and their volumes go: only after the verified restore and the final dump",
            cluster.name
        ),
    ]);
    steps
}

/// A Cluster that is no longer generated and nothing replaces.
pub fn remove_cluster(cluster: &CnpgCluster) -> Vec<String> {
    let database = contract::DATABASE;
    vec![
        format!(
            "`kubectl apply -k` leaves Cluster {} and its volumes in place",
            cluster.name
        ),
        cluster.dump(&format!("{database}.sql")),
        format!(
            "{} delete cluster {}   # only if you mean to drop it, and after checking {database}.sql",
            cluster.kubectl(),
            cluster.name
        ),
    ]
}

/// A primary StatefulSet that is no longer generated: a dump before its
/// claims may go.
pub fn remove_primary(set: &StatefulSet) -> Vec<String> {
    let database = contract::DATABASE;
    let mut steps = vec![
        STOP_APPLICATION.to_owned(),
        set.dump(&format!("{database}.sql")),
        format!("{} delete statefulset {}", set.kubectl(), set.name),
    ];
    steps.extend(set.delete_claims(&format!(
        "only after checking {database}.sql; claims outlive their StatefulSet"
    )));
    steps
}

/// The replication slot a replica pod holds on the primary: the bootstrap
/// names it after the pod.
fn slot_of(pod: &str) -> String {
    pod.replace('-', "_")
}

/// Waits until `pods` are gone, then drops their slots on the primary (a
/// slot of a stopped pod is inactive, so it can be dropped), so it stops
/// keeping WAL for them.
fn drop_slots(set: &StatefulSet, pods: &[String], primary: Option<&StatefulSet>) -> Vec<String> {
    let mut steps = vec![format!(
        "{} wait --for=delete pod/{} --timeout=5m",
        set.kubectl(),
        pods.join(" pod/")
    )];
    if let Some(primary) = primary {
        let slots: Vec<String> = pods
            .iter()
            .map(|pod| format!("'{}'", slot_of(pod)))
            .collect();
        steps.push(format!(
            "{} exec {} -c {} -- psql -U postgres -v ON_ERROR_STOP=1 -c \"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ({})\"   # the primary keeps WAL for a slot until it is dropped",
            primary.kubectl(),
            primary.first_pod(),
            primary.container,
            slots.join(", ")
        ));
    }
    steps
}

/// Read replicas no longer generated: their pods stop, their slots on the
/// primary are dropped, and their claims (copies of the primary) go.
pub fn remove_replicas(set: &StatefulSet, primary: Option<&StatefulSet>) -> Vec<String> {
    let mut steps = vec![format!("{} delete statefulset {}", set.kubectl(), set.name)];
    steps.extend(drop_slots(set, &set.pods, primary));
    steps.extend(set.delete_claims("a copy of the primary; claims outlive their StatefulSet"));
    steps
}

/// Fewer read replicas: the apply stops the pods of the highest ordinals;
/// their slots are dropped, and their claims too, so that a later scale-up
/// clones afresh instead of starting on a copy whose slot is gone.
pub fn scale_down_replicas(
    set: &StatefulSet,
    primary: Option<&StatefulSet>,
    to: usize,
    apply: &str,
) -> Vec<String> {
    let gone = &set.pods[to.min(set.pods.len())..];
    let mut steps = vec![format!(
        "{apply}   # StatefulSet {} scales to {to}",
        set.name
    )];
    steps.extend(drop_slots(set, gone, primary));
    for pod in gone {
        steps.extend(
            set.claims
                .iter()
                .filter(|claim| claim.ends_with(&format!("-{pod}")))
                .map(|claim| {
                    format!(
                        "{} delete pvc {claim}   # a copy of the primary, cloned again on a later scale-up",
                        set.kubectl()
                    )
                }),
        );
    }
    steps
}

/// A standalone claim no longer generated.
pub fn copy_off_claim(namespace: &str, name: &str) -> Vec<String> {
    vec![
        format!(
            "`kubectl apply -k` leaves PVC {name} and its data in place; copy off what you keep (a pod that mounts it, then `kubectl cp`)"
        ),
        format!("kubectl -n {namespace} delete pvc {name}"),
    ]
}

/// A CronJob no longer generated keeps running until deleted, since
/// `kubectl apply -k` does not prune. palgen's only scheduled CronJob takes
/// the dumps: a last one runs, and the CronJob goes, before the apply, while
/// the objects it reads still exist (an engine switch removes them before
/// its own apply).
pub fn stop_cron_job(namespace: &str, name: &str, apply: &str) -> Vec<String> {
    let mut steps = run_cron_job_now(namespace, name);
    steps.push(format!(
        "kubectl -n {namespace} delete cronjob {name}   # `kubectl apply -k` would leave it running on its old schedule; what it wrote stays on its volume"
    ));
    steps.push(apply.to_owned());
    steps
}

/// A run of the dump CronJob now, and the wait until it has completed.
fn run_cron_job_now(namespace: &str, name: &str) -> Vec<String> {
    vec![
        format!("kubectl -n {namespace} create job {name}-final --from=cronjob/{name}"),
        format!(
            "kubectl -n {namespace} wait job/{name}-final --for=condition=complete --timeout=1h"
        ),
    ]
}

/// A shorter dump retention: the next run deletes the dumps older than it,
/// on the volume and off site.
pub fn shorter_dump_retention(
    namespace: &str,
    name: &str,
    claim: &str,
    days: &str,
    apply: &str,
) -> Vec<String> {
    let mut steps = run_cron_job_now(namespace, name);
    steps.extend([
        format!(
            "copy off the dumps older than {days} days you keep: from PVC {claim} (a pod that mounts it, then `kubectl cp`) and from the off-site bucket; the next run deletes them"
        ),
        apply.to_owned(),
    ]);
    steps
}

/// A Secret no longer generated: pods still read it.
pub fn keep_secret(namespace: &str, name: &str) -> Vec<String> {
    vec![format!(
        "kubectl -n {namespace} get secret {name}   # `kubectl apply -k` leaves it in place; create it by hand before you ever delete it (README: Applying)"
    )]
}

/// The rule every procedure keeps: no step deletes data (a claim that is
/// not a replica's copy of the primary, a Cluster with its volumes) before
/// an earlier step has put the data elsewhere (a dump into a file, a
/// completed Backup, a copy by hand, rows compared on a second server).
/// Returns the first step that breaks it.
#[cfg(test)]
pub fn unsaved_deletion(steps: &[String]) -> Option<&String> {
    let mut saved = false;
    for step in steps {
        // What follows "   #" is a comment to the reader, not the command.
        let command = step.split("   #").next().unwrap_or(step);
        let dumps = command.contains("pg_dump") && command.contains(" > ");
        let backs_up = (command.contains("wait backup/") && command.contains("=completed"))
            || (command.contains("wait job/") && command.contains("condition=complete"));
        let copies = command.contains("copy off what you keep") || command.starts_with("copy ");
        let compares = command.starts_with("diff rows-");
        saved |= dumps || backs_up || copies || compares;
        let words: Vec<&str> = command.split_whitespace().collect();
        let deleted: Vec<&str> = words
            .windows(2)
            .position(|pair| pair == ["delete", "pvc"] || pair == ["delete", "cluster"])
            .map(|at| {
                words[at + 2..]
                    .iter()
                    .copied()
                    .take_while(|w| !w.starts_with('-'))
                    .collect()
            })
            .unwrap_or_default();
        let loses = deleted.iter().any(|claim| !claim.contains("-replica-"));
        if loses && !saved {
            return Some(step);
        }
    }
    None
}

/// The other rule: no step uses or deletes again an object that an earlier
/// step deleted (a run of a deleted CronJob, an exec into a pod of a deleted
/// StatefulSet), unless an apply brought it back (`applied` tells whether
/// the overlay has a kind, lowercase, and name); as written, such a step
/// fails. Returns the first step that breaks it.
#[cfg(test)]
pub fn uses_deleted<'a>(
    steps: &'a [String],
    applied: &dyn Fn(&str, &str) -> bool,
) -> Option<&'a String> {
    // (kind, name); a name of None stands for every object of the kind
    // (a delete by label).
    let mut deleted: Vec<(String, Option<String>)> = Vec::new();
    for step in steps {
        let command = step.split("   #").next().unwrap_or(step);
        let words: Vec<&str> = command.split_whitespace().collect();
        let is_gone = |kind: &str, name: &str| {
            deleted
                .iter()
                .any(|(k, n)| k == kind && n.as_deref().is_none_or(|n| n == name))
        };
        let referenced = words.iter().any(|word| {
            let word = word.strip_prefix("--from=").unwrap_or(word);
            word.split_once('/')
                .is_some_and(|(kind, name)| is_gone(kind, name))
        });
        let exec_into_gone = words.windows(2).any(|pair| {
            pair[0] == "exec"
                && pair[1].rsplit_once('-').is_some_and(|(set, ordinal)| {
                    ordinal.parse::<u32>().is_ok() && is_gone("statefulset", set)
                })
        });
        let delete = words.iter().position(|word| *word == "delete");
        let (kinds, names): (Vec<&str>, Vec<&str>) = match delete {
            Some(at) if at + 1 < words.len() => (
                words[at + 1].split(',').collect(),
                words[at + 2..]
                    .iter()
                    .copied()
                    .take_while(|w| !w.starts_with('-'))
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let deletes_again = kinds
            .iter()
            .any(|kind| names.iter().any(|name| is_gone(kind, name)));
        if referenced || exec_into_gone || deletes_again {
            return Some(step);
        }
        if command.starts_with("kubectl apply -k") {
            deleted.retain(|(kind, name)| match name {
                Some(name) => !applied(kind, name),
                None => true,
            });
        }
        for kind in kinds {
            if names.is_empty() {
                deleted.push((kind.to_owned(), None));
            }
            for name in &names {
                deleted.push((kind.to_owned(), Some((*name).to_owned())));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary() -> StatefulSet {
        StatefulSet {
            namespace: "paless".to_owned(),
            name: "postgres".to_owned(),
            container: "postgres".to_owned(),
            pods: vec!["postgres-0".to_owned()],
            claims: vec!["postgres-data-postgres-0".to_owned()],
            clones_primary: false,
        }
    }

    fn replica() -> StatefulSet {
        StatefulSet {
            namespace: "paless".to_owned(),
            name: "postgres-replica".to_owned(),
            container: "postgres".to_owned(),
            pods: vec![
                "postgres-replica-0".to_owned(),
                "postgres-replica-1".to_owned(),
            ],
            claims: vec![
                "postgres-data-postgres-replica-0".to_owned(),
                "postgres-data-postgres-replica-1".to_owned(),
            ],
            clones_primary: true,
        }
    }

    fn cluster() -> CnpgCluster {
        CnpgCluster {
            namespace: "paless".to_owned(),
            name: "postgres-cluster".to_owned(),
        }
    }

    const APPLY: &str = "kubectl apply -k k8s/overlays/acme";

    /// Every public procedure of this module, by name, with the arguments
    /// that reach each of its branches.
    fn every_procedure() -> Vec<(&'static str, Vec<String>)> {
        let migration = Migration {
            profile: "acme",
            cluster: "postgres-cluster",
            object_store: Some("k8s/overlays/acme/objectstore-postgres-backups.yaml".to_owned()),
            apply: APPLY,
        };
        let (primary, replica) = (primary(), replica());
        let replicas = || vec![self::tests::replica()];
        vec![
            (
                "grow_disk",
                grow_disk(
                    &primary,
                    "postgres-data",
                    "500Gi",
                    Some("check".to_owned()),
                    APPLY,
                ),
            ),
            (
                "recreate_statefulset",
                recreate_statefulset(&primary, APPLY),
            ),
            (
                "move_data",
                move_data(&primary, "a volume cannot shrink", APPLY),
            ),
            (
                "move_data",
                move_data(&replica, "a volume cannot shrink", APPLY),
            ),
            (
                "dump_and_restore",
                dump_and_restore(&primary, &replicas(), "why", APPLY),
            ),
            (
                "major_upgrade",
                major_upgrade(&primary, &replicas(), 18, 19, APPLY),
            ),
            ("major_upgrade", major_upgrade(&primary, &[], 18, 17, APPLY)),
            (
                "replace_claim",
                replace_claim("paless", "postgres-backups", APPLY),
            ),
            (
                "replace_storage_class",
                replace_storage_class("ebs-sc", APPLY),
            ),
            (
                "new_class_for_new_claims",
                new_class_for_new_claims(&primary, &["postgres-data-postgres-0".to_owned()], APPLY),
            ),
            (
                "replace_priority_class",
                replace_priority_class("paless-postgres", APPLY),
            ),
            (
                "replace_object",
                replace_object("paless", "Service", "postgres", "why", APPLY),
            ),
            (
                "cnpg_major_upgrade",
                cnpg_major_upgrade("paless", "postgres-cluster", APPLY),
            ),
            (
                "cnpg_new_cluster",
                cnpg_new_cluster("paless", "postgres-cluster", APPLY),
            ),
            (
                "statefulset_to_cluster",
                statefulset_to_cluster(&migration, &primary, &[&replica]),
            ),
            (
                "cluster_to_statefulset",
                cluster_to_statefulset(&cluster(), Some("postgres"), &primary, APPLY),
            ),
            ("remove_cluster", remove_cluster(&cluster())),
            ("remove_primary", remove_primary(&primary)),
            ("remove_replicas", remove_replicas(&replica, Some(&primary))),
            (
                "scale_down_replicas",
                scale_down_replicas(&replica, Some(&primary), 1, APPLY),
            ),
            (
                "copy_off_claim",
                copy_off_claim("paless", "postgres-backups"),
            ),
            (
                "stop_cron_job",
                stop_cron_job("paless", "postgres-backup", APPLY),
            ),
            ("keep_secret", keep_secret("paless", "postgres-credentials")),
            (
                "cnpg_stop_backups",
                cnpg_stop_backups(
                    "paless",
                    "postgres-cluster",
                    Some(("ObjectStore", "postgres-backups")),
                    APPLY,
                ),
            ),
            (
                "cnpg_shorter_retention",
                cnpg_shorter_retention("paless", "postgres-cluster", "s3://b/p", "7d", APPLY),
            ),
            (
                "cnpg_new_destination",
                cnpg_new_destination("paless", "postgres-cluster", APPLY),
            ),
            (
                "move_namespace",
                move_namespace(&NamespaceMove {
                    from: Server::StatefulSet(self::tests::primary()),
                    to: Server::Cluster(CnpgCluster {
                        namespace: "staging".to_owned(),
                        name: "postgres-cluster".to_owned(),
                    }),
                    old_objects: vec!["service/postgres".to_owned()],
                    old_claims: vec!["postgres-backups".to_owned()],
                    copy_credentials: true,
                    apply: APPLY,
                }),
            ),
            (
                "shorter_dump_retention",
                shorter_dump_retention("paless", "postgres-backup", "postgres-backups", "3", APPLY),
            ),
        ]
    }

    /// The position of the first step containing each of `needles`, which
    /// must come in that order.
    fn in_order(steps: &[String], needles: &[&str]) {
        let positions: Vec<usize> = needles
            .iter()
            .map(|needle| {
                steps
                    .iter()
                    .position(|s| s.contains(needle))
                    .unwrap_or_else(|| panic!("no step with {needle:?}: {steps:#?}"))
            })
            .collect();
        assert!(
            positions.windows(2).all(|pair| pair[0] < pair[1]),
            "{needles:?} at {positions:?}: {steps:#?}"
        );
    }

    #[test]
    fn a_replaced_claim_is_copied_off_then_deleted_then_applied() {
        let steps = replace_claim("paless", "postgres-backups", APPLY);
        assert_eq!(steps.len(), 3, "{steps:#?}");
        in_order(
            &steps,
            &[
                "copy what you keep off PVC postgres-backups",
                "kubectl -n paless delete pvc postgres-backups",
                APPLY,
            ],
        );
    }

    #[test]
    fn a_new_cluster_restores_the_dump_and_compares_rows() {
        let steps = cnpg_new_cluster("paless", "postgres-cluster", APPLY);
        in_order(
            &steps,
            &[
                "stop the application",
                "pg_dump -U postgres --clean --if-exists paperless > paperless.sql",
                "> rows-before.txt",
                "kubectl -n paless delete cluster postgres-cluster",
                "move the old archive",
                APPLY,
                "kubectl -n paless wait cluster/postgres-cluster --for=condition=Ready",
                "< paperless.sql",
                "> rows-after.txt",
                "diff rows-before.txt rows-after.txt",
                "start it again",
            ],
        );
        // The restore goes into the new Cluster's primary, not a fixed pod.
        let restore = steps
            .iter()
            .find(|s| s.contains("< paperless.sql"))
            .unwrap();
        assert!(
            restore.contains("cnpg.io/instanceRole=primary"),
            "{restore}"
        );
    }

    #[test]
    fn every_procedure_is_walked() {
        let source = include_str!("procedure.rs");
        let mut public: Vec<&str> = source
            .lines()
            .filter_map(|line| line.strip_prefix("pub fn "))
            .filter_map(|rest| rest.split(['(', '<']).next())
            .filter(|name| !["unsaved_deletion", "uses_deleted"].contains(name))
            .collect();
        public.sort_unstable();
        let mut walked: Vec<&str> = every_procedure().iter().map(|(name, _)| *name).collect();
        walked.sort_unstable();
        walked.dedup();
        assert_eq!(
            walked, public,
            "a procedure is missing from every_procedure()"
        );
    }

    #[test]
    fn no_procedure_deletes_data_before_it_is_elsewhere() {
        for (name, steps) in every_procedure() {
            assert_eq!(unsaved_deletion(&steps), None, "{name}: {steps:#?}");
        }
    }

    #[test]
    fn the_rule_catches_a_deletion_before_the_dump() {
        let steps = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let early = steps(&[
            "kubectl -n paless delete pvc postgres-data-postgres-0   # only after checking paperless.sql",
            "kubectl -n paless exec postgres-0 -c postgres -- pg_dump -U postgres paperless > paperless.sql",
        ]);
        assert_eq!(unsaved_deletion(&early), Some(&early[0]));
        let cluster = steps(&["kubectl -n paless delete cluster postgres-cluster"]);
        assert_eq!(unsaved_deletion(&cluster), Some(&cluster[0]));
        let copies = steps(&["kubectl -n paless delete pvc postgres-data-postgres-replica-1"]);
        assert_eq!(unsaved_deletion(&copies), None);
    }

    #[test]
    fn a_step_that_uses_what_an_earlier_step_deleted_is_found() {
        let steps = |list: &[&str]| -> Vec<String> { list.iter().map(|s| s.to_string()).collect() };
        let by_label = steps(&[
            "kubectl -n paless delete deployment,cronjob -l app.kubernetes.io/managed-by=palgen",
            "kubectl -n paless create job postgres-backup-final --from=cronjob/postgres-backup",
        ]);
        let nothing = |_: &str, _: &str| false;
        assert_eq!(uses_deleted(&by_label, &nothing), Some(&by_label[1]));
        let exec = steps(&[
            "kubectl -n paless delete statefulset postgres postgres-replica",
            "kubectl -n paless exec postgres-0 -c postgres -- pg_dump -U postgres paperless > x.sql",
        ]);
        assert_eq!(uses_deleted(&exec, &nothing), Some(&exec[1]));
        let twice = steps(&[
            "kubectl -n paless delete cronjob postgres-backup",
            "kubectl -n paless delete cronjob postgres-backup   # again",
        ]);
        assert_eq!(uses_deleted(&twice, &nothing), Some(&twice[1]));
        let in_order = steps(&[
            "kubectl -n paless create job postgres-backup-final --from=cronjob/postgres-backup",
            "kubectl -n paless wait job/postgres-backup-final --for=condition=complete --timeout=1h",
            "kubectl -n paless delete cronjob postgres-backup",
            "kubectl -n paless delete statefulset postgres-replica",
            "kubectl -n paless wait --for=delete pod/postgres-replica-0 --timeout=5m",
            "kubectl -n paless exec postgres-0 -c postgres -- psql -c 'SELECT 1'",
        ]);
        assert_eq!(uses_deleted(&in_order, &nothing), None);
        let recreated = steps(&[
            "kubectl -n paless delete statefulset postgres --cascade=orphan",
            "kubectl apply -k k8s/overlays/acme",
            "kubectl -n paless rollout status statefulset/postgres",
        ]);
        assert_eq!(uses_deleted(&recreated, &nothing), Some(&recreated[2]));
        let in_overlay = |kind: &str, name: &str| kind == "statefulset" && name == "postgres";
        assert_eq!(uses_deleted(&recreated, &in_overlay), None);
    }

    #[test]
    fn the_migration_removes_the_old_data_last_after_a_verified_import_and_a_fresh_dump() {
        let migration = Migration {
            profile: "acme",
            cluster: "postgres-cluster",
            object_store: None,
            apply: APPLY,
        };
        let steps = statefulset_to_cluster(&migration, &primary(), &[&replica()]);
        let at = |needle: &str| {
            steps
                .iter()
                .position(|s| s.contains(needle))
                .unwrap_or_else(|| panic!("no step with {needle:?}: {steps:#?}"))
        };
        let import = at("palgen migrate --profile acme | kubectl apply -f -");
        let verified = at("diff rows-statefulset.txt rows-cluster.txt");
        let switched = at("give the application the password of Secret postgres-cluster-app");
        let fresh_dump = at("LAST, separately");
        assert!(
            steps[fresh_dump].contains("pg_dump"),
            "{}",
            steps[fresh_dump]
        );
        let delete_sets = at("delete statefulset postgres postgres-replica");
        let delete_claims = at(
            "delete pvc postgres-data-postgres-0 postgres-data-postgres-replica-0 postgres-data-postgres-replica-1",
        );
        assert!(at("pg_dump") < import);
        assert!(import < verified && verified < switched && switched < fresh_dump);
        assert_eq!(
            (delete_sets, delete_claims),
            (steps.len() - 2, steps.len() - 1),
            "{steps:#?}"
        );
        assert!(
            steps[..delete_sets]
                .iter()
                .all(|s| !s.contains("delete pvc") && !s.contains("delete statefulset")),
            "{steps:#?}"
        );
    }
}
