//! Every overlay, built by the real `kubectl kustomize`, equals `palgen build`,
//! byte for byte.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{PROFILES, objects_by_identity, palgen, render_all, stderr, stdout, tool};

#[test]
fn every_overlay_builds_without_warnings_and_equals_palgen_build() {
    let kubectl = tool("kubectl");
    let tree = render_all();
    for profile in PROFILES {
        let overlay = tree.path().join("overlays").join(profile);
        let built = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&overlay)
            .output()
            .expect("kubectl runs");
        assert!(
            built.status.success(),
            "{profile}: kubectl kustomize failed: {}",
            stderr(&built)
        );
        assert_eq!(
            stderr(&built),
            "",
            "{profile}: kubectl kustomize printed warnings"
        );

        let palgen_build = palgen(&["build", "--profile", profile]);
        assert!(
            palgen_build.status.success(),
            "{profile}: {}",
            stderr(&palgen_build)
        );

        let from_kustomize = objects_by_identity(&stdout(&built));
        let from_palgen = objects_by_identity(&stdout(&palgen_build));
        assert_same_objects(profile, &from_kustomize, &from_palgen);
        // Formatting too (long strings folded, quoting), so a plain `diff`
        // of the two shows nothing.
        assert!(
            stdout(&palgen_build) == stdout(&built),
            "{profile}: palgen build and kubectl kustomize print different text"
        );
    }
}

/// User profiles that change one element of a keyed list (the `shm`
/// volume, the exporter container) or several, where kustomize's merge
/// would move the patched elements to the front unless the patch pins the
/// order.
const LIST_CHANGES: [(&str, &str); 4] = [
    (
        "shm-size",
        "extends: aws-medium\npostgres:\n  shm_size: 512Mi\n",
    ),
    (
        "exporter-image",
        "extends: aws-medium\nmonitoring:\n  exporter_image: quay.io/prometheuscommunity/postgres-exporter:v0.16.0\n",
    ),
    (
        "both-with-replicas",
        "extends: aws-large\npostgres:\n  shm_size: 512Mi\nmonitoring:\n  exporter_image: quay.io/prometheuscommunity/postgres-exporter:v0.16.0\n",
    ),
    (
        "guaranteed-existing-class",
        "extends: dev-large\nstorage:\n  class: gp2\n  provision: false\nresources:\n  requests:\n    memory: 4Gi\n    cpu: 4000m\n",
    ),
];

/// Renders user profiles; `kubectl kustomize` of each overlay and
/// `palgen build`, as objects.
fn built_both_ways(
    dir: &Path,
    profiles: &[(&str, &str)],
) -> Vec<(String, BTreeMapOfObjects, BTreeMapOfObjects)> {
    let profiles_dir = dir.join("profiles");
    fs::create_dir_all(&profiles_dir).unwrap();
    for (name, yaml) in profiles {
        fs::write(profiles_dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    let profiles_arg = profiles_dir.to_str().unwrap();
    let out = dir.join("k8s");
    let kubectl = tool("kubectl");
    profiles
        .iter()
        .map(|(name, _)| {
            let rendered = palgen(&[
                "--profiles-dir",
                profiles_arg,
                "render",
                "--profile",
                name,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(rendered.status.success(), "{name}: {}", stderr(&rendered));
            let built = Command::new(&kubectl)
                .arg("kustomize")
                .arg(out.join("overlays").join(name))
                .output()
                .expect("kubectl runs");
            assert!(built.status.success(), "{name}: {}", stderr(&built));
            let palgen_build =
                palgen(&["--profiles-dir", profiles_arg, "build", "--profile", name]);
            assert!(
                palgen_build.status.success(),
                "{name}: {}",
                stderr(&palgen_build)
            );
            (
                name.to_string(),
                objects_by_identity(&stdout(&built)),
                objects_by_identity(&stdout(&palgen_build)),
            )
        })
        .collect()
}

type BTreeMapOfObjects = std::collections::BTreeMap<String, serde_json::Value>;

/// The same objects, each equal, naming the first that differs.
fn assert_same_objects(
    profile: &str,
    from_kustomize: &BTreeMapOfObjects,
    from_palgen: &BTreeMapOfObjects,
) {
    assert_eq!(
        from_kustomize.keys().collect::<Vec<_>>(),
        from_palgen.keys().collect::<Vec<_>>(),
        "{profile}: different objects"
    );
    for (key, object) in from_kustomize {
        assert_eq!(object, &from_palgen[key], "{profile}: {key} differs");
    }
}

#[test]
fn user_profiles_that_change_list_elements_build_in_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    for (profile, from_kustomize, from_palgen) in built_both_ways(dir.path(), &LIST_CHANGES) {
        assert_same_objects(&profile, &from_kustomize, &from_palgen);
        // The patched elements stay where the profile it extends has them:
        // the database first among the containers (`kubectl exec` and
        // `kubectl logs` pick it without -c), the volumes in their order.
        let parent = LIST_CHANGES
            .iter()
            .find(|(name, _)| *name == profile)
            .and_then(|(_, yaml)| yaml.lines().next())
            .and_then(|line| line.strip_prefix("extends: "))
            .expect("each profile extends a built-in one");
        let parent_objects = objects_by_identity(&stdout(&palgen(&["build", "--profile", parent])));
        let names = |objects: &BTreeMapOfObjects, list: &str| -> Vec<String> {
            objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"][list]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            names(&from_palgen, "containers")[0],
            "postgres",
            "{profile}"
        );
        for list in ["containers", "volumes"] {
            assert_eq!(
                names(&from_palgen, list),
                names(&parent_objects, list),
                "{profile}: {list}"
            );
        }
    }
}

#[test]
fn base_builds_alone() {
    let kubectl = tool("kubectl");
    let tree = render_all();
    let built = Command::new(&kubectl)
        .arg("kustomize")
        .arg(tree.path().join("base"))
        .output()
        .expect("kubectl runs");
    assert!(built.status.success(), "{}", stderr(&built));
    assert_eq!(stderr(&built), "");
    let objects = objects_by_identity(&stdout(&built));
    assert!(
        objects.contains_key("StatefulSet/paless/postgres"),
        "{:?}",
        objects.keys()
    );
}

/// The QoS class Kubernetes gives a pod (the rule of the Pod QoS
/// documentation): Guaranteed when every container, init containers
/// included, has CPU and memory limits and requests equal to them (a
/// missing request defaults to the limit); BestEffort when none has either;
/// else Burstable.
fn qos_class(pod_spec: &serde_json::Value) -> &'static str {
    let containers: Vec<&serde_json::Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| pod_spec[list].as_array())
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        let resources = &container["resources"];
        for resource in ["cpu", "memory"] {
            let limit = &resources["limits"][resource];
            let request = &resources["requests"][resource];
            any |= !limit.is_null() || !request.is_null();
            if limit.is_null() || (!request.is_null() && request != limit) {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[test]
fn requests_equal_to_limits_give_guaranteed_database_pods_and_an_existing_class() {
    let dir = tempfile::tempdir().unwrap();
    let guaranteed = LIST_CHANGES
        .iter()
        .find(|(name, _)| *name == "guaranteed-existing-class")
        .unwrap();
    // Cloud profiles are Guaranteed (resources.guaranteed), laptops are not.
    let ordinary = ("ordinary", "extends: dev-large\n");
    let cloud = ("cloud", "extends: gcp-large\n");
    let built = built_both_ways(dir.path(), &[*guaranteed, ordinary, cloud]);
    for (profile, objects, _) in &built {
        let expected = if profile == "ordinary" {
            "Burstable"
        } else {
            "Guaranteed"
        };
        for statefulset in ["postgres", "postgres-replica"] {
            let pod =
                &objects[&format!("StatefulSet/paless/{statefulset}")]["spec"]["template"]["spec"];
            assert_eq!(qos_class(pod), expected, "{profile}: {statefulset}");
        }
    }
    // Cloud profiles run the database above pods without a priority, in a
    // PriorityClass of their own.
    let (_, cloud, _) = &built[2];
    let class = &cloud["PriorityClass//paless-postgres"];
    assert_eq!(class["value"], 1_000_000);
    // Not the global default: left out, as the API server stores a false.
    assert!(class["globalDefault"].is_null(), "{class}");
    for (kind, name, pod) in [
        ("StatefulSet", "postgres", "/spec/template/spec"),
        ("StatefulSet", "postgres-replica", "/spec/template/spec"),
        ("Deployment", "pgbouncer", "/spec/template/spec"),
        (
            "CronJob",
            "postgres-backup",
            "/spec/jobTemplate/spec/template/spec",
        ),
    ] {
        let spec = cloud[&format!("{kind}/paless/{name}")]
            .pointer(pod)
            .unwrap();
        assert_eq!(
            spec["priorityClassName"], "paless-postgres",
            "{kind} {name}"
        );
    }
    let (_, laptop, _) = &built[1];
    assert!(!laptop.keys().any(|key| key.starts_with("PriorityClass/")));
    // `storage.provision: false`: the cluster's own gp2, not redefined.
    let (_, objects, _) = &built[0];
    assert!(
        !objects.keys().any(|key| key.starts_with("StorageClass/")),
        "{:?}",
        objects.keys()
    );
    assert_eq!(
        objects["StatefulSet/paless/postgres"]["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "gp2"
    );
}

/// A user profile that changes a file of a component's ConfigMap: kustomize
/// adds components after the overlay's own generators, so the overlay
/// patches the ConfigMap instead of merging a generator into it.
#[test]
fn user_profiles_that_change_a_component_file_build_like_palgen() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = [
        (
            "more-poolers",
            "extends: aws-medium\npgbouncer:\n  replicas: 3\n",
        ),
        (
            "longer-retention",
            "extends: gcp-small\nbackup:\n  retention_days: 14\n",
        ),
    ];
    for (profile, from_kustomize, from_palgen) in built_both_ways(dir.path(), &profiles) {
        assert_same_objects(&profile, &from_kustomize, &from_palgen);
    }
    let overlay = dir.path().join("k8s/overlays/more-poolers");
    let patch = fs::read_to_string(overlay.join("patch-configmap-pgbouncer-config.yaml"))
        .expect("the pool sizes change pgbouncer.ini, a file of the pgbouncer component");
    assert!(patch.contains("pgbouncer.ini"), "{patch}");
}

/// Kustomize puts the list elements a patch names before the others: a
/// patch that changed only the second container used to move it first.
#[test]
fn a_user_profile_changing_the_second_container_keeps_the_container_order() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let exporter = (
        "exp",
        "extends: dev-small\nmonitoring:\n  exporter_image: quay.io/prometheuscommunity/postgres-exporter:v0.18.0\n",
    );
    for (profile, from_kustomize, from_palgen) in built_both_ways(dir.path(), &[exporter]) {
        let key = "StatefulSet/paless/postgres";
        let containers = &from_kustomize[key]["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers[1]["image"],
            "quay.io/prometheuscommunity/postgres-exporter:v0.18.0"
        );
        assert_eq!(from_kustomize, from_palgen, "{profile}");
    }
}
