//! Every overlay, built by the real `kubectl kustomize`, equals `palgen build`.

mod common;

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
        assert_eq!(
            from_kustomize.keys().collect::<Vec<_>>(),
            from_palgen.keys().collect::<Vec<_>>(),
            "{profile}: different objects"
        );
        for (key, object) in &from_kustomize {
            assert_eq!(object, &from_palgen[key], "{profile}: {key} differs");
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

/// Kustomize puts the list elements a patch names before the others: a
/// patch that changed only the second container used to move it first.
#[test]
fn a_user_profile_changing_the_second_container_keeps_the_container_order() {
    let kubectl = tool("kubectl");
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(
        dir.path().join("profiles/exp.yaml"),
        "extends: dev-small\nmonitoring:\n  exporter_image: quay.io/prometheuscommunity/postgres-exporter:v0.18.0\n",
    )
    .unwrap();
    let rendered = common::palgen_in(dir.path(), &["render", "--profile", "exp"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let built = Command::new(&kubectl)
        .arg("kustomize")
        .arg(dir.path().join("k8s/overlays/exp"))
        .output()
        .expect("kubectl runs");
    assert!(built.status.success(), "{}", stderr(&built));
    let palgen_build = common::palgen_in(dir.path(), &["build", "--profile", "exp"]);
    assert!(palgen_build.status.success(), "{}", stderr(&palgen_build));
    let from_kustomize = objects_by_identity(&stdout(&built));
    let from_palgen = objects_by_identity(&stdout(&palgen_build));
    let key = "StatefulSet/paless/postgres";
    let containers = &from_kustomize[key]["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers[1]["image"],
        "quay.io/prometheuscommunity/postgres-exporter:v0.18.0"
    );
    assert_eq!(from_kustomize, from_palgen);
}
