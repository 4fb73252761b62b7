//! Helpers shared by the integration tests: running palgen and the real
//! tools the generated tree is checked with.

#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const PROFILES: [&str; 12] = [
    "dev-small",
    "dev-medium",
    "dev-large",
    "aws-small",
    "aws-medium",
    "aws-large",
    "gcp-small",
    "gcp-medium",
    "gcp-large",
    "azure-small",
    "azure-medium",
    "azure-large",
];

/// User profiles (file name, text) that stress the rules: the intent tests
/// and the control-plane tests run them beside the built-in profiles.
pub const STRESS_PROFILES: [(&str, &str); 7] = [
    (
        "three-replicas",
        "extends: aws-large\n\
         image: postgres:18.1@sha256:7c3b0f1e9a4d2c6b8e5f0a1d3c7b9e2f4a6c8d0e1f3a5b7c9d2e4f6a8b0c1d3e\n\
         storage:\n  size: 500Gi\n\
         replication:\n  read_replicas: 3\n\
         monitoring:\n  service_monitor: true\n",
    ),
    (
        "no-backup",
        "extends: gcp-medium\n\
         backup:\n  enabled: false\n\
         monitoring:\n  exporter: false\n\
         audit:\n  log_statement: mod\n  connections: false\n",
    ),
    (
        // 3 + 2 = 5 application pods: PgBouncer on a small size.
        "pooled-small",
        "extends: azure-small\n\
         connections:\n  web_pods: 3\n  worker_pods: 2\n",
    ),
    (
        "guaranteed",
        "extends: aws-medium\n\
         resources:\n  requests:\n    memory: 2Gi\n    cpu: 2000m\n",
    ),
    (
        // A dedicated node pool: every database, PgBouncer and backup pod
        // goes there.
        "dedicated-pool",
        "extends: aws-large\n\
         connections:\n  web_pods: 5\n\
         scheduling:\n  node_selector:\n    node-pool: database\n    example.com/disk: ssd\n\
         \x20 tolerations:\n  - key: dedicated\n    value: database\n    effect: NoSchedule\n  - key: example.com/spot\n    operator: Exists\n\
         \x20 priority_class_name: database-critical\n  priority_class_value: 0\n\
         \x20 node_affinity:\n    required:\n    - key: topology.kubernetes.io/zone\n      operator: In\n      values: [test-a, test-b, test-c]\n\
         \x20   preferred:\n    - weight: 50\n      key: example.com/generation\n      operator: Gt\n      values: [\"3\"]\n",
    ),
    (
        // A second deployment in the same cluster: every object, DNS name
        // and alert follows the namespace.
        "staging-namespace",
        "extends: gcp-large\n\
         namespace: staging\n\
         monitoring:\n  service_monitor: true\n",
    ),
    (
        "postgres-16",
        "extends: dev-large\n\
         image: postgres:16.4\n\
         storage:\n  class: fast-nvme\n  size: 20Gi\n",
    ),
];

/// The steps of the procedure `palgen plan` prints for `profile`'s overlay
/// (`  procedure for NAME, ...` then `    N. step` lines).
pub fn overlay_procedure(report: &str, profile: &str) -> Vec<String> {
    report
        .lines()
        .skip_while(|l| !l.starts_with(&format!("  procedure for {profile},")))
        .skip(1)
        .map_while(|l| {
            let (number, step) = l.strip_prefix("    ")?.split_once(". ")?;
            number.parse::<u32>().ok().map(|_| step.to_owned())
        })
        .collect()
}

pub fn palgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palgen"))
        .args(args)
        .output()
        .expect("palgen runs")
}

pub fn palgen_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palgen"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("palgen runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// The repository root, where the committed `k8s/` lives.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Renders every built-in profile into a fresh temporary directory.
pub fn render_all() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().to_str().unwrap();
    let output = palgen(&["render", "--all", "--out", out]);
    assert!(
        output.status.success(),
        "render failed: {}",
        stderr(&output)
    );
    dir
}

/// A tool the tests need. The test command installs them all; a missing one
/// is a broken setup, never a reason to skip.
pub fn tool(name: &str) -> PathBuf {
    let local = repo_root().join(".venv/bin").join(name);
    if local.exists() {
        return local;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not installed; run ./scripts/test.sh, which installs it")
    })
}

/// Multi-document YAML as objects keyed by kind/namespace/name.
pub fn objects_by_identity(yaml: &str) -> BTreeMap<String, Value> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).expect("valid YAML stream");
    let mut objects = BTreeMap::new();
    for document in documents.into_iter().filter(|d| !d.is_null()) {
        let key = format!(
            "{}/{}/{}",
            document["kind"].as_str().unwrap_or_default(),
            document["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default(),
            document["metadata"]["name"].as_str().unwrap_or_default()
        );
        assert!(
            objects.insert(key.clone(), document).is_none(),
            "duplicate object {key}"
        );
    }
    objects
}

/// Files under `dir`, recursively, as sorted paths relative to `root` with
/// `/` separators (the same on every platform, for messages and snapshots).
pub fn files_under(root: &Path, dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", current.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found.sort();
    found
}

/// The rows (cells trimmed, header and separator left out) of the first
/// Markdown table in the README section headed `heading` whose first header
/// cell is `first_column`.
pub fn readme_table(readme: &str, heading: &str, first_column: &str) -> Vec<Vec<String>> {
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect()
    };
    let mut lines = readme.lines().skip_while(|line| line.trim() != heading);
    assert!(lines.next().is_some(), "README has no heading {heading:?}");
    let level = heading.chars().take_while(|c| *c == '#').count();
    let section: Vec<&str> = lines
        .take_while(|line| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            hashes == 0 || hashes > level || !line[hashes..].starts_with(' ')
        })
        .collect();
    let start = section
        .iter()
        .position(|line| {
            line.starts_with('|') && cells(line).first().map(String::as_str) == Some(first_column)
        })
        .unwrap_or_else(|| {
            panic!("README section {heading:?} has no table starting with {first_column:?}")
        });
    section[start + 2..]
        .iter()
        .take_while(|line| line.starts_with('|'))
        .map(|line| cells(line))
        .collect()
}

/// Validates cert-manager objects with `tests/cert-manager/validate.mjs`:
/// cert-manager's CRD schemas as the npm package
/// `@kubernetes-models/cert-manager` (pinned in `tests/cert-manager`,
/// installed by ./scripts/test.sh) compiles them. It checks types, enums,
/// required fields and patterns; those schemas do not forbid unknown
/// fields. Ok(output) when every object printed a PASS line, Err otherwise.
pub fn validate_cert_manager(objects: &[Value]) -> Result<String, String> {
    let dir = repo_root().join("tests/cert-manager");
    assert!(
        dir.join("node_modules/@kubernetes-models/cert-manager")
            .is_dir(),
        "@kubernetes-models/cert-manager is not installed in {}; run ./scripts/test.sh, which installs it",
        dir.display()
    );
    let mut child = Command::new(tool("node"))
        .arg("validate.mjs")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(&serde_json::to_vec(objects).expect("JSON"))
            .expect("write the objects");
    }
    let output = child.wait_with_output().expect("node finishes");
    let printed = stdout(&output);
    let passed = printed.lines().filter(|l| l.starts_with("PASS ")).count();
    if output.status.success() && passed == objects.len() {
        Ok(printed)
    } else {
        Err(format!(
            "validate.mjs: {}\n--- stdout\n{printed}--- stderr\n{}",
            output.status,
            stderr(&output)
        ))
    }
}
