//! Bad input, through the real binary: every malformed profile file,
//! impossible setting and unusable command line must stop palgen with exit 2
//! and ONE line on stderr,
//!
//! ```text
//! palgen: error: <file>:<line>[:<col>]: <key>: <problem with the value and the accepted form>
//! ```
//!
//! never a panic, and without writing anything.
//!
//! Each case runs in a fresh temporary directory holding `profiles/` (the
//! user profiles) and, for the output cases, a prepared `k8s/`. Paths on the
//! command line are relative to it, so messages name the user profile
//! `a.yaml` by that relative path and a line number.
//! A case lists the substrings its message must contain; `"x|y"` means
//! either `x` or `y`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Exit status for bad usage or bad input.
const EXIT_BAD_INPUT: i32 = 2;

/// Text that betrays a crash rather than an error message.
const CRASH_MARKERS: [&str; 3] = ["panicked", "RUST_BACKTRACE", "stack backtrace"];

/// Advice meant for a programmer using the YAML library, not for a user.
const LIBRARY_INTERNALS: [&str; 9] = [
    "DuplicateKeyPolicy",
    "from_str",
    "serde",
    "saphyr",
    "Option<",
    "deserialize",
    "mapping start",
    "scalar",
    "unknown field",
];

/// The usual command: render the user profile `a` into `k8s`.
const RENDER_A: [&str; 7] = [
    "--profiles-dir",
    "profiles",
    "render",
    "--profile",
    "a",
    "--out",
    "k8s",
];

/// Render a built-in profile: for problems of the profiles directory as a
/// whole, which stop every command.
const RENDER_AWS: [&str; 7] = [
    "--profiles-dir",
    "profiles",
    "render",
    "--profile",
    "aws",
    "--out",
    "k8s",
];

struct Case {
    /// Files to create, relative to the case's directory.
    files: Vec<(String, Vec<u8>)>,
    /// Empty directories to create.
    dirs: Vec<String>,
    args: Vec<String>,
    /// Substrings the error line must contain; `a|b` accepts either.
    expect: Vec<String>,
}

impl Case {
    fn new(args: &[&str]) -> Case {
        Case {
            files: Vec::new(),
            dirs: Vec::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
            expect: Vec::new(),
        }
    }

    fn file(mut self, path: &str, contents: impl AsRef<[u8]>) -> Case {
        self.files
            .push((path.to_owned(), contents.as_ref().to_owned()));
        self
    }

    fn dir(mut self, path: &str) -> Case {
        self.dirs.push(path.to_owned());
        self
    }

    fn expect(mut self, substrings: &[&str]) -> Case {
        self.expect.extend(substrings.iter().map(|s| s.to_string()));
        self
    }

    /// Runs the case and asserts everything a bad-input error must satisfy;
    /// every violation is reported at once, with the complete output.
    fn run(self) {
        let temp = tempfile::tempdir().expect("temporary directory");
        let root = temp.path();
        fs::create_dir_all(root.join("profiles")).unwrap();
        for dir in &self.dirs {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for (path, contents) in &self.files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
        let before = snapshot(root);

        let output = palgen(root, &self.args);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();

        let mut problems = Vec::new();
        if output.status.code() != Some(EXIT_BAD_INPUT) {
            problems.push(format!(
                "exit status is {}, expected exit code {EXIT_BAD_INPUT}",
                output.status
            ));
        }
        for marker in CRASH_MARKERS {
            if stderr.contains(marker) {
                problems.push(format!("stderr contains {marker:?}: palgen crashed"));
            }
        }
        if stderr.lines().count() != 1 || !stderr.ends_with('\n') {
            problems.push(format!(
                "stderr is {} lines, expected exactly one",
                stderr.lines().count()
            ));
        }
        if !stderr.starts_with("palgen: error: ") {
            problems.push("stderr does not start with `palgen: error: `".to_owned());
        }
        for expected in &self.expect {
            let alternatives: Vec<&str> = expected.split('|').collect();
            if !alternatives.iter().any(|a| stderr.contains(a)) {
                problems.push(format!("the message does not contain {expected:?}"));
            }
        }
        for internal in LIBRARY_INTERNALS {
            if stderr.contains(internal) {
                problems.push(format!(
                    "the message gives library advice ({internal:?}) instead of the accepted form"
                ));
            }
        }
        if !stdout.is_empty() {
            problems.push("stdout is not empty".to_owned());
        }
        let after = snapshot(root);
        if after != before {
            problems.push(format!(
                "the directory changed: {}",
                describe_changes(&before, &after)
            ));
        }

        if !problems.is_empty() {
            let files: Vec<String> = self
                .files
                .iter()
                .map(|(path, contents)| {
                    format!(
                        "--- {path} ---\n{}",
                        String::from_utf8_lossy(contents).trim_end()
                    )
                })
                .collect();
            panic!(
                "bad-input case failed:\n  - {}\ncommand: palgen {}\n{}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                problems.join("\n  - "),
                self.args.join(" "),
                files.join("\n"),
                output.status,
                first_lines(&stdout, 8),
                stderr
            );
        }
    }
}

/// The first `n` lines of a text, and how many were left out.
fn first_lines(text: &str, n: usize) -> String {
    let total = text.lines().count();
    let mut shown: Vec<&str> = text.lines().take(n).collect();
    let omitted = format!("... ({} more lines)", total.saturating_sub(n));
    if total > n {
        shown.push(&omitted);
    }
    shown.join("\n")
}

/// Runs palgen in `dir`, without a backtrace so that a panic prints what a
/// user would see.
fn palgen(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palgen"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("palgen runs")
}

/// Every file and directory under `root`, with file contents.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut entries = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                entries.insert(relative, None);
                pending.push(path);
            } else {
                entries.insert(relative, Some(fs::read(&path).unwrap_or_default()));
            }
        }
    }
    entries
}

fn describe_changes(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
) -> String {
    let mut changes = Vec::new();
    for (path, content) in after {
        match before.get(path) {
            None => changes.push(format!("created {}", path.display())),
            Some(old) if old != content => changes.push(format!("changed {}", path.display())),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        changes.push(format!("removed {}", path.display()));
    }
    let total = changes.len();
    changes.truncate(5);
    format!("{} ({total} in all)", changes.join(", "))
}

/// The user profile `a.yaml` with this text, rendered.
fn profile(text: &str) -> Case {
    Case::new(&RENDER_A).file("profiles/a.yaml", text)
}

/// A profile file that is fine on its own.
const VALID: &str = "extends: aws-large\nbackup:\n  offsite:\n    role_arn: arn:aws:iam::123456789012:role/backup\n";

/// One `#[test]` per case, so each bad input passes or fails on its own, and
/// a test that the table holds at least as many cases as the issue asks for.
macro_rules! bad_inputs {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $case.run();
            }
        )*

        #[test]
        fn the_suite_covers_at_least_25_bad_inputs() {
            let names = [$(stringify!($name)),*];
            assert!(names.len() >= 25, "only {} cases", names.len());
        }
    };
}

bad_inputs! {
    // --- YAML syntax and the shape of the file -----------------------------

    yaml_unclosed_flow_mapping:
        profile("extends: aws-large\nstorage: {size: 10Gi\n")
            .expect(&["profiles/a.yaml:2:", "storage", "unclosed bracket"]);
    yaml_unclosed_quote:
        profile("extends: aws-large\nstorage:\n  size: \"10Gi\n")
            .expect(&["profiles/a.yaml:3:", "size", "unclosed quote"]);
    yaml_tab_indenting_a_nested_key:
        profile("extends: aws-large\nstorage:\n\tsize: 1Gi\n")
            .expect(&["profiles/a.yaml:3:", "size", "tab"]);
    yaml_tab_indenting_a_top_level_key:
        profile("extends: aws-large\n\tstorage: {}\n")
            .expect(&["profiles/a.yaml:2:", "tab"]);
    yaml_alias_to_an_unknown_anchor:
        profile("extends: aws-large\ndescription: *nope\n")
            .expect(&["profiles/a.yaml:2:", "description", "anchor"]);
    yaml_duplicate_key:
        profile("extends: aws-large\nstorage:\n  size: 10Gi\n  size: 20Gi\n")
            .expect(&["profiles/a.yaml:4:", "size", "duplicate"]);
    yaml_multiple_documents:
        profile("extends: aws-large\n---\nextends: aws-small\n")
            .expect(&["profiles/a.yaml:3:", "multiple", "document"]);
    empty_file:
        profile("")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    file_of_comments_only:
        profile("# to do: pick a parent\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    file_of_a_document_marker_only:
        profile("---\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    file_of_a_null_document:
        profile("~\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    file_of_the_word_null:
        profile("null\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    file_of_a_marker_and_comments:
        profile("---\n# to do: pick a parent\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    file_is_a_tagged_scalar:
        profile("!!binary aGVsbG8=\n")
            .expect(&["profiles/a.yaml:1:", "mapping of settings", "extends: <profile>"]);
    file_is_an_alias_to_nothing:
        profile("*base\n")
            .expect(&["profiles/a.yaml:1:", "`*base`", "anchor", "`&name`"]);
    yaml_tag_on_a_value:
        profile("extends: aws-large\ndescription: !!int 5\n")
            .expect(&["profiles/a.yaml:2:", "description", "`!!int`", "plain value"]);
    yaml_indentation_mismatch:
        profile("extends: aws-large\nstorage:\n  size: 20Gi\n class: ebs-sc\n")
            .expect(&["profiles/a.yaml:4:", "class", "indentation"]);
    yaml_key_value_where_none_can_start:
        profile("extends: aws-large\n storage: x\n")
            .expect(&["profiles/a.yaml:2:", "storage", "indentation"]);
    yaml_unknown_escape_in_double_quotes:
        profile("extends: aws-large\ndescription: \"C:\\dir\"\n")
            .expect(&["profiles/a.yaml:2:", "description", "escape", "single quotes"]);
    yaml_reserved_character_starting_a_value:
        profile("extends: aws-large\ndescription: @team\n")
            .expect(&["profiles/a.yaml:2:", "description", "`@`", "quote the value"]);
    file_is_a_yaml_list:
        profile("- extends: aws-large\n- storage:\n    size: 20Gi\n")
            .expect(&["profiles/a.yaml:1:", "mapping"]);
    file_is_a_yaml_scalar:
        profile("aws-large\n")
            .expect(&["profiles/a.yaml:1:", "mapping"]);
    file_is_not_utf8:
        Case::new(&RENDER_A)
            .file("profiles/a.yaml", b"extends: aws-large\nstorage:\n  class: \xff\xfe\n")
            .expect(&["profiles/a.yaml:3", "UTF-8"]);

    // --- wrong types --------------------------------------------------------

    string_for_a_number:
        profile("extends: aws-large\nconnections:\n  max_connections: many\n")
            .expect(&["profiles/a.yaml:3:", "max_connections", "many|u32|whole number|integer"]);
    negative_number:
        profile("extends: aws-large\nconnections:\n  per_pod: -1\n")
            .expect(&["profiles/a.yaml:3:", "per_pod", "-1|u32|whole number|integer"]);
    fraction_for_a_whole_number:
        profile("extends: aws-large\nbackup:\n  retention_days: 1.5\n")
            .expect(&["profiles/a.yaml:3:", "retention_days", "1.5|u32|whole number|integer"]);
    number_beyond_u32:
        profile("extends: aws-large\nconnections:\n  web_pods: 4294967296\n")
            .expect(&["profiles/a.yaml:3:", "web_pods", "4294967296|u32|whole number|integer"]);
    map_for_a_scalar:
        profile("extends: aws-large\nimage:\n  name: postgres\n  tag: \"18\"\n")
            .expect(&["profiles/a.yaml:2:", "image", "string"]);
    list_for_a_map:
        profile("extends: aws-large\nstorage: [10Gi, ssd]\n")
            .expect(&["profiles/a.yaml:2:", "storage", "mapping"]);
    nothing_for_a_map:
        profile("extends: aws-large\nstorage:\n")
            .expect(&["profiles/a.yaml:2:", "storage", "mapping of settings", "found nothing"]);
    null_for_a_map:
        profile("extends: aws-large\nresources:\n  limits: ~\n")
            .expect(&["profiles/a.yaml:3:", "limits", "mapping of settings", "`~`"]);
    block_list_for_a_map:
        profile("extends: aws-large\nstorage:\n  - size: 20Gi\n")
            .expect(&["profiles/a.yaml:2:", "storage", "mapping of settings", "a list"]);
    flow_list_for_a_nested_scalar:
        profile("extends: aws-large\nbackup:\n  retention_days: [7, 14]\n")
            .expect(&["profiles/a.yaml:3:", "retention_days", "single value", "a list"]);
    null_for_a_required_string:
        profile("extends: aws-large\nstorage:\n  provision:\n    provisioner: ~\n")
            .expect(&["profiles/a.yaml:4:", "provisioner", "expected a value", "`~`"]);
    required_key_missing:
        profile("extends: aws-large\nstorage:\n  provision: {}\n")
            .expect(&["profiles/a.yaml:3:", "provision", "`provisioner`"]);
    scalar_for_a_map:
        profile("extends: aws-large\nresources: big\n")
            .expect(&["profiles/a.yaml:2:", "resources", "mapping"]);
    word_for_a_boolean:
        profile("extends: aws-large\ndev_credentials: maybe\n")
            .expect(&["profiles/a.yaml:2:", "dev_credentials", "boolean"]);
    number_for_a_boolean:
        profile("extends: aws-large\nstorage:\n  ssd: 1\n")
            .expect(&["profiles/a.yaml:3:", "ssd", "boolean"]);
    list_for_extends:
        profile("extends: [aws-large]\n")
            .expect(&["profiles/a.yaml:1:", "extends", "string"]);

    // --- unknown keys -------------------------------------------------------

    unknown_top_level_key:
        profile("extends: aws-large\nreplicas: 3\n")
            .expect(&["profiles/a.yaml:2:", "`replicas`", "extends, description, namespace, image, storage"]);
    unknown_nested_key:
        profile("extends: aws-large\nstorage:\n  sise: 20Gi\n")
            .expect(&["profiles/a.yaml:3:", "`sise`", "class, size, ssd"]);
    unknown_deeply_nested_key:
        profile("extends: aws-large\nresources:\n  limits:\n    memroy: 8Gi\n")
            .expect(&["profiles/a.yaml:4:", "`memroy`", "memory, cpu"]);
    unknown_key_in_a_storage_class_definition:
        profile("extends: aws-large\nstorage:\n  provision:\n    provisioner: ebs.csi.aws.com\n    reclaim: Retain\n")
            .expect(&["profiles/a.yaml:5:", "`reclaim`", "provisioner, parameters"]);

    // --- quantities -----------------------------------------------------------

    quantity_with_a_decimal_unit_suffix:
        profile("extends: aws-large\nstorage:\n  size: 10GB\n")
            .expect(&["profiles/a.yaml:3:", "size", "\"10GB\"", "10Gi"]);
    quantity_with_a_fraction:
        profile("extends: aws-large\nstorage:\n  size: 1.5Gi\n")
            .expect(&["profiles/a.yaml:3:", "size", "\"1.5Gi\"", "10Gi"]);
    quantity_that_is_a_word:
        profile("extends: aws-large\nstorage:\n  size: abc\n")
            .expect(&["profiles/a.yaml:3:", "size", "\"abc\"", "10Gi"]);
    quantity_that_is_negative:
        profile("extends: aws-large\nstorage:\n  size: -5Gi\n")
            .expect(&["profiles/a.yaml:3:", "size", "\"-5Gi\"", "10Gi"]);
    quantity_beyond_64_bits:
        profile("extends: aws-large\nstorage:\n  size: 20000Pi\n")
            .expect(&["profiles/a.yaml:3:", "size", "\"20000Pi\""]);
    memory_request_with_a_decimal_unit_suffix:
        profile("extends: aws-large\nresources:\n  requests:\n    memory: 1GB\n")
            .expect(&["profiles/a.yaml:4:", "memory", "\"1GB\"", "512Mi"]);
    cpu_that_is_a_word:
        profile("extends: aws-large\nresources:\n  limits:\n    cpu: two\n")
            .expect(&["profiles/a.yaml:4:", "cpu", "\"two\"", "250m"]);
    cpu_with_too_many_decimals:
        profile("extends: aws-large\nresources:\n  limits:\n    cpu: 1.2345\n")
            .expect(&["profiles/a.yaml:4:", "cpu", "\"1.2345\"", "250m"]);
    cpu_with_a_memory_suffix:
        profile("extends: aws-large\nresources:\n  requests:\n    cpu: 500mi\n")
            .expect(&["profiles/a.yaml:4:", "cpu", "\"500mi\"", "250m"]);

    // --- impossible values ----------------------------------------------------

    memory_limit_below_request:
        profile("extends: dev-large\nresources:\n  limits:\n    memory: 512Mi\n")
            .expect(&["profiles/a.yaml:4:", "resources.limits.memory", "512Mi", "1Gi"]);
    cpu_limit_below_request:
        profile("extends: dev-large\nresources:\n  limits:\n    cpu: 500m\n")
            .expect(&["profiles/a.yaml:4:", "resources.limits.cpu", "500m", "1000m"]);
    zero_memory_request:
        profile("extends: dev-large\nresources:\n  requests:\n    memory: 0\n")
            .expect(&["profiles/a.yaml:4:", "resources.requests.memory", "greater than zero"]);
    zero_cpu_limit:
        profile("extends: dev-large\nresources:\n  limits:\n    cpu: 0\n")
            .expect(&["profiles/a.yaml:4:", "resources.limits.cpu", "greater than zero"]);
    request_that_differs_from_the_limit_on_a_guaranteed_profile:
        profile("extends: aws-large\nresources:\n  requests:\n    memory: 2Gi\n")
            .expect(&["profiles/a.yaml:4:", "resources.requests.memory", "resources.guaranteed: false"]);
    priority_class_value_without_a_name:
        profile("extends: dev-large\nscheduling:\n  priority_class_value: 1000\n")
            .expect(&["profiles/a.yaml:3:", "scheduling.priority_class_value", "1000", "priority_class_name"]);
    priority_class_value_above_what_a_cluster_may_define:
        profile("extends: aws-large\nscheduling:\n  priority_class_value: 2000000000\n")
            .expect(&["profiles/a.yaml:3:", "scheduling.priority_class_value", "2000000000", "1000000000"]);
    priority_class_named_under_an_inherited_value:
        profile("extends: aws-large\nscheduling:\n  priority_class_name: database-critical\n")
            .expect(&["profiles/a.yaml:3:", "scheduling.priority_class_name", "database-critical", "priority_class_value: 0"]);
    priority_class_of_kubernetes_own_name:
        profile("extends: aws-large\nscheduling:\n  priority_class_name: system-node-critical\n  priority_class_value: 5\n")
            .expect(&["scheduling.priority_class_value", "system-node-critical", "Kubernetes' own"]);
    zero_storage:
        profile("extends: aws-large\nstorage:\n  size: 0\n")
            .expect(&["profiles/a.yaml:3:", "storage.size", "0 is below the minimum of 1Gi"]);
    storage_below_1gi:
        profile("extends: aws-large\nstorage:\n  size: 512Mi\n")
            .expect(&["profiles/a.yaml:3:", "storage.size", "512Mi", "1Gi"]);
    backup_volume_below_1gi:
        profile("extends: aws-large\nbackup:\n  size: 100Mi\n")
            .expect(&["profiles/a.yaml:3:", "backup.size", "100Mi", "1Gi"]);
    zero_web_pods:
        profile("extends: aws-large\nconnections:\n  web_pods: 0\n")
            .expect(&["profiles/a.yaml:3:", "connections.web_pods", "greater than zero"]);
    zero_max_connections:
        profile("extends: aws-large\nconnections:\n  max_connections: 0\n")
            .expect(&["profiles/a.yaml:3:", "connections.max_connections", "greater than zero"]);
    max_connections_beyond_what_postgres_accepts:
        // PostgreSQL refuses to start with max_connections above 262143.
        profile("extends: aws-large\nconnections:\n  max_connections: 300000\n")
            .expect(&["profiles/a.yaml:3:", "connections.max_connections", "300000", "262143"]);
    reserved_connections_take_them_all:
        profile("extends: aws-large\nconnections:\n  superuser_reserved: 100\n")
            .expect(&["profiles/a.yaml:3:", "connections.superuser_reserved", "100"]);
    shared_memory_of_zero:
        profile("extends: aws-large\npostgres:\n  shm_size: 0\n")
            .expect(&["profiles/a.yaml:3:", "postgres.shm_size", "0 leaves PostgreSQL no /dev/shm"]);
    shared_memory_not_below_the_memory_limit:
        profile("extends: aws-large\npostgres:\n  shm_size: 4Gi\n")
            .expect(&["profiles/a.yaml:3:", "postgres.shm_size", "4Gi"]);
    over_budget_with_max_connections_lowered:
        profile("extends: aws-small\nconnections:\n  max_connections: 15\n")
            .expect(&[
                "profiles/a.yaml:3:",
                "connections.max_connections",
                "(1 web + 1 worker pods) x 5 per pod = 10",
                "+50% margin = 15",
                "available 10 (max_connections 15 - 3 reserved - 2 for exporter and backup)",
            ]);
    over_budget_through_pgbouncer:
        profile("extends: aws-medium\nconnections:\n  max_connections: 40\n")
            .expect(&[
                "profiles/a.yaml:3:",
                "connections.max_connections",
                "(3 web + 3 worker pods) x 5 per pod = 30",
                "through PgBouncer 2 replicas x pool 17 = 34",
                "available 35",
            ]);
    over_budget_with_more_pods:
        // The user's file caused it; an error pointing at the built-in
        // base.yaml sends the user to a file they did not write.
        profile("extends: dev-small\nconnections:\n  web_pods: 2\n  worker_pods: 2\n  per_pod: 20\n")
            .expect(&[
                "profiles/a.yaml:",
                "connections.",
                "(2 web + 2 worker pods) x 20 per pod = 80",
                "+50% margin = 120",
                "available 96",
            ]);
    web_pods_that_overflow_the_budget_arithmetic:
        profile("extends: aws-large\nconnections:\n  web_pods: 4294967295\n")
            .expect(&["profiles/a.yaml:3:", "web_pods"]);
    per_pod_that_overflows_the_budget_arithmetic:
        profile("extends: aws-large\nconnections:\n  per_pod: 4294967295\n")
            .expect(&["profiles/a.yaml:3:", "per_pod"]);
    safety_margin_that_overflows_the_budget_arithmetic:
        profile("extends: aws-large\nconnections:\n  safety_margin_percent: 4294967295\n")
            .expect(&["profiles/a.yaml:3:", "safety_margin_percent"]);
    single_pgbouncer:
        profile("extends: aws-large\npgbouncer:\n  replicas: 1\n")
            .expect(&["profiles/a.yaml:3:", "pgbouncer.replicas", "at least 2"]);
    cron_schedule_that_is_a_word:
        profile("extends: aws-large\nbackup:\n  schedule: daily\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "\"daily\"", "\"30 2 * * *\""]);
    cron_schedule_with_six_fields:
        profile("extends: aws-large\nbackup:\n  schedule: \"0 30 2 * * *\"\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "\"0 30 2 * * *\"", "five fields"]);
    cron_schedule_with_minute_61:
        // Kubernetes rejects the CronJob: minutes are 0-59.
        profile("extends: aws-large\nbackup:\n  schedule: \"61 2 * * *\"\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "\"61 2 * * *\""]);
    backup_retention_zero:
        profile("extends: aws-large\nbackup:\n  retention_days: 0\n")
            .expect(&["profiles/a.yaml:3:", "backup.retention_days", "at least 1"]);
    offsite_unknown_provider:
        profile("extends: aws-large\nbackup:\n  offsite:\n    provider: dropbox\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.provider", "\"dropbox\"", "none, s3, gcs or azureblob"]);
    offsite_s3_bucket_with_upper_case:
        profile("extends: aws-large\nbackup:\n  offsite:\n    bucket: Paless_Backups\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.bucket", "\"Paless_Backups\"", "S3 bucket name"]);
    offsite_s3_bucket_like_an_ip_address:
        profile("extends: aws-large\nbackup:\n  offsite:\n    bucket: 192.168.10.20\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.bucket", "\"192.168.10.20\"", "not an IP address"]);
    offsite_gcs_bucket_starting_with_goog:
        profile("extends: gcp-large\nbackup:\n  offsite:\n    bucket: google-backups\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.bucket", "\"google-backups\"", "\"goog\""]);
    offsite_azure_container_with_double_hyphen:
        profile("extends: azure-large\nbackup:\n  offsite:\n    bucket: paless--backups\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.bucket", "\"paless--backups\"", "Azure container name"]);
    offsite_prefix_with_leading_slash:
        profile("extends: aws-large\nbackup:\n  offsite:\n    prefix: /prod\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.prefix", "\"/prod\"", "no leading or trailing '/'"]);
    offsite_prefix_climbing_up:
        profile("extends: aws-large\nbackup:\n  offsite:\n    prefix: prod/../other\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.prefix", "\"prod/../other\"", "'..'"]);
    offsite_role_arn_of_a_user:
        profile("extends: aws-large\nbackup:\n  offsite:\n    role_arn: arn:aws:iam::123456789012:user/backup\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.role_arn", "user/backup", "IAM role ARN"]);
    offsite_role_arn_with_short_account:
        profile("extends: aws-large\nbackup:\n  offsite:\n    role_arn: arn:aws:iam::1234:role/backup\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.role_arn", "arn:aws:iam::1234:role/backup", "123456789012"]);
    offsite_s3_region_missing:
        profile("extends: aws-large\nbackup:\n  offsite:\n    region: \"\"\n    role_arn: arn:aws:iam::123456789012:role/backup\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.region", "\"\"", "required for s3"]);
    offsite_endpoint_without_scheme:
        profile("extends: aws-large\nbackup:\n  offsite:\n    endpoint: minio.minio.svc:9000\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.endpoint", "\"minio.minio.svc:9000\"", "http:// or https://"]);
    offsite_gcp_service_account_of_another_domain:
        profile("extends: gcp-large\nbackup:\n  offsite:\n    gcp_service_account: backup@example.com\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.gcp_service_account", "\"backup@example.com\"", ".iam.gserviceaccount.com"]);
    offsite_azure_client_id_not_a_guid:
        profile("extends: azure-large\nbackup:\n  offsite:\n    account: palessbackups\n    azure_client_id: my-identity\n")
            .expect(&["profiles/a.yaml:5:", "backup.offsite.azure_client_id", "\"my-identity\"", "client id such as"]);
    offsite_azure_account_with_hyphen:
        profile("extends: azure-large\nbackup:\n  offsite:\n    account: paless-backups\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.account", "\"paless-backups\"", "3 to 24 lower-case letters and digits"]);
    offsite_key_of_another_provider:
        profile("extends: gcp-large\nbackup:\n  offsite:\n    role_arn: arn:aws:iam::123456789012:role/backup\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.role_arn", "applies to provider s3 only", "provider is gcs"]);
    offsite_credentials_secret_not_a_name:
        profile("extends: aws-large\nbackup:\n  offsite:\n    credentials_secret: MinIO Keys\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.credentials_secret", "\"MinIO Keys\"", "Secret name"]);
    offsite_unpinned_rclone_image:
        profile("extends: aws-large\nbackup:\n  offsite:\n    image: rclone/rclone:latest\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.image", "\"rclone/rclone:latest\"", "not a pinned image"]);
    offsite_unknown_key:
        profile("extends: aws-large\nbackup:\n  offsite:\n    bukket: x\n")
            .expect(&["profiles/a.yaml:4:", "bukket"]);
    unpinned_pgbouncer_image:
        profile("extends: aws-large\npgbouncer:\n  image: pgbouncer:latest\n")
            .expect(&["profiles/a.yaml:3:", "pgbouncer.image", "\"pgbouncer:latest\"", "repository:tag"]);
    untagged_exporter_image:
        profile("extends: aws-large\nmonitoring:\n  exporter_image: postgres-exporter\n")
            .expect(&["profiles/a.yaml:3:", "monitoring.exporter_image", "\"postgres-exporter\"", "repository:tag"]);
    postgres_image_latest:
        profile("extends: aws-large\nimage: postgres:latest\n")
            .expect(&["profiles/a.yaml:2:", "image", "\"postgres:latest\"", "postgres:18"]);
    postgres_image_without_a_tag:
        profile("extends: aws-large\nimage: postgres\n")
            .expect(&["profiles/a.yaml:2:", "image", "\"postgres\"", "postgres:18"]);
    postgres_image_with_a_short_digest:
        profile("extends: aws-large\nimage: postgres:18@sha256:abc\n")
            .expect(&["profiles/a.yaml:2:", "image", "\"postgres:18@sha256:abc\"", "@sha256:<digest>"]);
    postgres_image_older_than_supported:
        // postgres:14 has a major version in its tag; the message must say
        // which majors are accepted rather than that there is none.
        profile("extends: aws-large\nimage: postgres:14\n")
            .expect(&["profiles/a.yaml:2:", "image", "\"postgres:14\"", "15"]);
    storage_class_that_is_not_a_kubernetes_name:
        profile("extends: aws-large\nstorage:\n  class: Fast_SSD\n")
            .expect(&["profiles/a.yaml:3:", "storage.class", "\"Fast_SSD\"", "lower-case"]);
    scraper_namespace_that_is_not_a_kubernetes_name:
        profile("extends: aws-large\nmonitoring:\n  scraper_namespace: Monitoring!\n")
            .expect(&["profiles/a.yaml:3:", "monitoring.scraper_namespace", "\"Monitoring!\""]);
    too_many_read_replicas:
        profile("extends: aws-large\nreplication:\n  read_replicas: 9\n")
            .expect(&["profiles/a.yaml:3:", "replication.read_replicas", "9 is more than 8"]);
    wal_kept_for_replicas_not_below_the_data_volume:
        profile("extends: aws-large\nreplication:\n  max_slot_wal_keep_size: 100Gi\n")
            .expect(&["profiles/a.yaml:3:", "replication.max_slot_wal_keep_size", "100Gi", "below the data volume"]);
    tls_issuer_without_source_issuer:
        profile("extends: aws-large\ntls:\n  issuer:\n    name: letsencrypt\n")
            .expect(&["profiles/a.yaml:4:", "tls.issuer.name", "tls.source: issuer", "tls.source is private-ca"]);
    tls_secret_with_tls_off:
        profile("extends: aws-large\ntls:\n  enabled: false\n  secret: my-tls\n")
            .expect(&["profiles/a.yaml:4:", "tls.secret", "tls.enabled: true", "tls.enabled is false"]);
    cnpg_destination_on_the_statefulset_engine:
        profile("extends: aws-large\ncloudnative_pg:\n  backup_destination: s3://acme/postgres\n")
            .expect(&["profiles/a.yaml:3:", "cloudnative_pg.backup_destination", "engine: cloudnative-pg", "engine is statefulset"]);
    cnpg_endpoint_without_backups:
        profile("extends: dev-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_endpoint: http://minio.minio.svc:9000\n")
            .expect(&["profiles/a.yaml:4:", "cloudnative_pg.backup_endpoint", "backup.enabled: true", "backup.enabled is false"]);
    cnpg_destination_with_backups_off:
        profile("extends: aws-large\nengine: cloudnative-pg\nbackup:\n  enabled: false\ncloudnative_pg:\n  backup_destination: s3://acme/postgres\n")
            .expect(&["profiles/a.yaml:6:", "cloudnative_pg.backup_destination", "backup.enabled: true", "backup.enabled is false"]);
    offsite_copy_without_backups:
        profile("extends: dev-large\nbackup:\n  offsite:\n    provider: s3\n    bucket: acme-backups\n    region: eu-west-1\n")
            .expect(&["profiles/a.yaml:4:", "backup.offsite.provider", "backup.enabled: true", "backup.enabled is false"]);
    cnpg_backup_schedule_every:
        profile("extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme/postgres\nbackup:\n  schedule: \"@every 6h\"\n")
            .expect(&["profiles/a.yaml:6:", "backup.schedule", "\"@every 6h\"", "engine cloudnative-pg"]);
    cnpg_destination_of_another_platform:
        profile("extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: gs://acme/postgres\n")
            .expect(&["profiles/a.yaml:4:", "cloudnative_pg.backup_destination", "\"gs://acme/postgres\"", "Google Cloud Storage", "platform is aws", "Amazon S3"]);
    cnpg_credentials_secret_on_google_storage:
        profile("extends: gcp-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: gs://acme/postgres\n  backup_credentials_secret: keys\n")
            .expect(&["profiles/a.yaml:5:", "cloudnative_pg.backup_credentials_secret", "\"keys\"", "gs://acme/postgres", "not s3://"]);
    cnpg_credentials_secret_and_identity:
        profile("extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme/postgres\n  backup_identity: arn:aws:iam::123456789012:role/b\n  backup_credentials_secret: keys\n")
            .expect(&["profiles/a.yaml:6:", "cloudnative_pg.backup_credentials_secret", "cloudnative_pg.backup_identity", "set one"]);
    audit_log_statement_unknown:
        profile("extends: aws-large\naudit:\n  log_statement: dll\n")
            .expect(&["profiles/a.yaml:3:", "audit.log_statement", "\"dll\"", "did you mean \"ddl\"", "none, ddl, mod, all"]);
    audit_log_statement_postgresql_spelling_of_a_boolean:
        profile("extends: aws-large\naudit:\n  log_statement: off\n")
            .expect(&["profiles/a.yaml:3:", "audit.log_statement", "none, ddl, mod, all"]);
    audit_connections_not_a_boolean:
        profile("extends: aws-large\naudit:\n  connections: sometimes\n")
            .expect(&["profiles/a.yaml:3:", "connections: expected a boolean", "sometimes"]);
    audit_key_mistyped:
        profile("extends: aws-large\naudit:\n  log_statements: ddl\n")
            .expect(&["profiles/a.yaml:3:", "log_statements", "did you mean `log_statement`"]);
    tls_source_unknown:
        profile("extends: aws-large\ntls:\n  source: letsencrypt\n")
            .expect(&["profiles/a.yaml:3:", "tls.source", "\"letsencrypt\"", "private-ca, issuer, secret"]);
    tls_issuer_source_without_an_issuer_name:
        profile("extends: aws-large\ntls:\n  source: issuer\n")
            .expect(&["profiles/a.yaml:3:", "tls.source", "\"issuer\"", "tls.issuer.name"]);
    tls_issuer_kind_unknown:
        profile("extends: aws-large\ntls:\n  source: issuer\n  issuer:\n    name: acme\n    kind: CertificateAuthority\n")
            .expect(&["profiles/a.yaml:6:", "tls.issuer.kind", "\"CertificateAuthority\"", "Issuer or ClusterIssuer"]);
    tls_issuer_name_not_a_kubernetes_name:
        profile("extends: aws-large\ntls:\n  source: issuer\n  issuer:\n    name: Lets_Encrypt\n")
            .expect(&["profiles/a.yaml:5:", "tls.issuer.name", "\"Lets_Encrypt\""]);
    tls_issuer_group_not_an_api_group:
        profile("extends: aws-large\ntls:\n  issuer:\n    group: \"cert manager\"\n")
            .expect(&["profiles/a.yaml:4:", "tls.issuer.group", "\"cert manager\"", "cert-manager.io"]);
    tls_secret_not_a_kubernetes_name:
        profile("extends: aws-large\ntls:\n  source: secret\n  secret: My_TLS\n")
            .expect(&["profiles/a.yaml:4:", "tls.secret", "\"My_TLS\"", "lower-case"]);
    tls_enabled_not_a_boolean:
        profile("extends: aws-large\ntls:\n  enabled: maybe\n")
            .expect(&["profiles/a.yaml:3:", "tls.enabled|enabled", "maybe"]);
    tls_unknown_key:
        profile("extends: aws-large\ntls:\n  sslmode: require\n")
            .expect(&["profiles/a.yaml:3:", "sslmode"]);

    // --- what PostgreSQL itself refuses, or what does not fit the pod ----------

    slow_query_ms_beyond_what_postgres_accepts:
        profile("extends: aws-large\npostgres:\n  slow_query_ms: 3000000000\n")
            .expect(&["profiles/a.yaml:3:", "postgres.slow_query_ms", "log_min_duration_statement = 3000000000", "-1 to 2147483647"]);
    server_processes_beyond_what_postgres_accepts:
        // PostgreSQL 18: 262130 + 8 workers + 16 autovacuum worker slots + 10 WAL senders > 262141.
        profile("extends: aws-small\nconnections:\n  max_connections: 262130\n")
            .expect(&["profiles/a.yaml:3:", "connections.max_connections", "262130", "PostgreSQL 18 accepts at most 262141", "max_connections at most 262107"]);
    server_processes_beyond_what_postgres_15_accepts:
        // 262122 + 8 workers + 3 autovacuum workers + launcher + 10 WAL senders > 262143.
        profile("extends: aws-small\nimage: postgres:15.10\nconnections:\n  max_connections: 262122\n")
            .expect(&["profiles/a.yaml:4:", "connections.max_connections", "262122", "PostgreSQL 15 accepts at most 262143", "max_connections at most 262121"]);
    maintenance_work_mem_below_what_postgres_15_accepts:
        // 8Mi / 16 = 512kB; PostgreSQL 15 wants at least 1024kB.
        profile("extends: aws-small\nimage: postgres:15.10\npostgres:\n  shm_size: 1Mi\nresources:\n  requests:\n    memory: 8Mi\n  limits:\n    memory: 8Mi\n")
            .expect(&["profiles/a.yaml:9:", "resources.limits.memory", "maintenance_work_mem = 512 x kB", "8Mi", "PostgreSQL 15 accepts: 1024 to 2147483647"]);
    maintenance_work_mem_below_what_postgres_18_accepts:
        // 768Ki / 16 = 48kB; PostgreSQL 18 wants at least 64kB.
        profile("extends: aws-small\npostgres:\n  shm_size: 64Ki\nresources:\n  requests:\n    memory: 768Ki\n  limits:\n    memory: 768Ki\n")
            .expect(&["profiles/a.yaml:8:", "resources.limits.memory", "maintenance_work_mem = 48 x kB", "768Ki", "PostgreSQL 18 accepts: 64 to 2147483647"]);
    shared_buffers_beyond_what_postgres_accepts:
        // 64Ti / 4 = 16TB of shared_buffers; PostgreSQL stops at 1073741823 x 8kB.
        profile("extends: aws-small\nresources:\n  limits:\n    memory: 64Ti\n")
            .expect(&["profiles/a.yaml:4:", "resources.limits.memory", "shared_buffers = 2147483648 x 8kB", "64Ti", "16 to 1073741823"]);
    memory_limit_cannot_hold_shared_memory_and_dev_shm:
        profile("extends: aws-small\npostgres:\n  shm_size: 512Mi\n")
            .expect(&["profiles/a.yaml:3:", "postgres.shm_size", "/dev/shm 512Mi", "memory limit 1Gi cannot hold", "shared memory 299MB"]);
    memory_limit_cannot_hold_the_backends_the_budget_plans:
        profile("extends: aws-small\nconnections:\n  web_pods: 4\n  worker_pods: 4\npostgres:\n  shm_size: 512Mi\n")
            .expect(&["profiles/a.yaml:6:", "postgres.shm_size", "65 backends (60 application", "hash_mem_multiplier 2", "autovacuum_max_workers 3 x autovacuum_work_mem", "4MB private", "1Gi"]);
    max_wal_size_above_a_quarter_of_the_volume:
        profile("extends: aws-small\npostgres:\n  max_wal_size: 4Gi\n")
            .expect(&["profiles/a.yaml:3:", "postgres.max_wal_size", "4Gi", "data volume of 10Gi", "32Mi", "2560Mi"]);
    max_wal_size_below_two_segments:
        profile("extends: aws-small\npostgres:\n  max_wal_size: 16Mi\n")
            .expect(&["profiles/a.yaml:3:", "postgres.max_wal_size", "16Mi", "from 32Mi"]);
    postgres_image_with_an_upper_case_repository:
        profile("extends: aws-large\nimage: Postgres:18\n")
            .expect(&["profiles/a.yaml:2:", "image", "\"Postgres:18\"", "must be lower case"]);
    postgres_image_with_a_tag_longer_than_128:
        profile(&format!("extends: aws-large\nimage: postgres:18-{}\n", "x".repeat(126)))
            .expect(&["profiles/a.yaml:2:", "image", "postgres:18-xxx", "at most 128"]);
    postgres_image_with_an_upper_case_digest:
        profile(&format!("extends: aws-large\nimage: postgres:18@sha256:{}\n", "A".repeat(64)))
            .expect(&["profiles/a.yaml:2:", "image", "@sha256:AAAA", "64 lower-case hex digits"]);
    postgres_image_whose_tag_starts_with_another_version:
        profile("extends: aws-large\nimage: timescale/timescaledb:2.17.2\n")
            .expect(&["profiles/a.yaml:2:", "image", "\"timescale/timescaledb:2.17.2\"", "major 2", "15 and newer", "-pgNN"]);
    exporter_image_with_an_invalid_repository:
        profile("extends: aws-large\nmonitoring:\n  exporter_image: quay.io/Prometheus/exporter:v1\n")
            .expect(&["profiles/a.yaml:3:", "monitoring.exporter_image", "\"quay.io/Prometheus/exporter:v1\"", "lower case"]);
    cron_schedule_with_day_of_week_7:
        // robfig/cron, which Kubernetes uses, takes Sunday as 0 only.
        profile("extends: aws-large\nbackup:\n  schedule: \"0 3 * * 7\"\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "\"0 3 * * 7\"", "day of week", "0-6 or sun-sat"]);
    cron_schedule_that_never_fires:
        profile("extends: aws-large\nbackup:\n  schedule: \"0 0 31 2 *\"\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "\"0 0 31 2 *\"", "matches no date"]);
    cron_schedule_with_an_unknown_descriptor:
        profile("extends: aws-large\nbackup:\n  schedule: \"@fortnightly\"\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "\"@fortnightly\"", "@daily", "@hourly", "@every <duration>"]);
    cron_schedule_with_a_time_zone:
        profile("extends: aws-large\nbackup:\n  schedule: \"CRON_TZ=Europe/Paris 0 3 * * *\"\n")
            .expect(&["profiles/a.yaml:3:", "backup.schedule", "CRON_TZ=Europe/Paris", "time zones"]);
    storage_class_that_redefines_a_built_in_class:
        // aws provisions its class; naming it gp2 would overwrite EKS's own gp2.
        profile("extends: aws-large\nstorage:\n  class: gp2\n")
            .expect(&["profiles/a.yaml:3:", "storage.class", "\"gp2\"", "EKS", "storage.provision: false"]);
    storage_class_with_an_empty_provisioner:
        profile("extends: aws-large\nstorage:\n  class: fast\n  provision:\n    provisioner: \"\"\n")
            .expect(&["profiles/a.yaml:5:", "storage.provision", "provisioner \"\"", "ebs.csi.aws.com"]);
    storage_provision_true:
        profile("extends: aws-large\nstorage:\n  provision: true\n")
            .expect(&["profiles/a.yaml:3:", "storage.provision", "true", "false"]);

    // --- extends ----------------------------------------------------------------

    extends_an_unknown_size:
        profile("extends: aws-huge\n")
            .expect(&["profiles/a.yaml:1:", "extends", "\"aws-huge\"", "aws-large"]);
    extends_an_unknown_platform:
        profile("extends: ibm-small\n")
            .expect(&["profiles/a.yaml:1:", "extends", "\"ibm-small\"", "azure-small"]);
    extends_the_base_which_is_not_a_profile:
        profile("extends: base\n")
            .expect(&["profiles/a.yaml:1:", "extends", "\"base\"", "dev-small"]);
    extends_a_missing_user_profile:
        profile("extends: acme-base\n")
            .expect(&["profiles/a.yaml:1:", "extends", "\"acme-base\"", "aws-large"]);
    extends_cycle_of_two:
        Case::new(&RENDER_A)
            .file("profiles/a.yaml", "extends: b\n")
            .file("profiles/b.yaml", "extends: a\n")
            .expect(&[
                "profiles/a.yaml:1:|profiles/b.yaml:1:",
                "extends",
                "a -> b -> a|b -> a -> b",
                "cycle",
            ]);
    extends_itself:
        profile("extends: a\n")
            .expect(&["profiles/a.yaml:1:", "extends", "a -> a", "cycle"]);
    extends_missing:
        profile("storage:\n  size: 20Gi\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);
    extends_null:
        profile("extends: ~\n")
            .expect(&["profiles/a.yaml:1:", "extends", "missing", "extends: aws-large"]);

    // --- profile names ----------------------------------------------------------

    file_name_not_a_kubernetes_name:
        Case::new(&RENDER_AWS)
            .file("profiles/Acme_Prod.yaml", VALID)
            .expect(&["profiles/Acme_Prod.yaml", "\"Acme_Prod\"", "lower-case letters, digits and '-'"]);
    file_name_starting_with_a_digit:
        Case::new(&RENDER_AWS)
            .file("profiles/1prod.yaml", VALID)
            .expect(&["profiles/1prod.yaml", "\"1prod\"", "starting with a letter"]);
    file_name_with_a_dot:
        Case::new(&RENDER_AWS)
            .file("profiles/acme.prod.yaml", VALID)
            .expect(&["profiles/acme.prod.yaml", "\"acme.prod\"", "lower-case letters"]);
    file_name_too_long:
        Case::new(&RENDER_AWS)
            .file(&format!("profiles/{}.yaml", "a".repeat(54)), VALID)
            .expect(&["is not a valid profile name", "at most 53 characters"]);
    file_named_like_a_builtin_profile:
        Case::new(&RENDER_AWS)
            .file("profiles/aws-large.yaml", VALID)
            .expect(&["profiles/aws-large.yaml", "\"aws-large\"", "built-in", "unique"]);
    file_named_like_a_bare_platform:
        Case::new(&RENDER_AWS)
            .file("profiles/gcp.yaml", VALID)
            .expect(&["profiles/gcp.yaml", "\"gcp\"", "built-in", "unique"]);
    same_profile_as_yaml_and_yml:
        Case::new(&RENDER_AWS)
            .file("profiles/x.yaml", VALID)
            .file("profiles/x.yml", "extends: aws-small\n")
            .expect(&["profiles/x.yml", "\"x\"", "profiles/x.yaml", "unique"]);

    // --- the command line and the output directory ---------------------------------

    unknown_profile_on_the_command_line:
        Case::new(&["--profiles-dir", "profiles", "render", "--profile", "acme", "--out", "k8s"])
            .expect(&["unknown profile \"acme\"", "aws-large"]);
    unknown_profile_for_show:
        Case::new(&["--profiles-dir", "profiles", "show", "--profile", "aws-huge"])
            .expect(&["unknown profile \"aws-huge\"", "aws-large"]);
    unknown_profile_for_build:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "ibm"])
            .expect(&["unknown profile \"ibm\"", "azure-small"]);
    profiles_dir_missing:
        Case::new(&["--profiles-dir", "no-such-dir", "render", "--profile", "aws", "--out", "k8s"])
            .expect(&["no-such-dir", "profiles directory", "No such file"]);
    profiles_dir_is_a_file:
        Case::new(&["--profiles-dir", "profiles.txt", "render", "--profile", "aws", "--out", "k8s"])
            .file("profiles.txt", "extends: aws-large\n")
            .expect(&["profiles.txt", "profiles directory", "Not a directory|not a directory"]);
    default_profiles_dir_is_read:
        Case::new(&["show", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nstorage:\n  size: 10GB\n")
            .expect(&["profiles/a.yaml:3:", "size", "\"10GB\""]);
    bad_profile_stops_check_of_its_overlay:
        Case::new(&["--profiles-dir", "profiles", "check", "--out", "k8s"])
            .file("profiles/a.yaml", "extends: aws-large\nstorage:\n  size: 10GB\n")
            .dir("k8s/overlays/a")
            .expect(&["profiles/a.yaml:3:", "size", "\"10GB\""]);
    scheduling_node_selector_key:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  node_selector:\n    \"node pool\": db\n")
            .expect(&["profiles/a.yaml:4:", "scheduling.node_selector", "\"node pool\"", "label key"]);
    scheduling_exists_with_value:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  tolerations:\n  - key: spot\n    operator: Exists\n    value: yes-please\n")
            .expect(&["profiles/a.yaml:4:", "scheduling.tolerations", "Exists", "yes-please"]);
    scheduling_priority_class:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  priority_class_name: Database_Critical\n")
            .expect(&["profiles/a.yaml:3:", "scheduling.priority_class_name", "Database_Critical"]);
    scheduling_with_cloudnative_pg:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: dev-small\nengine: cloudnative-pg\nscheduling:\n  node_selector:\n    pool: db\n")
            .expect(&["profiles/a.yaml:", "scheduling.node_selector", "cloudnative-pg"]);
    scheduling_node_affinity_in_without_values:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  node_affinity:\n    required:\n    - key: node-pool\n      operator: In\n")
            .expect(&["profiles/a.yaml:4:", "scheduling.node_affinity", "\"node-pool\"", "In needs at least one value"]);
    scheduling_node_affinity_weight:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  node_affinity:\n    preferred:\n    - weight: 0\n      key: disk\n      operator: Exists\n")
            .expect(&["profiles/a.yaml:4:", "scheduling.node_affinity", "weight 0"]);
    scheduling_node_affinity_gt_not_a_number:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  node_affinity:\n    required:\n    - key: generation\n      operator: Gt\n      values: [new]\n")
            .expect(&["profiles/a.yaml:4:", "scheduling.node_affinity", "Gt takes exactly one integer value", "new"]);
    scheduling_node_affinity_unknown_operator:
        Case::new(&["--profiles-dir", "profiles", "build", "--profile", "a"])
            .file("profiles/a.yaml", "extends: aws-large\nscheduling:\n  node_affinity:\n    required:\n    - key: generation\n      operator: Between\n")
            .expect(&["profiles/a.yaml:6:", "Between", "In"]);
    bad_profile_shown:
        Case::new(&["--profiles-dir", "profiles", "show", "--profile", "a", "--format", "json"])
            .file("profiles/a.yaml", "extends: dev-large\nresources:\n  limits:\n    cpu: 500m\n")
            .expect(&["profiles/a.yaml:4:", "resources.limits.cpu", "500m", "1000m"]);
    out_under_a_regular_file:
        Case::new(&["--profiles-dir", "profiles", "render", "--profile", "aws", "--out", "notes.txt/k8s"])
            .file("notes.txt", "not a directory\n")
            .expect(&["notes.txt", "directory"]);
    out_is_a_regular_file:
        Case::new(&["--profiles-dir", "profiles", "render", "--profile", "aws", "--out", "notes.txt"])
            .file("notes.txt", "not a directory\n")
            .expect(&["notes.txt", "not a directory"]);
    foreign_file_in_an_overlay:
        Case::new(&RENDER_AWS)
            .file("k8s/overlays/aws-small/kustomization.yaml", "resources:\n  - hand-written.yaml\n")
            .expect(&["k8s/overlays/aws-small/kustomization.yaml", "not generated by palgen"]);
    foreign_file_in_a_custom_profile_overlay:
        Case::new(&RENDER_A)
            .file("profiles/a.yaml", VALID)
            .file("k8s/overlays/a/postgresql.conf", "max_connections = 500\n")
            .expect(&["k8s/overlays/a/postgresql.conf", "not generated by palgen"]);
    foreign_file_in_the_base:
        Case::new(&RENDER_AWS)
            .file("k8s/base/statefulset-postgres.yaml", "kind: StatefulSet\n")
            .expect(&["k8s/base/statefulset-postgres.yaml", "not generated by palgen"]);
    directory_at_a_generated_path:
        Case::new(&RENDER_AWS)
            .dir("k8s/base/kustomization.yaml")
            .expect(&["k8s/base/kustomization.yaml", "is a directory"]);
}

/// A file that holds no settings says so the same way, whatever form its
/// emptiness takes: not in the YAML library's words for a null document.
#[test]
fn every_empty_profile_file_gets_the_message_of_an_empty_file() {
    let message = |text: &str| {
        let temp = tempfile::tempdir().expect("temporary directory");
        fs::create_dir(temp.path().join("profiles")).unwrap();
        fs::write(temp.path().join("profiles/a.yaml"), text).unwrap();
        let args: Vec<String> = RENDER_A.iter().map(|a| a.to_string()).collect();
        let output = palgen(temp.path(), &args);
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{text:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let empty = message("");
    assert!(empty.contains("extends: missing"), "{empty}");
    for text in [
        "---\n",
        "--- ~\n",
        "~\n",
        "null\n",
        "# nothing yet\n",
        "---\n# nothing yet\n",
        "...\n",
        "\n\n",
    ] {
        assert_eq!(message(text), empty, "the profile file was {text:?}");
    }
}
