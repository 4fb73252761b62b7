//! No input makes palgen panic: a property test that feeds the profile
//! parser random bytes, random YAML-ish text and mutations of a valid
//! profile, through the real binary.
//!
//! Each input is written as the user profile `fuzz.yaml` and shown
//! with `palgen --profiles-dir profiles show --profile fuzz`; when that
//! succeeds the profile is also built (`build --profile fuzz`), which takes
//! it through the object builders and templates. The property: exit code 0
//! or 2 (never 101 or a signal), nothing about a panic on stderr, and on exit
//! 2 exactly one line `palgen: error: ...` naming the file.
//!
//! The runs are reproducible: a fixed number of cases from a fixed seed, no
//! regression files. A failure prints the (shrunk) input and palgen's output.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

/// The file name every error about the input must mention.
const FILE_NAME: &str = "fuzz.yaml";

/// A valid user profile that sets every key of `profiles/builtin/base.yaml`,
/// so that mutations reach each of them.
const VALID_PROFILE: &str = r#"# A user profile that sets every key.
extends: aws-medium
description: Fuzzed profile
namespace: fuzz
image: postgres:18.1@sha256:7c3b0f1e9a4d2c6b8e5f0a1d3c7b9e2f4a6c8d0e1f3a5b7c9d2e4f6a8b0c1d3e
storage:
  class: paless-postgres-gp3
  size: 50Gi
  ssd: true
  provision:
    provisioner: ebs.csi.aws.com
    parameters:
      type: gp3
      encrypted: "true"
resources:
  guaranteed: false
  requests:
    memory: 512Mi
    cpu: 500m
  limits:
    memory: 2Gi
    cpu: "2"
connections:
  max_connections: 100
  superuser_reserved: 3
  web_pods: 3
  worker_pods: 3
  per_pod: 5
  safety_margin_percent: 50
postgres:
  slow_query_ms: 1000
  shm_size: 256Mi
dev_credentials: false
backup:
  enabled: true
  schedule: "30 2 * * *"
  retention_days: 7
  size: 100Gi
  offsite:
    provider: s3
    bucket: paless-postgres-backups
    prefix: fuzz/prod
    region: eu-central-1
    endpoint: ""
    account: ""
    role_arn: arn:aws:iam::123456789012:role/paless-postgres-backup
    gcp_service_account: ""
    azure_client_id: ""
    credentials_secret: ""
    image: rclone/rclone:1.71.1
monitoring:
  exporter: true
  exporter_image: quay.io/prometheuscommunity/postgres-exporter:v0.17.1
  service_monitor: false
  scraper_namespace: monitoring
pgbouncer:
  from_app_pods: 5
  replicas: 2
  image: ghcr.io/cloudnative-pg/pgbouncer:1.24.0
replication:
  read_replicas: 1
  max_slot_wal_keep_size: 5Gi
scheduling:
  spread_zones: true
"#;

/// Every key a profile may set, plus a few it may not.
const KEYS: &[&str] = &[
    "extends",
    "description",
    "namespace",
    "image",
    "storage",
    "class",
    "size",
    "ssd",
    "provision",
    "provisioner",
    "parameters",
    "max_wal_size",
    "resources",
    "guaranteed",
    "requests",
    "limits",
    "memory",
    "cpu",
    "connections",
    "max_connections",
    "superuser_reserved",
    "web_pods",
    "worker_pods",
    "per_pod",
    "safety_margin_percent",
    "postgres",
    "slow_query_ms",
    "shm_size",
    "dev_credentials",
    "backup",
    "enabled",
    "schedule",
    "retention_days",
    "offsite",
    "provider",
    "bucket",
    "prefix",
    "region",
    "endpoint",
    "account",
    "role_arn",
    "gcp_service_account",
    "azure_client_id",
    "credentials_secret",
    "monitoring",
    "exporter",
    "exporter_image",
    "service_monitor",
    "scraper_namespace",
    "pgbouncer",
    "from_app_pods",
    "replicas",
    "replication",
    "read_replicas",
    "max_slot_wal_keep_size",
    "scheduling",
    "spread_zones",
    "bogus",
    "Storage",
    "<<",
];

/// Scalars chosen for the edges they probe: integer limits, quantities,
/// YAML's special values, tags, anchors and profile names.
const SCALARS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "65535",
    "262143",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1.5",
    "-0",
    "1e3",
    "0x1F",
    "0o17",
    ".inf",
    "-.inf",
    ".nan",
    "~",
    "null",
    "true",
    "false",
    "yes",
    "no",
    "''",
    "\"\"",
    "[]",
    "{}",
    "[1, 2]",
    "{a: 1}",
    "10GB",
    "1.5Gi",
    "0Gi",
    "1",
    "512Mi",
    "1Gi",
    "10Gi",
    "100Gi",
    "16383Pi",
    "20000Pi",
    "1Ei",
    "250m",
    "0m",
    "0.001",
    "1000000000000m",
    "18446744073709551615m",
    "postgres:latest",
    "postgres:14",
    "postgres:18",
    "postgres:4294967296",
    "postgres:18@sha256:abc",
    "pgbouncer:latest",
    "\"30 2 * * *\"",
    "\"61 2 * * *\"",
    "\"* * * * * *\"",
    "aws-large",
    "aws",
    "fuzz",
    "base",
    "ibm-small",
    "&a 1",
    "*a",
    "!!str 5",
    "!!binary aGk=",
    "!!int x",
    "!custom x",
    "|\n  block",
    ">-\n  folded",
    "\"\\u0000\"",
    "\"\\xff\"",
    "'it''s'",
    "Fast_SSD",
    "Monitoring!",
];

/// Pieces of YAML syntax that random text is assembled from.
const YAML_TOKENS: &[&str] = &[
    ": ",
    ":",
    "\n",
    "  ",
    "    ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "\"",
    "'",
    "# ",
    "\t",
    "---\n",
    "...\n",
    "? ",
    "| ",
    "> ",
    "!!str ",
    "!!map ",
    "%YAML 1.2\n",
    "<<: ",
    "\r\n",
    "\u{feff}",
    "\\",
    "%",
    "@",
    "`",
];

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x7061_6c67_656e),
        failure_persistence: None,
        max_shrink_iters: 256,
        max_shrink_time: 30_000,
        ..Config::default()
    }
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(SCALARS).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
        1 => "\\PC{0,8}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ]
}

/// Random text built from YAML punctuation, keys and scalars.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        3 => select(YAML_TOKENS).prop_map(str::to_owned),
        2 => key(),
        2 => scalar(),
    ];
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

/// Random bytes: arbitrary ones, which are mostly not UTF-8 and test that
/// a file is refused cleanly, and ASCII ones (control characters included),
/// which reach the YAML parser.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let ascii = prop_oneof![
        2 => 0u8..=127,
        2 => b' '..=b'~',
        1 => Just(b'\n'),
        1 => Just(b':'),
    ];
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        3 => prop::collection::vec(ascii, 0..256),
    ]
}

/// One edit of the valid profile.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteChar(Index),
    DuplicateChar(Index),
    ReplaceChar(Index, char),
    /// Replaces the value of a line (after its first `:`) with a scalar.
    ReplaceValue(Index, String),
    /// Adds or removes leading spaces of a line.
    Reindent(Index, i8),
    /// Inserts `key: scalar` at some indentation.
    InsertLine(Index, usize, String, String),
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let character = prop_oneof![
        select(vec![
            ':', ' ', '\n', '\t', '-', '"', '\'', '#', '[', '{', '&', '*', '!', '0'
        ]),
        any::<char>(),
    ];
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::DeleteChar),
        1 => any::<Index>().prop_map(Mutation::DuplicateChar),
        1 => (any::<Index>(), character).prop_map(|(i, c)| Mutation::ReplaceChar(i, c)),
        4 => (any::<Index>(), scalar()).prop_map(|(i, s)| Mutation::ReplaceValue(i, s)),
        1 => (any::<Index>(), -4i8..=4).prop_map(|(i, d)| Mutation::Reindent(i, d)),
        2 => (any::<Index>(), 0usize..7, key(), scalar())
            .prop_map(|(i, indent, k, v)| Mutation::InsertLine(i, indent, k, v)),
        1 => any::<Index>().prop_map(Mutation::DeleteLine),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match mutation {
        Mutation::DeleteChar(i) if !chars.is_empty() => {
            chars.remove(i.index(chars.len()));
        }
        Mutation::DuplicateChar(i) if !chars.is_empty() => {
            let at = i.index(chars.len());
            chars.insert(at, chars[at]);
        }
        Mutation::ReplaceChar(i, c) if !chars.is_empty() => {
            let at = i.index(chars.len());
            chars[at] = *c;
        }
        Mutation::ReplaceValue(i, value) if !lines.is_empty() => {
            let at = i.index(lines.len());
            lines[at] = match lines[at].split_once(':') {
                Some((key, _)) => format!("{key}: {value}"),
                None => value.clone(),
            };
        }
        Mutation::Reindent(i, delta) if !lines.is_empty() => {
            let at = i.index(lines.len());
            let line = &lines[at];
            lines[at] = if *delta >= 0 {
                format!("{}{line}", " ".repeat(delta.unsigned_abs().into()))
            } else {
                let indent = line.len() - line.trim_start_matches(' ').len();
                line[indent.min(delta.unsigned_abs().into())..].to_owned()
            };
        }
        Mutation::InsertLine(i, indent, key, value) => {
            let at = i.index(lines.len() + 1);
            lines.insert(at, format!("{}{key}: {value}", " ".repeat(*indent)));
        }
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i.index(lines.len()));
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
        }
        _ => return text.to_owned(),
    }
    match mutation {
        Mutation::DeleteChar(_) | Mutation::DuplicateChar(_) | Mutation::ReplaceChar(..) => {
            chars.into_iter().collect()
        }
        _ => lines.join("\n") + "\n",
    }
}

/// The valid profile after one to four edits.
fn mutated() -> impl Strategy<Value = String> {
    prop::collection::vec(mutation(), 1..=4).prop_map(|mutations| {
        mutations
            .iter()
            .fold(VALID_PROFILE.to_owned(), |text, m| apply(&text, m))
    })
}

const INTEGERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "8",
    "9",
    "100",
    "262143",
    "262144",
    "1000000",
    "100000000",
    "2147483647",
    "4294967295",
    "4294967296",
    "-1",
];
const BYTES: &[&str] = &[
    "0",
    "1",
    "1023",
    "1Ki",
    "512Mi",
    "1Gi",
    "2Gi",
    "4Gi",
    "50Gi",
    "100Gi",
    "1Ti",
    "16383Pi",
    "9223372036854775807",
    "18446744073709551615",
];
const CPUS: &[&str] = &[
    "1m",
    "250m",
    "999m",
    "1",
    "2",
    "64",
    "0.001",
    "1000000000m",
    "4294967.295",
    "18446744073709551",
];
const BOOLEANS: &[&str] = &["true", "false", "yes", "no", "on", "~"];
const IMAGES: &[&str] = &[
    "postgres:15",
    "postgres:17",
    "postgres:18",
    "postgres:18-alpine",
    "postgres:99",
    "postgres:4294967296",
    "registry.example:5000/postgres:18.1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "quay.io/x/y:v1",
];
const STRINGS: &[&str] = &[
    "aws-large",
    "dev",
    "fuzz",
    "x",
    "\"\"",
    "\"*/5 * * * *\"",
    "\"0 0 31 2 *\"",
    "\"61 2 * * *\"",
    "monitoring",
    "kube-system",
    "a.b.c",
    "Fast_SSD",
];

/// Values of the type a key takes, to get past the parser into validation
/// and the object builders.
fn values_for(key: &str) -> &'static [&'static str] {
    match key {
        "max_connections"
        | "superuser_reserved"
        | "web_pods"
        | "worker_pods"
        | "per_pod"
        | "safety_margin_percent"
        | "slow_query_ms"
        | "retention_days"
        | "from_app_pods"
        | "replicas"
        | "read_replicas" => INTEGERS,
        "size" | "memory" | "shm_size" | "max_slot_wal_keep_size" | "max_wal_size" => BYTES,
        "cpu" => CPUS,
        "ssd" | "dev_credentials" | "enabled" | "exporter" | "service_monitor" | "spread_zones" => {
            BOOLEANS
        }
        "image" | "exporter_image" => IMAGES,
        _ => STRINGS,
    }
}

/// The valid profile with one to three of its values replaced, mostly by
/// values of the right type.
fn revalued() -> impl Strategy<Value = String> {
    let change = (
        any::<Index>(),
        any::<Index>(),
        prop::bool::weighted(0.8),
        scalar(),
    );
    prop::collection::vec(change, 1..=3).prop_map(|changes| {
        let mut lines: Vec<String> = VALID_PROFILE.lines().map(str::to_owned).collect();
        let leaves: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, line)| {
                line.split_once(':')
                    .is_some_and(|(key, value)| !key.starts_with('#') && !value.trim().is_empty())
            })
            .map(|(i, _)| i)
            .collect();
        for (line, pick, typed, scalar) in changes {
            let at = leaves[line.index(leaves.len())];
            let (key, _) = lines[at].split_once(':').unwrap();
            let value = if typed {
                let values = values_for(key.trim());
                values[pick.index(values.len())].to_owned()
            } else {
                scalar
            };
            lines[at] = format!("{key}: {value}");
        }
        lines.join("\n") + "\n"
    })
}

/// A directory with `profiles/`, where palgen runs.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::create_dir(dir.path().join("profiles")).unwrap();
    dir
}

fn palgen(dir: &Path, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palgen"))
        .current_dir(dir)
        .args(["--profiles-dir", "profiles", command, "--profile", "fuzz"])
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("palgen runs")
}

/// Text of the YAML library's own messages (written for programmers) and of
/// palgen's fallbacks that quote them.
const LIBRARY_WORDS: [&str; 10] = [
    "mapping start",
    "scalar",
    "deserialize",
    "Option<",
    "DuplicateKeyPolicy",
    "unknown field",
    "serde",
    "saphyr",
    "not valid here (",
    "not valid YAML (",
];

/// What any run of palgen must satisfy, whatever its input.
fn check_output(output: &Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err("palgen panicked".to_owned());
    }
    match output.status.code() {
        Some(0) if stderr.is_empty() && !output.stdout.is_empty() => Ok(()),
        Some(0) => Err("exit 0 with output on stderr, or nothing on stdout".to_owned()),
        Some(2) if stderr.lines().count() != 1 || !stderr.ends_with('\n') => {
            Err("exit 2 without exactly one line on stderr".to_owned())
        }
        Some(2) if !stderr.starts_with("palgen: error: ") => {
            Err("the error does not start with `palgen: error: `".to_owned())
        }
        Some(2) if !stderr.contains(FILE_NAME) => {
            Err(format!("the error does not name the file {FILE_NAME}"))
        }
        Some(2) if LIBRARY_WORDS.iter().any(|words| stderr.contains(words)) => {
            Err("the error is in the YAML library's words, not palgen's".to_owned())
        }
        Some(2) => Ok(()),
        _ => Err(format!("unexpected {}", output.status)),
    }
}

/// Writes the input as the profile `fuzz`, shows it and, when it is valid,
/// builds it; fails with the input and output on any violation.
fn run_input(dir: &Path, input: &[u8]) -> Result<(), TestCaseError> {
    fs::write(dir.join("profiles").join(FILE_NAME), input).unwrap();
    for command in ["show", "build"] {
        let output = palgen(dir, command);
        if let Err(problem) = check_output(&output) {
            return Err(TestCaseError::fail(format!(
                "{problem}\ncommand: palgen --profiles-dir profiles {command} --profile fuzz\n\
                 --- input ({} bytes) ---\n{}\nstatus: {}\n--- stderr ---\n{}",
                input.len(),
                String::from_utf8_lossy(input),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        if output.status.code() != Some(0) {
            break;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]
    #[test]
    fn random_bytes_never_crash_palgen(input in bytes()) {
        let dir = workspace();
        run_input(dir.path(), &input)?;
    }
}

proptest! {
    #![proptest_config(config(96))]
    #[test]
    fn random_yaml_never_crashes_palgen(input in yamlish()) {
        let dir = workspace();
        run_input(dir.path(), input.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(config(160))]
    #[test]
    fn mutated_profiles_never_crash_palgen(input in mutated()) {
        let dir = workspace();
        run_input(dir.path(), input.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(config(256))]
    #[test]
    fn profiles_with_random_values_never_crash_palgen(input in revalued()) {
        let dir = workspace();
        run_input(dir.path(), input.as_bytes())?;
    }
}

/// The mutations start from a profile palgen accepts, so that they reach
/// validation and the object builders, not only the parser.
#[test]
fn the_profile_mutations_start_from_is_valid() {
    let dir = workspace();
    fs::write(dir.path().join("profiles").join(FILE_NAME), VALID_PROFILE).unwrap();
    for command in ["show", "build"] {
        let output = palgen(dir.path(), command);
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The property rejects what a crash looks like, so it is not vacuous.
#[cfg(unix)]
#[test]
fn the_property_rejects_a_panic_and_a_vague_error() {
    use std::os::unix::process::ExitStatusExt;
    let output = |code: i32, stderr: &str| Output {
        status: std::process::ExitStatus::from_raw(code << 8),
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
    };
    let panic = "\nthread 'main' panicked at src/settings.rs:155:9:\nattempt to add with overflow\n\
                 note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
    assert!(check_output(&output(101, panic)).is_err());
    assert!(
        check_output(&output(
            2,
            "palgen: error: profiles/builtin/base.yaml:17: x\n"
        ))
        .is_err()
    );
    assert!(check_output(&output(2, "palgen: error: a\nb\n")).is_err());
    assert!(
        check_output(&output(
            2,
            "palgen: error: profiles/fuzz.yaml:1:1: expected mapping start\n"
        ))
        .is_err()
    );
    assert!(check_output(&output(1, "palgen: error: profiles/fuzz.yaml:1: x\n")).is_err());
    let killed = Output {
        status: std::process::ExitStatus::from_raw(9),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    assert!(check_output(&killed).is_err());
    assert!(
        check_output(&output(
            2,
            "palgen: error: profiles/fuzz.yaml:3:9: size: bad\n"
        ))
        .is_ok()
    );
}
