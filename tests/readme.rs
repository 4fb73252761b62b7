//! The README's profile tables against the product: every cell of the
//! platform and size tables is what `palgen list`, `palgen show` and
//! `palgen build` say for the built-in profiles of that row. (The Checkov
//! skip table is checked in tests/security.rs.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::OnceLock;

use serde_json::Value;

use common::{
    PROFILES, objects_by_identity, palgen, readme_table, repo_root, stderr, stdout, tool,
};

/// What palgen says about one built-in profile.
#[derive(Clone)]
struct Facts {
    /// Its `palgen list` row, by column header.
    list: BTreeMap<String, String>,
    /// `palgen show --format json`.
    shown: Value,
    /// `palgen build`, by identity.
    objects: BTreeMap<String, Value>,
}

fn run(args: &[&str]) -> String {
    let output = palgen(args);
    assert!(
        output.status.success(),
        "palgen {args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Columns of `palgen list` are separated by two spaces or more.
fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The facts of every built-in profile, gathered once per test run.
fn facts() -> &'static BTreeMap<String, Facts> {
    static FACTS: OnceLock<BTreeMap<String, Facts>> = OnceLock::new();
    FACTS.get_or_init(gather)
}

fn gather() -> BTreeMap<String, Facts> {
    let listed = run(&["list"]);
    let mut lines = listed.lines();
    let header = columns(lines.next().expect("a header line"));
    let mut rows: BTreeMap<String, BTreeMap<String, String>> = lines
        .map(|line| {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(columns(line)).collect();
            assert_eq!(row.len(), header.len(), "list row {line:?}");
            (row["PROFILE"].clone(), row)
        })
        .collect();
    PROFILES
        .iter()
        .map(|profile| {
            let facts = Facts {
                list: rows
                    .remove(*profile)
                    .unwrap_or_else(|| panic!("palgen list has no row {profile}")),
                shown: serde_json::from_str(&run(&[
                    "show",
                    "--profile",
                    profile,
                    "--format",
                    "json",
                ]))
                .expect("JSON"),
                objects: objects_by_identity(&run(&["build", "--profile", profile])),
            };
            (profile.to_string(), facts)
        })
        .collect()
}

fn readme() -> String {
    fs::read_to_string(repo_root().join("README.md")).expect("README.md")
}

fn size_rows(readme: &str) -> Vec<Vec<String>> {
    readme_table(readme, "## Profiles", "size")
}

fn platform_rows(readme: &str) -> Vec<Vec<String>> {
    readme_table(readme, "## Profiles", "platform")
}

fn platform_and_size(profile: &str) -> (&str, &str) {
    profile.split_once('-').expect("<platform>-<size>")
}

/// `"256Mi, 250m"`: memory, then CPU in millicores, as the README and
/// `palgen list` write them (manifests write whole cores as the API server
/// stores them, `1` for `1000m`).
fn amounts(resources: &Value) -> String {
    let cpu = resources["cpu"].as_str().unwrap_or("?");
    let millicores = match cpu.parse::<u64>() {
        Ok(cores) => format!("{}m", cores * 1000),
        Err(_) => cpu.to_owned(),
    };
    format!(
        "{}, {millicores}",
        resources["memory"].as_str().unwrap_or("?"),
    )
}

/// Every cell of the size table that differs from a built-in profile of its
/// size, as "size column: README says X, profile P has Y".
fn size_table_mismatches(rows: &[Vec<String>], facts: &BTreeMap<String, Facts>) -> Vec<String> {
    const HEADER: [&str; 9] = [
        "size",
        "documents",
        "requests",
        "limits",
        "data volume",
        "app pods (web + worker)",
        "PgBouncer",
        "read replicas",
        "backup volume",
    ];
    let mut found = Vec::new();
    let sizes: BTreeSet<&str> = facts.keys().map(|p| platform_and_size(p).1).collect();
    let documented: BTreeSet<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    if sizes != documented {
        found.push(format!(
            "the table lists sizes {documented:?}, the built-in profiles have {sizes:?}"
        ));
    }
    for row in rows {
        if row.len() != HEADER.len() {
            found.push(format!(
                "row {row:?}: {} cells, expected {}",
                row.len(),
                HEADER.len()
            ));
            continue;
        }
        let cell: BTreeMap<&str, &str> = HEADER
            .iter()
            .copied()
            .zip(row.iter().map(String::as_str))
            .collect();
        let size = cell["size"];
        for (profile, facts) in facts.iter().filter(|(p, _)| platform_and_size(p).1 == size) {
            let settings = &facts.shown["settings"];
            let mut compare = |column: &str, actual: String| {
                if cell[column] != actual {
                    found.push(format!(
                        "{size} {column}: README says {:?}, {profile} has {actual:?}",
                        cell[column]
                    ));
                }
            };
            let connections = &settings["connections"];
            // The column is what a size requests; a guaranteed profile
            // (the cloud platforms, as the text under the table says)
            // requests its limits.
            let requested = amounts(&settings["resources"]["requests"]);
            if settings["resources"]["guaranteed"] == true {
                compare("limits", requested);
            } else {
                compare("requests", requested);
                compare("requests", facts.list["REQUESTS"].clone());
            }
            compare("limits", amounts(&settings["resources"]["limits"]));
            compare("limits", facts.list["LIMITS"].clone());
            let size_setting = settings["storage"]["size"]
                .as_str()
                .unwrap_or("?")
                .to_owned();
            compare("data volume", size_setting);
            let listed_storage = facts.list["STORAGE"]
                .split(' ')
                .next()
                .unwrap_or("?")
                .to_owned();
            compare("data volume", listed_storage);
            compare(
                "app pods (web + worker)",
                format!(
                    "{} + {}",
                    connections["web_pods"], connections["worker_pods"]
                ),
            );
            compare("app pods (web + worker)", facts.list["APP PODS"].clone());

            let pooler = &facts.objects.get("Deployment/paless/pgbouncer");
            let pgbouncer = match pooler {
                None => "no".to_owned(),
                Some(deployment) => format!("{} replicas", deployment["spec"]["replicas"]),
            };
            compare("PgBouncer", pgbouncer);
            let planned = &facts.shown["derived"]["connection_budget"]["pgbouncer"];
            let pgbouncer_plan = if planned.is_null() {
                "no".to_owned()
            } else {
                format!("{} replicas", planned["replicas"])
            };
            compare("PgBouncer", pgbouncer_plan);

            let replicas = facts
                .objects
                .get("StatefulSet/paless/postgres-replica")
                .map_or("0".to_owned(), |set| set["spec"]["replicas"].to_string());
            compare("read replicas", replicas);
            compare(
                "read replicas",
                settings["replication"]["read_replicas"].to_string(),
            );

            compare(
                "backup volume",
                settings["backup"]["size"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
            );
            if let Some(claim) = facts
                .objects
                .get("PersistentVolumeClaim/paless/postgres-backups")
            {
                let size = &claim["spec"]["resources"]["requests"]["storage"];
                compare("backup volume", size.as_str().unwrap_or("?").to_owned());
            }
        }
    }
    found
}

/// Every claim of the platform table that a built-in profile of its platform
/// contradicts.
fn platform_table_mismatches(rows: &[Vec<String>], facts: &BTreeMap<String, Facts>) -> Vec<String> {
    let mut found = Vec::new();
    let platforms: BTreeSet<&str> = facts.keys().map(|p| platform_and_size(p).0).collect();
    let documented: BTreeSet<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    if platforms != documented {
        found.push(format!(
            "the table lists platforms {documented:?}, the built-in profiles have {platforms:?}"
        ));
    }
    for row in rows {
        let [platform, class, notes] = row.as_slice() else {
            found.push(format!("row {row:?}: expected 3 cells"));
            continue;
        };
        let class = class.trim_matches('`');
        for (profile, facts) in facts
            .iter()
            .filter(|(p, _)| platform_and_size(p).0 == platform)
        {
            let mut claim = |holds: bool, what: &str| {
                if !holds {
                    found.push(format!(
                        "{platform}: README says {what}, {profile} disagrees"
                    ));
                }
            };
            let settings = &facts.shown["settings"];
            claim(
                settings["storage"]["class"] == class,
                &format!("storage class {class}"),
            );
            for (identity, claim_name) in [
                (
                    "PersistentVolumeClaim/paless/postgres-backups",
                    "no backups",
                ),
                ("CronJob/paless/postgres-backup", "no backups"),
            ] {
                if notes.contains(claim_name) {
                    claim(
                        !facts.objects.contains_key(identity),
                        &format!("{claim_name} ({identity})"),
                    );
                }
            }
            if notes.contains("dev-only credentials Secret") {
                let secret = facts.objects.get("Secret/paless/postgres-credentials");
                claim(
                    secret.is_some_and(|s| {
                        s["metadata"]["labels"]["paless.io/credentials"] == "dev-only"
                    }),
                    "a dev-only credentials Secret",
                );
            }
            let defines = format!("the overlay defines `{class}`");
            let storage_class = facts.objects.get(&format!("StorageClass//{class}"));
            if notes.contains(&defines) {
                let Some(object) = storage_class else {
                    claim(false, &defines);
                    continue;
                };
                // The words of the note, each with the field that makes it true.
                for (word, holds) in [
                    ("EBS CSI", object["provisioner"] == "ebs.csi.aws.com"),
                    ("gp3", object["parameters"]["type"] == "gp3"),
                    ("PD CSI", object["provisioner"] == "pd.csi.storage.gke.io"),
                    ("pd-balanced", object["parameters"]["type"] == "pd-balanced"),
                    (
                        "Azure Disk CSI",
                        object["provisioner"] == "disk.csi.azure.com",
                    ),
                    (
                        "Premium_LRS",
                        object["parameters"]["skuName"] == "Premium_LRS",
                    ),
                    ("encrypted", object["parameters"]["encrypted"] == "true"),
                    (
                        "WaitForFirstConsumer",
                        object["volumeBindingMode"] == "WaitForFirstConsumer",
                    ),
                    ("expandable", object["allowVolumeExpansion"] == true),
                    ("Retain", object["reclaimPolicy"] == "Retain"),
                ] {
                    if notes.contains(word) {
                        claim(holds, &format!("`{class}` is {word}"));
                    }
                }
            } else {
                claim(
                    storage_class.is_none(),
                    &format!("{class} is the cluster's (no StorageClass in the overlay)"),
                );
            }
        }
    }
    found
}

#[test]
fn the_size_table_is_what_the_profiles_build() {
    let readme = readme();
    let rows = size_rows(&readme);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mismatches = size_table_mismatches(&rows, facts());
    assert!(
        mismatches.is_empty(),
        "README size table (section Profiles) vs palgen:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn the_platform_table_is_what_the_profiles_build() {
    let readme = readme();
    let rows = platform_rows(&readme);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let mismatches = platform_table_mismatches(&rows, facts());
    assert!(
        mismatches.is_empty(),
        "README platform table (section Profiles) vs palgen:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn the_table_checks_report_a_wrong_cell() {
    let facts = facts();
    let readme = readme();
    let edit = |column: usize, size: &str, value: &str| {
        let mut rows = size_rows(&readme);
        let row = rows
            .iter_mut()
            .find(|r| r[0] == size)
            .expect("a row of that size");
        row[column] = value.to_owned();
        size_table_mismatches(&rows, facts)
    };
    let reported = edit(4, "medium", "60Gi");
    assert_eq!(
        reported.len(),
        8,
        "two sources × four platforms: {reported:#?}"
    );
    assert!(
        reported.contains(
            &"medium data volume: README says \"60Gi\", aws-medium has \"50Gi\"".to_owned()
        ),
        "{reported:#?}"
    );
    assert!(
        edit(6, "medium", "no")
            .iter()
            .any(|m| m.contains("gcp-medium has \"2 replicas\""))
    );
    assert!(
        edit(7, "large", "3")
            .iter()
            .any(|m| m.contains("azure-large has \"2\""))
    );
    assert!(
        edit(2, "small", "256Mi, 500m")
            .iter()
            .any(|m| m.contains("dev-small has \"256Mi, 250m\""))
    );
    let mut rows = size_rows(&readme);
    rows.pop();
    assert!(
        size_table_mismatches(&rows, facts)
            .iter()
            .any(|m| m.contains("lists sizes")),
        "a missing size row"
    );

    let mut rows = platform_rows(&readme);
    let gcp = rows.iter_mut().find(|r| r[0] == "gcp").expect("gcp row");
    gcp[1] = "`premium-rwo`".to_owned();
    let reported = platform_table_mismatches(&rows, facts);
    assert!(
        reported.contains(
            &"gcp: README says storage class premium-rwo, gcp-large disagrees".to_owned()
        ),
        "{reported:#?}"
    );
    let mut rows = platform_rows(&readme);
    let aws = rows.iter_mut().find(|r| r[0] == "aws").expect("aws row");
    aws[2] = "no backups".to_owned();
    let reported = platform_table_mismatches(&rows, facts);
    assert!(
        reported.iter().any(|m| m.contains(
            "aws: README says no backups (CronJob/paless/postgres-backup), aws-small disagrees"
        )),
        "{reported:#?}"
    );
    assert!(
        reported
            .iter()
            .any(|m| m.contains("paless-postgres-gp3 is the cluster's")),
        "{reported:#?}"
    );

    let mut facts = facts.clone();
    let aws = facts.get_mut("aws-large").expect("aws-large");
    let class = aws
        .objects
        .get_mut("StorageClass//paless-postgres-gp3")
        .expect("paless-postgres-gp3");
    class["reclaimPolicy"] = "Delete".into();
    let reported = platform_table_mismatches(&platform_rows(&readme), &facts);
    assert_eq!(
        reported,
        ["aws: README says `paless-postgres-gp3` is Retain, aws-large disagrees"]
    );
}

/// The lines of the first fenced block after `heading`.
fn block_after(readme: &str, heading: &str) -> String {
    let lines: Vec<&str> = readme
        .lines()
        .skip_while(|line| *line != heading)
        .skip_while(|line| !line.starts_with("```"))
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn the_quick_start_is_short_comes_first_and_runs_as_written() {
    let readme = readme();
    let headings: Vec<&str> = readme.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(headings[0], "## Quick start");
    let length = readme
        .lines()
        .skip_while(|line| *line != "## Quick start")
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .count();
    assert!(length <= 30, "the quick start has {length} lines");

    let script = block_after(&readme, "## Quick start");
    let apply = "kubectl apply -k k8s/overlays/acme-prod";
    assert!(script.contains(apply), "{script}");
    // No cluster here: the overlay the apply names must build with the
    // real kubectl instead.
    let script = script.replace(apply, "kubectl kustomize k8s/overlays/acme-prod >/dev/null");
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new(tool("git"))
            .current_dir(dir.path())
            .args(args)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "--quiet"]);
    git(&["config", "user.email", "t@example.org"]);
    git(&["config", "user.name", "t"]);
    let palgen_dir = std::path::Path::new(env!("CARGO_BIN_EXE_palgen"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        palgen_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new(tool("bash"))
        .current_dir(dir.path())
        .env("PATH", path)
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        dir.path()
            .join("k8s/overlays/acme-prod/kustomization.yaml")
            .is_file()
    );
    assert!(!dir.path().join("k8s/components/dev-credentials").exists());
}

/// The README's example profiles (its YAML blocks that start from another
/// profile), each written as a user profile and built by palgen.
#[test]
fn every_example_profile_in_the_readme_and_docs_builds() {
    let root = common::repo_root();
    let mut files = vec![root.join("README.md")];
    for entry in fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut built = 0;
    for path in files {
        let (file, text) = (path.display(), fs::read_to_string(&path).unwrap());
        for block in text.split("```yaml\n").skip(1) {
            let block = block.split("```").next().unwrap();
            // Blocks inside a list item are indented.
            let indent = block.len() - block.trim_start_matches(' ').len();
            let profile: String = block
                .lines()
                .map(|line| line.get(indent..).unwrap_or(line.trim_start()))
                .collect::<Vec<_>>()
                .join("\n");
            if !profile.lines().any(|line| line.starts_with("extends:")) {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join("profiles")).unwrap();
            fs::write(dir.path().join("profiles/example.yaml"), &profile).unwrap();
            let output = common::palgen_in(dir.path(), &["build", "--profile", "example"]);
            assert!(
                output.status.success(),
                "{file}: the example profile\n{profile}\ndoes not build: {}",
                common::stderr(&output)
            );
            built += 1;
        }
    }
    assert!(built >= 7, "only {built} example profiles found");
}

#[test]
fn a_placeholder_digest_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("profiles")).unwrap();
    let zeros = "0".repeat(64);
    fs::write(
        dir.path().join("profiles/example.yaml"),
        format!("extends: aws-large\nimage: postgres:18.1@sha256:{zeros}\n"),
    )
    .unwrap();
    let output = common::palgen_in(dir.path(), &["build", "--profile", "example"]);
    assert_eq!(output.status.code(), Some(2));
    let message = common::stderr(&output);
    for part in [
        "example.yaml:2",
        "image",
        "is a placeholder",
        "docker buildx imagetools inspect postgres:18.1",
    ] {
        assert!(message.contains(part), "{part} not in {message}");
    }
}

/// docs/profile-keys.md is what `palgen show --keys` prints now, so the
/// refresh command the file names leaves it unchanged.
#[test]
fn the_profile_key_reference_is_what_show_keys_prints() {
    let reference = fs::read_to_string(common::repo_root().join("docs/profile-keys.md")).unwrap();
    assert!(
        reference.contains("`palgen show --keys > docs/profile-keys.md`"),
        "the reference names its refresh command"
    );
    let output = common::palgen(&["show", "--keys"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(
        common::stdout(&output),
        reference,
        "docs/profile-keys.md is stale: run palgen show --keys > docs/profile-keys.md"
    );
    for key in [
        "`namespace`",
        "`scheduling.node_affinity`",
        "`backup.offsite.role_arn`",
        "`tls.issuer.group`",
    ] {
        assert!(
            reference.contains(&format!("| {key} |")),
            "{key} has no row"
        );
    }
    assert!(!reference.contains("not documented"));
}
