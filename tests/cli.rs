//! The command line contract: every command, every exit code,
//! and the guarantees of `render` and `check` about the files on disk.

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use serde_json::Value;

use common::{PROFILES, objects_by_identity, render_all, repo_root};

const EXIT_OK: i32 = 0;
const EXIT_DRIFT: i32 = 1;
const EXIT_BAD_INPUT: i32 = 2;

// ---------------------------------------------------------------------------
// Running palgen, with failure messages that show what it printed.

/// One finished palgen run; `Display` shows the command, status and output,
/// so every assertion message says what palgen actually did.
struct Run {
    command: String,
    output: Output,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn stdout(&self) -> String {
        String::from_utf8(self.output.stdout.clone()).expect("stdout is UTF-8")
    }

    fn stderr(&self) -> String {
        String::from_utf8(self.output.stderr.clone()).expect("stderr is UTF-8")
    }

    #[track_caller]
    fn expect_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(expected),
            "expected exit {expected}\n{self}"
        );
        self.expect_no_panic();
        self
    }

    #[track_caller]
    fn expect_no_panic(&self) -> &Self {
        let stderr = self.stderr();
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "palgen panicked\n{self}"
        );
        self
    }

    /// A bad-input error: exit 2, exactly one line on stderr, nothing on stdout.
    #[track_caller]
    fn expect_one_line_error(&self) -> String {
        self.expect_code(EXIT_BAD_INPUT);
        let stderr = self.stderr();
        assert_eq!(
            stderr.lines().count(),
            1,
            "expected a one-line error on stderr\n{self}"
        );
        assert!(
            stderr.starts_with("palgen: error: "),
            "expected `palgen: error: ...`\n{self}"
        );
        assert_eq!(self.stdout(), "", "an error run printed on stdout\n{self}");
        stderr
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }
}

/// Runs palgen in `dir`, or else in an empty directory: palgen reads user
/// profiles from `./profiles` when it exists, and these tests are about the
/// built-in ones wherever `cargo test` runs.
fn run_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let empty = tempfile::tempdir().expect("temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_palgen"));
    command.args(args);
    command.current_dir(dir.unwrap_or(empty.path()));
    // A backtrace would hide the one-line error the tests look for.
    command.env_remove("RUST_BACKTRACE");
    let output = command.output().expect("palgen runs");
    let mut description = format!("palgen {}", args.join(" "));
    if let Some(dir) = dir {
        description.push_str(&format!("  (in {})", dir.display()));
    }
    Run {
        command: description,
        output,
    }
}

fn run(args: &[&str]) -> Run {
    run_in(None, args)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temporary path")
}

// ---------------------------------------------------------------------------
// Looking at directories.

/// Every file under `root` by relative path (with `/`), with its bytes.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files_under(root, root)
        .into_iter()
        .map(|relative| {
            let bytes = fs::read(root.join(&relative)).expect("readable file");
            (relative, bytes)
        })
        .collect()
}

/// Everything observable about a directory: every entry (directories
/// included) with its bytes and modification time, so a rewrite with
/// identical content, a new empty directory or a leftover temporary file all
/// count as changes.
#[derive(Debug, PartialEq)]
enum Entry {
    Dir,
    File(Vec<u8>, SystemTime),
}

fn fingerprint(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut entries = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                pending.push(path);
                entries.insert(relative, Entry::Dir);
            } else {
                let modified = fs::metadata(&path).unwrap().modified().unwrap();
                entries.insert(relative, Entry::File(fs::read(&path).unwrap(), modified));
            }
        }
    }
    entries
}

#[track_caller]
fn assert_unchanged(before: &BTreeMap<PathBuf, Entry>, root: &Path, run: &Run) {
    let after = fingerprint(root);
    let mut differences = Vec::new();
    for (path, entry) in before {
        match after.get(path) {
            None => differences.push(format!("removed: {}", path.display())),
            Some(now) if now != entry => differences.push(format!("changed: {}", path.display())),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        differences.push(format!("added: {}", path.display()));
    }
    assert!(
        differences.is_empty(),
        "the directory changed:\n  {}\n{run}",
        differences.join("\n  ")
    );
}

#[track_caller]
fn assert_same_trees(expected: &Path, actual: &Path, context: &str) {
    let expected_files = read_tree(expected);
    let actual_files = read_tree(actual);
    let only_expected: Vec<_> = expected_files
        .keys()
        .filter(|k| !actual_files.contains_key(*k))
        .collect();
    let only_actual: Vec<_> = actual_files
        .keys()
        .filter(|k| !expected_files.contains_key(*k))
        .collect();
    assert!(
        only_expected.is_empty() && only_actual.is_empty(),
        "{context}: different file sets\n  only in {}: {only_expected:?}\n  only in {}: {only_actual:?}",
        expected.display(),
        actual.display()
    );
    for (name, bytes) in &expected_files {
        let other = &actual_files[name];
        if bytes != other {
            let first_difference = bytes
                .iter()
                .zip(other.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(bytes.len().min(other.len()));
            panic!(
                "{context}: {name} differs ({} vs {} bytes, first difference at byte {first_difference})\n\
                 --- {} ---\n{}\n--- {} ---\n{}",
                bytes.len(),
                other.len(),
                expected.join(name).display(),
                String::from_utf8_lossy(bytes),
                actual.join(name).display(),
                String::from_utf8_lossy(other)
            );
        }
    }
}

/// `render --all` into a fresh temporary directory; returns it and `DIR`.
fn rendered() -> (tempfile::TempDir, PathBuf) {
    let tree = render_all();
    let out = tree.path().to_path_buf();
    (tree, out)
}

fn header_line() -> String {
    let committed = fs::read_to_string(repo_root().join("k8s/base/kustomization.yaml"))
        .expect("committed base kustomization");
    committed.lines().next().unwrap().to_string()
}

// ---------------------------------------------------------------------------
// render

#[test]
fn render_all_into_empty_dir_reproduces_committed_k8s() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k8s");
    run(&["render", "--all", "--out", path_str(&out)]).expect_code(EXIT_OK);
    assert_same_trees(
        &repo_root().join("k8s"),
        &out,
        "committed k8s/ vs a fresh `palgen render --all` (run `palgen render --all` and commit)",
    );
}

#[test]
fn rendering_twice_is_byte_identical_and_the_second_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k8s");
    let first = run(&["render", "--all", "--out", path_str(&out)]);
    first.expect_code(EXIT_OK);
    let files = read_tree(&out);
    assert!(
        first
            .stdout()
            .contains(&format!("{} written, 0 unchanged, 0 removed", files.len())),
        "first render should report every file written\n{first}"
    );
    let before = fingerprint(&out);

    let second = run(&["render", "--all", "--out", path_str(&out)]);
    second.expect_code(EXIT_OK);
    assert!(
        !second.stdout().contains("wrote "),
        "second render wrote files\n{second}"
    );
    assert!(
        second
            .stdout()
            .contains(&format!("0 written, {} unchanged, 0 removed", files.len())),
        "second render should report every file unchanged\n{second}"
    );
    // Same bytes, and not even rewritten (modification times unchanged).
    assert_unchanged(&before, &out, &second);

    // A third render into another directory gives the same bytes.
    let other = tempfile::tempdir().unwrap();
    run(&["render", "--all", "--out", path_str(other.path())]).expect_code(EXIT_OK);
    assert_same_trees(&out, other.path(), "two renders");
}

#[test]
fn render_bare_platform_writes_its_small_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&["render", "--profile", "aws", "--out", path_str(dir.path())]);
    r.expect_code(EXIT_OK);
    let overlays: Vec<_> = fs::read_dir(dir.path().join("overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(overlays, ["aws-small"], "{r}");
    // Byte for byte the committed base and aws-small overlay.
    assert_same_trees(
        &repo_root().join("k8s/base"),
        &dir.path().join("base"),
        "base",
    );
    assert_same_trees(
        &repo_root().join("k8s/overlays/aws-small"),
        &dir.path().join("overlays/aws-small"),
        "overlays/aws-small",
    );
}

#[test]
fn render_with_repeated_profile_writes_each_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&[
        "render",
        "--profile",
        "dev-large",
        "--profile",
        "gcp",
        "--profile",
        "azure-medium",
        "--out",
        path_str(dir.path()),
    ]);
    r.expect_code(EXIT_OK);
    let mut overlays: Vec<_> = fs::read_dir(dir.path().join("overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    overlays.sort();
    assert_eq!(overlays, ["azure-medium", "dev-large", "gcp-small"], "{r}");
    for overlay in &overlays {
        assert_same_trees(
            &repo_root().join("k8s/overlays").join(overlay),
            &dir.path().join("overlays").join(overlay),
            overlay,
        );
    }
    // `check` regenerates just the overlays present: this partial tree is clean.
    run(&["check", "--out", path_str(dir.path())]).expect_code(EXIT_OK);
}

#[test]
fn render_with_the_same_profile_named_twice_renders_it_once() {
    // `aws` and `aws-small` are one profile, named twice and not adjacently.
    let (_tree, out) = rendered();
    let stale = out.join("overlays/aws-small/storageclass-old.yaml");
    fs::copy(
        out.join("overlays/aws-small/storageclass-paless-postgres-gp3.yaml"),
        &stale,
    )
    .unwrap();
    let r = run(&[
        "render",
        "--profile",
        "aws-small",
        "--profile",
        "gcp",
        "--profile",
        "aws",
        "--out",
        path_str(&out),
    ]);
    r.expect_code(EXIT_OK);
    assert!(!stale.exists(), "the stale file was not removed\n{r}");
    assert!(
        r.stdout().contains("rendered aws-small, gcp-small into"),
        "each profile should be rendered (and named) once\n{r}"
    );
}

#[test]
fn render_removes_the_stale_files_it_wrote() {
    let (_tree, out) = rendered();
    // Generated files palgen no longer generates: copies carry its header.
    let stale_overlay = out.join("overlays/aws-large/storageclass-old.yaml");
    fs::copy(
        out.join("overlays/aws-small/storageclass-paless-postgres-gp3.yaml"),
        &stale_overlay,
    )
    .unwrap();
    let stale_base = out.join("base/configmap-old.yaml");
    fs::copy(out.join("base/service-postgres.yaml"), &stale_base).unwrap();

    let r = run(&["render", "--all", "--out", path_str(&out)]);
    r.expect_code(EXIT_OK);
    assert!(!stale_overlay.exists(), "stale overlay file kept\n{r}");
    assert!(!stale_base.exists(), "stale base file kept\n{r}");
    for name in [
        "overlays/aws-large/storageclass-old.yaml",
        "base/configmap-old.yaml",
    ] {
        assert!(
            r.stdout()
                .contains(&format!("removed {}", out.join(name).display())),
            "render should say it removed {name}\n{r}"
        );
    }
    assert!(r.stdout().contains(" 2 removed"), "{r}");
    assert_same_trees(&repo_root().join("k8s"), &out, "after removing stale files");
}

#[test]
fn render_leaves_a_foreign_extra_file_alone() {
    let (_tree, out) = rendered();
    let notes = out.join("overlays/aws-large/NOTES.md");
    let text = "# Notes\nNot generated by palgen; keep me.\n";
    fs::write(&notes, text).unwrap();
    // Even a file that mentions palgen's header, but not on its first line.
    let mention = out.join("base/README.txt");
    let mention_text = format!("see below\n{}\n", header_line());
    fs::write(&mention, &mention_text).unwrap();

    let r = run(&["render", "--all", "--out", path_str(&out)]);
    r.expect_code(EXIT_OK);
    assert_eq!(
        fs::read_to_string(&notes).ok().as_deref(),
        Some(text),
        "{r}"
    );
    assert_eq!(fs::read_to_string(&mention).ok(), Some(mention_text), "{r}");
    assert!(!r.stdout().contains("removed "), "{r}");
    // Nor does `check` count them as drift.
    run(&["check", "--out", path_str(&out)]).expect_code(EXIT_OK);
}

#[test]
fn render_refuses_to_overwrite_a_foreign_file_and_changes_nothing() {
    let (_tree, out) = rendered();
    // A foreign file (no palgen header) where palgen generates one...
    let foreign = out.join("overlays/aws-large/postgresql.conf");
    fs::write(&foreign, "# my own tuning\nshared_buffers = 3GB\n").unwrap();
    // ...and other work render would otherwise do: a file to rewrite (sorted
    // before the foreign one), a file to recreate, a stale file to remove.
    let edited = out.join("base/statefulset-postgres.yaml");
    let edited_text = fs::read_to_string(&edited)
        .unwrap()
        .replace("replicas: 1", "replicas: 3");
    fs::write(&edited, edited_text).unwrap();
    fs::remove_file(out.join("base/service-postgres.yaml")).unwrap();
    fs::copy(
        out.join("overlays/aws-small/storageclass-paless-postgres-gp3.yaml"),
        out.join("overlays/aws-large/storageclass-old.yaml"),
    )
    .unwrap();
    let before = fingerprint(&out);

    let r = run(&["render", "--all", "--out", path_str(&out)]);
    let message = r.expect_one_line_error();
    assert!(
        message.contains(&foreign.display().to_string()),
        "the error should name {}\n{r}",
        foreign.display()
    );
    assert_unchanged(&before, &out, &r);
}

#[test]
fn render_refuses_a_foreign_file_for_a_single_profile_too() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("overlays/gcp-small/kustomization.yaml");
    fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    fs::write(&foreign, "resources: [../../base]\n").unwrap();
    let before = fingerprint(dir.path());

    let r = run(&["render", "--profile", "gcp", "--out", path_str(dir.path())]);
    let message = r.expect_one_line_error();
    assert!(message.contains(&foreign.display().to_string()), "{r}");
    assert_unchanged(&before, dir.path(), &r);
}

#[test]
fn render_stops_before_writing_when_a_foreign_file_blocks_a_directory() {
    // A foreign regular file where palgen needs its `overlays` directory:
    // render cannot proceed, and must say so before writing anything
    // (not write base/ first and fail on the overlays).
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("overlays");
    fs::write(&blocker, "not a directory\n").unwrap();
    let before = fingerprint(dir.path());

    let r = run(&["render", "--all", "--out", path_str(dir.path())]);
    let message = r.expect_one_line_error();
    assert!(
        message.contains(&blocker.display().to_string()),
        "the error should name {}\n{r}",
        blocker.display()
    );
    assert_unchanged(&before, dir.path(), &r);
}

#[test]
fn render_into_a_path_under_a_regular_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "a regular file\n").unwrap();
    let out = file.join("k8s");
    let r = run(&["render", "--all", "--out", path_str(&out)]);
    let message = r.expect_one_line_error();
    assert!(
        message.contains(&file.display().to_string()),
        "the error should name the path it could not create\n{r}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "a regular file\n");
}

#[test]
fn render_takes_at_most_one_of_profile_and_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k8s");
    for args in [
        vec![
            "render",
            "--profile",
            "aws",
            "--all",
            "--out",
            path_str(&out),
        ],
        vec![
            "render",
            "--all",
            "--profile",
            "aws",
            "--out",
            path_str(&out),
        ],
    ] {
        let r = run(&args);
        r.expect_code(EXIT_BAD_INPUT);
        assert!(r.stderr().contains("Usage:"), "expected a usage error\n{r}");
        assert!(!out.exists(), "a usage error wrote files\n{r}");
    }
}

// ---------------------------------------------------------------------------
// Unknown profiles and other bad input.

#[test]
fn unknown_profile_is_a_one_line_error_listing_the_known_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k8s");
    for args in [
        vec!["render", "--profile", "nope", "--out", path_str(&out)],
        vec![
            "render",
            "--profile",
            "aws",
            "--profile",
            "nope",
            "--out",
            path_str(&out),
        ],
        vec!["build", "--profile", "nope"],
        vec!["show", "--profile", "nope"],
        vec!["show", "--profile", "aws-huge", "--format", "json"],
    ] {
        let r = run(&args);
        let message = r.expect_one_line_error();
        let unknown = args[args.iter().rposition(|a| *a == "--profile").unwrap() + 1];
        assert!(
            message.contains(unknown),
            "the error should name {unknown:?}\n{r}"
        );
        for known in PROFILES {
            assert!(
                message.contains(known),
                "the error should list known profile {known}\n{r}"
            );
        }
        assert!(!out.exists(), "a failed render wrote files\n{r}");
    }
}

#[test]
fn other_usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["build"],
        vec!["show"],
        vec!["show", "--profile", "aws", "--format", "xml"],
        vec!["list", "--profile", "aws"],
        vec!["check", "--bogus"],
    ] {
        let r = run(&args);
        r.expect_code(EXIT_BAD_INPUT);
        assert!(
            !r.stderr().is_empty(),
            "a usage error should explain itself\n{r}"
        );
    }
}

// ---------------------------------------------------------------------------
// check

#[test]
fn check_passes_on_the_committed_tree_with_the_default_out() {
    let root = repo_root();
    let before = fingerprint(&root.join("k8s"));
    let r = run_in(Some(&root), &["check"]);
    r.expect_code(EXIT_OK);
    assert!(r.stdout().contains("k8s is up to date"), "{r}");
    assert_unchanged(&before, &root.join("k8s"), &r);
}

#[test]
fn check_passes_on_a_fresh_render() {
    let (_tree, out) = rendered();
    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_OK);
    // Nothing but the backup identity the 9 built-in cloud profiles cannot
    // know (tests/identity.rs), once per profile.
    let stderr = r.stderr();
    assert_eq!(stderr.lines().count(), 9, "{r}");
    assert!(
        stderr
            .lines()
            .all(|line| line.starts_with("palgen: warning: ")
                && line.contains(": the off-site backup cannot authenticate")),
        "{r}"
    );
}

#[test]
fn check_shows_a_unified_diff_for_an_edited_file() {
    let (_tree, out) = rendered();
    let name = "overlays/aws-large/postgresql.conf";
    let path = out.join(name);
    let original = fs::read_to_string(&path).unwrap();
    assert!(
        original.contains("\nshared_buffers = 1GB\n"),
        "fixture assumption"
    );
    fs::write(
        &path,
        original.replace("\nshared_buffers = 1GB\n", "\nshared_buffers = 2GB\n"),
    )
    .unwrap();
    let before = fingerprint(&out);

    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_DRIFT);
    let stdout = r.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    // The diff goes from the file on disk to what palgen would write.
    for expected in [
        format!("--- committed/{name}"),
        format!("+++ generated/{name}"),
        "-shared_buffers = 2GB".to_string(),
        "+shared_buffers = 1GB".to_string(),
    ] {
        assert!(
            lines.iter().any(|line| line.trim_end() == expected),
            "expected the line {expected:?} in the diff\n{r}"
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("@@ ")),
        "no hunk header\n{r}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("--- ")).count(),
        1,
        "only the edited file should differ\n{r}"
    );
    assert!(stdout.contains("1 changed, 0 missing, 0 stale"), "{r}");
    assert_unchanged(&before, &out, &r);
}

#[test]
fn check_names_a_missing_file() {
    let (_tree, out) = rendered();
    for name in [
        "overlays/gcp-medium/patch-statefulset-postgres.yaml",
        "base/networkpolicy-postgres.yaml",
    ] {
        fs::remove_file(out.join(name)).unwrap();
    }
    let before = fingerprint(&out);

    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_DRIFT);
    for name in [
        "overlays/gcp-medium/patch-statefulset-postgres.yaml",
        "base/networkpolicy-postgres.yaml",
    ] {
        assert!(
            r.stdout()
                .lines()
                .any(|l| l.contains("missing") && l.contains(name)),
            "check should name {name} as missing\n{r}"
        );
    }
    assert!(r.stdout().contains("0 changed, 2 missing, 0 stale"), "{r}");
    assert_unchanged(&before, &out, &r);
}

#[test]
fn check_names_a_stale_generated_file() {
    let (_tree, out) = rendered();
    let name = "overlays/azure-small/patch-statefulset-postgres-old.yaml";
    fs::copy(
        out.join("overlays/azure-small/patch-statefulset-postgres.yaml"),
        out.join(name),
    )
    .unwrap();
    let before = fingerprint(&out);

    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_DRIFT);
    assert!(
        r.stdout()
            .lines()
            .any(|l| l.contains("stale") && l.contains(name)),
        "check should name {name} as stale\n{r}"
    );
    assert!(r.stdout().contains("0 changed, 0 missing, 1 stale"), "{r}");
    assert_unchanged(&before, &out, &r);
}

#[test]
fn check_reports_every_kind_of_drift_at_once_and_writes_nothing() {
    let (_tree, out) = rendered();
    let edited = out.join("base/service-postgres.yaml");
    let text = fs::read_to_string(&edited)
        .unwrap()
        .replace("port: 5432", "port: 5433");
    fs::write(&edited, text).unwrap();
    fs::remove_file(out.join("components/dev-credentials/secret-postgres-credentials.yaml"))
        .unwrap();
    fs::copy(
        out.join("base/namespace-paless.yaml"),
        out.join("base/namespace-old.yaml"),
    )
    .unwrap();
    let before = fingerprint(&out);

    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_DRIFT);
    let stdout = r.stdout();
    assert!(
        stdout.contains("--- committed/base/service-postgres.yaml"),
        "{r}"
    );
    assert!(
        stdout.contains("components/dev-credentials/secret-postgres-credentials.yaml"),
        "{r}"
    );
    assert!(stdout.contains("base/namespace-old.yaml"), "{r}");
    assert!(
        stdout.contains("edited by hand: base/service-postgres.yaml"),
        "{r}"
    );
    assert!(
        stdout.contains("1 changed, 1 missing, 1 stale, 1 edited by hand"),
        "{r}"
    );
    assert_unchanged(&before, &out, &r);

    // `render` keeps the hand edit (and so does nothing else either)...
    let r = run(&["render", "--all", "--out", path_str(&out)]);
    let message = r.expect_one_line_error();
    assert!(message.contains("base/service-postgres.yaml"), "{r}");
    assert_unchanged(&before, &out, &r);
    // ...and with --force repairs all of it.
    run(&["render", "--all", "--force", "--out", path_str(&out)]).expect_code(EXIT_OK);
    run(&["check", "--out", path_str(&out)]).expect_code(EXIT_OK);
    assert_same_trees(&repo_root().join("k8s"), &out, "after render");
}

#[test]
fn check_of_a_missing_directory_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let r = run(&["check", "--out", path_str(&missing)]);
    let message = r.expect_one_line_error();
    assert!(message.contains(&missing.display().to_string()), "{r}");
    assert!(!missing.exists(), "check created the directory\n{r}");
}

#[test]
fn check_names_the_generated_files_of_a_removed_profile_stale() {
    let (_tree, out) = rendered();
    let orphan = out.join("overlays/aws-huge");
    fs::create_dir(&orphan).unwrap();
    fs::write(orphan.join("notes.txt"), "a file of mine\n").unwrap();
    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_OK);

    fs::copy(
        out.join("overlays/aws-large/kustomization.yaml"),
        orphan.join("kustomization.yaml"),
    )
    .unwrap();
    let r = run(&["check", "--out", path_str(&out)]);
    r.expect_code(EXIT_DRIFT);
    assert!(
        r.stdout()
            .contains("stale: overlays/aws-huge/kustomization.yaml"),
        "{r}"
    );
    assert!(
        !r.stdout().contains("notes.txt"),
        "a foreign file is not palgen's to report\n{r}"
    );
}

#[test]
fn render_all_removes_the_overlay_of_a_removed_profile_but_not_foreign_files() {
    let (_tree, out) = rendered();
    let orphan = out.join("overlays/gone");
    fs::create_dir(&orphan).unwrap();
    fs::copy(
        out.join("overlays/aws-large/kustomization.yaml"),
        orphan.join("kustomization.yaml"),
    )
    .unwrap();
    let r = run(&["render", "--all", "--out", path_str(&out)]);
    r.expect_code(EXIT_OK);
    assert!(
        !orphan.exists(),
        "the emptied overlay directory is removed\n{r}"
    );

    fs::create_dir(&orphan).unwrap();
    fs::copy(
        out.join("overlays/aws-large/kustomization.yaml"),
        orphan.join("kustomization.yaml"),
    )
    .unwrap();
    fs::write(orphan.join("notes.txt"), "a file of mine\n").unwrap();
    let r = run(&["render", "--all", "--out", path_str(&out)]);
    r.expect_code(EXIT_OK);
    assert!(!orphan.join("kustomization.yaml").exists(), "{r}");
    assert_eq!(
        fs::read_to_string(orphan.join("notes.txt")).unwrap(),
        "a file of mine\n"
    );
}

// ---------------------------------------------------------------------------
// build

#[test]
fn build_prints_the_final_manifests_as_multi_document_yaml() {
    let r = run(&["build", "--profile", "aws-large"]);
    r.expect_code(EXIT_OK);
    assert_eq!(r.stderr(), "", "{r}");
    let documents: Vec<Value> = serde_saphyr::from_multiple(&r.stdout())
        .unwrap_or_else(|error| panic!("build output is not a YAML stream: {error}\n{r}"));
    assert!(documents.len() > 1, "expected several documents\n{r}");
    let objects = objects_by_identity(&r.stdout());
    for key in [
        "StatefulSet/paless/postgres",
        "StorageClass//paless-postgres-gp3",
        "Namespace//paless",
        "Service/paless/postgres",
        "ServiceAccount/paless/postgres",
        "NetworkPolicy/paless/postgres",
    ] {
        assert!(
            objects.contains_key(key),
            "missing {key}; objects: {:?}\n{r}",
            objects.keys().collect::<Vec<_>>()
        );
    }
    // The overlay's patch is applied: aws-large's class and size.
    let claim = &objects["StatefulSet/paless/postgres"]["spec"]["volumeClaimTemplates"][0];
    assert_eq!(
        claim["spec"]["storageClassName"], "paless-postgres-gp3",
        "{r}"
    );
    assert_eq!(
        claim["spec"]["resources"]["requests"]["storage"], "100Gi",
        "{r}"
    );
    // Generated ConfigMaps carry a content hash, and the StatefulSet uses it.
    let config_map = objects
        .keys()
        .find(|k| k.starts_with("ConfigMap/paless/postgres-config-"))
        .unwrap_or_else(|| panic!("no hashed postgres-config ConfigMap\n{r}"))
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        r.stdout().contains(&format!("name: {config_map}\n")),
        "the StatefulSet should mount {config_map}\n{r}"
    );
}

#[test]
fn build_is_deterministic_and_works_for_every_profile() {
    for profile in PROFILES {
        let first = run(&["build", "--profile", profile]);
        first.expect_code(EXIT_OK);
        let second = run(&["build", "--profile", profile]);
        second.expect_code(EXIT_OK);
        assert_eq!(
            first.stdout(),
            second.stdout(),
            "{profile}: build differs between runs"
        );
        let objects = objects_by_identity(&first.stdout());
        assert!(
            objects.contains_key("StatefulSet/paless/postgres"),
            "{first}"
        );
    }
    // A bare platform name builds its small size.
    assert_eq!(
        run(&["build", "--profile", "gcp"]).stdout(),
        run(&["build", "--profile", "gcp-small"]).stdout()
    );
}

#[test]
fn build_into_a_closed_pipe_is_not_a_bad_input_error() {
    // `palgen build --profile P | head -1`, or a `kubectl apply -f -` that
    // stops early: the reader going away is neither bad usage nor bad input.
    // (If palgen were to write before the pipe closes, this passes trivially.)
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palgen"))
        .args(["build", "--profile", "aws-large"])
        .current_dir(cwd.path())
        .env_remove("RUST_BACKTRACE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("palgen runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("palgen finishes");
    let r = Run {
        command: "palgen build --profile aws-large | (closed at once)".to_string(),
        output,
    };
    r.expect_no_panic();
    assert_ne!(
        r.code(),
        Some(EXIT_BAD_INPUT),
        "a closed stdout is not bad input\n{r}"
    );
    assert!(
        !r.stderr().contains("error"),
        "a closed stdout should end palgen quietly\n{r}"
    );
}

// ---------------------------------------------------------------------------
// list and show

#[test]
fn list_prints_a_header_and_one_row_per_profile() {
    let r = run(&["list"]);
    r.expect_code(EXIT_OK);
    let stdout = r.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1 + PROFILES.len(),
        "expected a header and 12 rows\n{r}"
    );
    assert!(lines[0].starts_with("PROFILE"), "no header row\n{r}");
    for (line, profile) in lines[1..].iter().zip(PROFILES) {
        assert_eq!(
            line.split_whitespace().next(),
            Some(profile),
            "rows should list the profiles in order\n{r}"
        );
    }
    assert!(
        lines[6].contains("paless-postgres-gp3") && lines[6].contains("100Gi"),
        "aws-large row\n{r}"
    );
}

/// The values `show --profile aws-medium` must explain.
fn assert_aws_medium_explained(value: &Value, r: &Run) {
    assert_eq!(value["profile"], "aws-medium", "{r}");
    let budget = &value["derived"]["connection_budget"];
    assert_eq!(budget["needed"], 30, "{r}");
    assert_eq!(budget["needed_with_margin"], 45, "{r}");
    // max_connections 100 - 3 superuser_reserved - 2 for the exporter and
    // the backup job.
    assert_eq!(budget["available"], 95, "{r}");
    assert!(
        budget["rule"].is_string(),
        "the budget should state its rule\n{r}"
    );
    let shared_buffers = &value["derived"]["postgresql"]["shared_buffers"];
    assert_eq!(shared_buffers["value"], "512MB", "{r}");
    let rule = shared_buffers["rule"].as_str().unwrap_or_default();
    assert!(
        rule.contains("2Gi") && rule.contains('4'),
        "shared_buffers should cite its rule (limit 2Gi / 4), got {rule:?}\n{r}"
    );
}

#[test]
fn show_yaml_explains_the_connection_budget_and_derived_settings() {
    let r = run(&["show", "--profile", "aws-medium"]);
    r.expect_code(EXIT_OK);
    let stdout = r.stdout();
    for text in [
        "needed: 30",
        "needed_with_margin: 45",
        "available: 95",
        "value: 512MB",
    ] {
        assert!(stdout.contains(text), "expected {text:?}\n{r}");
    }
    let value: Value = serde_saphyr::from_str(&stdout)
        .unwrap_or_else(|error| panic!("show output is not YAML: {error}\n{r}"));
    assert_aws_medium_explained(&value, &r);
    // `--format yaml` is the default.
    assert_eq!(
        run(&["show", "--profile", "aws-medium", "--format", "yaml"]).stdout(),
        stdout
    );
}

#[test]
fn show_json_has_the_same_values_as_yaml() {
    let json = run(&["show", "--profile", "aws-medium", "--format", "json"]);
    json.expect_code(EXIT_OK);
    let from_json: Value = serde_json::from_str(&json.stdout())
        .unwrap_or_else(|error| panic!("show --format json is not JSON: {error}\n{json}"));
    assert_aws_medium_explained(&from_json, &json);

    let yaml = run(&["show", "--profile", "aws-medium"]);
    let from_yaml: Value = serde_saphyr::from_str(&yaml.stdout()).expect("YAML");
    assert_eq!(
        from_json, from_yaml,
        "JSON and YAML show different settings\n{json}\n{yaml}"
    );

    // A bare platform name shows its small size.
    let bare = run(&["show", "--profile", "azure", "--format", "json"]);
    bare.expect_code(EXIT_OK);
    let bare: Value = serde_json::from_str(&bare.stdout()).expect("JSON");
    assert_eq!(bare["profile"], "azure-small");
}

// ---------------------------------------------------------------------------
// --help

#[test]
fn help_of_palgen_and_every_command_exits_0_and_names_its_options() {
    let cases: [(&[&str], &[&str]); 7] = [
        (&["--help"], &["render", "check", "build", "list", "show"]),
        (&["help"], &["render", "check", "build", "list", "show"]),
        (&["render", "--help"], &["--profile", "--all", "--out"]),
        (&["check", "--help"], &["--out"]),
        (&["build", "--help"], &["--profile"]),
        (&["list", "--help"], &["Usage: palgen list"]),
        (
            &["show", "--help"],
            &["--profile", "--format", "yaml", "json"],
        ),
    ];
    for (args, mentions) in cases {
        let r = run(args);
        r.expect_code(EXIT_OK);
        for mention in mentions {
            assert!(
                r.stdout().contains(mention),
                "help should mention {mention:?}\n{r}"
            );
        }
    }
    let version = run(&["--version"]);
    version.expect_code(EXIT_OK);
    assert!(version.stdout().starts_with("palgen "), "{version}");
}
