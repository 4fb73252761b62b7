//! Labels shared by every object: the reference's `app=postgres` plus the
//! Kubernetes recommended `app.kubernetes.io/*` set.

use std::collections::BTreeMap;

use super::APP_NAME;

/// Pods carrying this label may reach the database (see the NetworkPolicy).
pub const PART_OF_KEY: &str = "app.kubernetes.io/part-of";
pub const PART_OF_VALUE: &str = "paless";

/// The labels that identify the database pods. Selectors and
/// volumeClaimTemplates are immutable, so they carry only these.
pub fn selector() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), APP_NAME.to_owned())])
}

/// Everything a reviewer or a dashboard uses to find the object.
pub fn common() -> BTreeMap<String, String> {
    let mut labels = selector();
    labels.extend(
        [
            ("app.kubernetes.io/name", "postgresql"),
            ("app.kubernetes.io/instance", "paless-postgres"),
            ("app.kubernetes.io/component", "database"),
            (PART_OF_KEY, PART_OF_VALUE),
            ("app.kubernetes.io/managed-by", "palgen"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    labels
}
