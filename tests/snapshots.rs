//! insta snapshots of everything palgen prints or writes: every generated
//! file of the base, the components and every overlay (on the exact rendered bytes), the
//! list of generated files, `palgen build` of every profile and `palgen list`.
//!
//! Refresh after an intended change to the output (removing the old files
//! first drops the snapshots of files palgen no longer generates):
//!
//!     rm -f tests/snapshots/*.snap* && INSTA_UPDATE=always cargo test --test snapshots
//!
//! then review `git diff tests/snapshots/` before committing. Under CI
//! (`CI=true`, `INSTA_UPDATE` unset) insta writes nothing, and every
//! mismatched or missing snapshot fails, as does an orphaned one.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{PROFILES, files_under, palgen, stderr, stdout};

/// `palgen render --all` into a fresh directory, once per test run: the
/// tests only read it.
fn rendered() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("snapshots-render-all");
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("remove the previous render");
        }
        let output = palgen(&[
            "render",
            "--all",
            "--out",
            dir.to_str().expect("UTF-8 path"),
        ]);
        assert!(
            output.status.success(),
            "palgen render --all failed ({}): {}",
            output.status,
            stderr(&output)
        );
        dir
    })
}

/// insta compares text after trimming trailing whitespace and turning CRLF
/// into LF, so on its own it would accept a lost or doubled final newline.
/// Requiring this exact shape makes "snapshot matches" mean "bytes match".
fn assert_exact_shape(name: &str, text: &str) {
    assert!(
        !text.contains('\r'),
        "{name}: contains a carriage return; palgen writes LF line endings only"
    );
    assert_eq!(
        text,
        format!("{}\n", text.trim_end()),
        "{name}: must end with exactly one newline and no trailing whitespace"
    );
}

/// Snapshot name for a path relative to the output directory:
/// `overlays/aws-large/kustomization.yaml` -> `overlays__aws-large__kustomization.yaml`.
fn snapshot_name(relative: &str) -> String {
    relative.replace('/', "__")
}

fn snapshot_files(root: &Path, dir: &str) {
    let files = files_under(root, &root.join(dir));
    assert!(!files.is_empty(), "render wrote nothing under {dir}");
    for relative in files {
        let bytes = fs::read(root.join(&relative)).expect("readable file");
        let text = String::from_utf8(bytes).unwrap_or_else(|_| panic!("{relative} is not UTF-8"));
        assert_exact_shape(&relative, &text);
        insta::assert_snapshot!(snapshot_name(&relative), text);
    }
}

fn snapshot_build(profile: &str) {
    let output = palgen(&["build", "--profile", profile]);
    assert!(
        output.status.success(),
        "palgen build --profile {profile} failed ({}): {}",
        output.status,
        stderr(&output)
    );
    let text = stdout(&output);
    assert_exact_shape(&format!("build --profile {profile}"), &text);
    insta::assert_snapshot!(format!("build__{profile}"), text);
}

/// The exact set of files `render --all` writes: a new or vanished file
/// (whose own snapshot would simply be added or left unreferenced) fails here.
#[test]
fn generated_file_list() {
    let root = rendered();
    let files = files_under(root, root);
    insta::assert_snapshot!("file_list", files.join("\n") + "\n");
}

#[test]
fn base_files() {
    snapshot_files(rendered(), "base");
}

#[test]
fn component_files() {
    snapshot_files(rendered(), "components");
}

/// One test per profile, so a change shows every affected profile at once
/// rather than stopping at the first.
macro_rules! profile_snapshots {
    ($($test:ident => $profile:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                snapshot_files(rendered(), concat!("overlays/", $profile));
                snapshot_build($profile);
            }
        )*

        /// Every profile palgen knows has a snapshot test above.
        #[test]
        fn every_profile_has_a_snapshot_test() {
            let covered = [$($profile),*];
            assert_eq!(
                covered.to_vec(),
                PROFILES.to_vec(),
                "add a profile_snapshots! entry for each profile"
            );
        }
    };
}

profile_snapshots! {
    dev_small => "dev-small",
    dev_medium => "dev-medium",
    dev_large => "dev-large",
    aws_small => "aws-small",
    aws_medium => "aws-medium",
    aws_large => "aws-large",
    gcp_small => "gcp-small",
    gcp_medium => "gcp-medium",
    gcp_large => "gcp-large",
    azure_small => "azure-small",
    azure_medium => "azure-medium",
    azure_large => "azure-large",
}

/// Every stored snapshot belongs to something palgen still produces: a
/// snapshot left behind by a vanished file would mislead reviewers.
#[test]
fn no_orphan_snapshots() {
    let root = rendered();
    let mut expected: Vec<String> = files_under(root, root)
        .iter()
        .map(|relative| snapshot_name(relative))
        .chain(PROFILES.iter().map(|profile| format!("build__{profile}")))
        .chain(["file_list".to_string(), "list".to_string()])
        .map(|name| format!("snapshots__{name}.snap"))
        .collect();
    expected.sort();
    let directory = common::repo_root().join("tests/snapshots");
    let orphans: Vec<String> = fs::read_dir(&directory)
        .expect("tests/snapshots exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".snap") && expected.binary_search(name).is_err())
        .collect();
    assert!(
        orphans.is_empty(),
        "snapshots of output palgen no longer produces; delete them:\n  {}\n\
         (refresh all: rm -f tests/snapshots/*.snap* && INSTA_UPDATE=always cargo test --test snapshots)",
        orphans.join("\n  ")
    );
}

#[test]
fn list_output() {
    let output = palgen(&["list"]);
    assert!(
        output.status.success(),
        "palgen list failed ({}): {}",
        output.status,
        stderr(&output)
    );
    let text = stdout(&output);
    assert_exact_shape("list", &text);
    insta::assert_snapshot!("list", text);
}
