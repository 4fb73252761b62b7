//! Labels shared by every object: the reference's `app=<name>` plus the
//! Kubernetes recommended `app.kubernetes.io/*` set.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::contract;

/// Pods carrying this label may reach the database (see the NetworkPolicy).
pub const PART_OF_KEY: &str = "app.kubernetes.io/part-of";
pub const PART_OF_VALUE: &str = "paless";

/// One workload palgen generates: its `app` label and its role.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub app: &'static str,
    pub name: &'static str,
    pub component: &'static str,
}

pub const DATABASE: Workload = Workload {
    app: "postgres",
    name: "postgresql",
    component: "database",
};
pub const REPLICA: Workload = Workload {
    app: "postgres-replica",
    name: "postgresql",
    component: "read-replica",
};
pub const BACKUP: Workload = Workload {
    app: "postgres-backup",
    name: "postgresql",
    component: "backup",
};
pub const POOLER: Workload = Workload {
    app: contract::PGBOUNCER_SERVICE,
    name: "pgbouncer",
    component: "connection-pooler",
};

impl Workload {
    /// The labels that identify the pods. Selectors and volumeClaimTemplates
    /// are immutable, so they carry only these.
    pub fn selector(self) -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_owned(), self.app.to_owned())])
    }

    /// The metadata of a namespaced object of this workload.
    pub fn metadata(self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(contract::NAMESPACE.to_owned()),
            labels: Some(self.labels()),
            ..Default::default()
        }
    }

    /// Everything a reviewer or a dashboard uses to find the object.
    pub fn labels(self) -> BTreeMap<String, String> {
        let mut labels = self.selector();
        labels.extend(
            [
                ("app.kubernetes.io/name", self.name),
                ("app.kubernetes.io/instance", "paless-postgres"),
                ("app.kubernetes.io/component", self.component),
                (PART_OF_KEY, PART_OF_VALUE),
                ("app.kubernetes.io/managed-by", "palgen"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        labels
    }
}
