//! User profiles as the README documents them, and the conveniences around
//! the core commands: diff, completions, --quiet, colour.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{palgen_in, repo_root, stderr, stdout};

/// The YAML block of the README's example user profile, `acme-prod.yaml`.
fn readme_example_profile() -> String {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("# profiles/acme-prod.yaml\n")
        .expect("README shows profiles/acme-prod.yaml");
    let block = &readme[start..];
    let end = block.find("```").expect("the example block ends");
    block[..end].to_owned()
}

fn assert_status(output: &std::process::Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

#[test]
fn readme_custom_profile_renders_and_check_guards_its_overlay() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("profiles")).unwrap();
    let example = readme_example_profile();
    let profile = dir.path().join("profiles/acme-prod.yaml");
    // The example names a tag and says how to pin the digest; a pinned one
    // with a placeholder digest is refused, naming the line and the value.
    let pinned = |digest: &str| {
        example.replacen(
            "image: postgres:18.1",
            &format!("image: postgres:18.1@sha256:{digest}"),
            1,
        )
    };
    assert!(pinned("x") != example, "the example names postgres:18.1");
    for placeholder in ["<digest>", &"0".repeat(64)] {
        fs::write(&profile, pinned(placeholder)).unwrap();
        let refused = palgen_in(dir.path(), &["render", "--profile", "acme-prod"]);
        assert_status(&refused, 2, "render of a placeholder digest");
        assert!(
            stderr(&refused).contains("profiles/acme-prod.yaml:")
                && stderr(&refused).contains(placeholder),
            "{}",
            stderr(&refused)
        );
    }
    // As written, and pinned to a digest of the right form.
    fs::write(&profile, pinned(&"0123456789abcdef".repeat(4))).unwrap();
    let pinned_render = palgen_in(dir.path(), &["render", "--profile", "acme-prod"]);
    assert_status(&pinned_render, 0, "render of the pinned example");
    fs::write(&profile, &example).unwrap();

    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme-prod"]);
    assert_status(&rendered, 0, "render --profile acme-prod");
    let overlay = dir.path().join("k8s/overlays/acme-prod");
    let patch = fs::read_to_string(overlay.join("patch-statefulset-postgres.yaml")).unwrap();
    assert!(patch.contains("storage: 500Gi"), "{patch}");
    assert!(
        patch.contains("image: postgres:18.1"),
        "the example's image reaches the manifests:\n{patch}"
    );

    assert_status(
        &palgen_in(dir.path(), &["check"]),
        0,
        "check right after render",
    );

    let backup = overlay.join("patch-cronjob-postgres-backup.yaml");
    let text = fs::read_to_string(&backup).unwrap();
    fs::write(&backup, text.replace("0 3 * * *", "0 4 * * *")).unwrap();
    let check = palgen_in(dir.path(), &["check"]);
    assert_status(&check, 1, "check after editing the custom overlay");
    assert!(
        stdout(&check)
            .contains("--- committed/overlays/acme-prod/patch-cronjob-postgres-backup.yaml"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn extends_chains_and_show_names_the_file_of_each_value() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    fs::create_dir(&profiles).unwrap();
    fs::write(
        profiles.join("team.yaml"),
        "extends: gcp\nstorage:\n  size: 30Gi\nbackup:\n  offsite:\n    gcp_service_account: paless-backup@team-project.iam.gserviceaccount.com\n",
    )
    .unwrap();
    fs::write(
        profiles.join("team-eu.yaml"),
        "extends: team\npostgres:\n  slow_query_ms: 250\n",
    )
    .unwrap();
    let show = palgen_in(
        dir.path(),
        &["show", "--profile", "team-eu", "--format", "json"],
    );
    assert_status(&show, 0, "show of a two-level chain");
    let json: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(json["settings"]["storage"]["size"], "30Gi");
    assert_eq!(
        json["settings"]["storage"]["class"],
        "paless-postgres-balanced"
    );
    assert_eq!(json["settings"]["postgres"]["slow_query_ms"], 250);
    let sources = &json["sources"];
    let source = |key: &str| sources[key].as_str().unwrap_or_default().to_owned();
    assert!(source("storage.size").ends_with("team.yaml:3"), "{sources}");
    assert!(
        source("postgres.slow_query_ms").ends_with("team-eu.yaml:3"),
        "{sources}"
    );
    assert_eq!(
        source("storage.class"),
        "profiles/builtin/platforms/gcp.yaml:5"
    );

    let list = palgen_in(dir.path(), &["list"]);
    assert!(
        stdout(&list).lines().any(|l| l.starts_with("team-eu ")),
        "{}",
        stdout(&list)
    );
}

#[test]
fn diff_shows_settings_then_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let diff = palgen_in(dir.path(), &["diff", "aws-medium", "aws-large"]);
    assert_status(&diff, 0, "diff aws-medium aws-large");
    let text = stdout(&diff);
    assert!(
        text.starts_with("settings: aws-medium -> aws-large\n"),
        "{text}"
    );
    assert!(
        text.contains("  settings.resources.limits.memory: 2Gi -> 4Gi\n"),
        "{text}"
    );
    assert!(
        text.contains("  settings.replication.read_replicas: 0 -> 2\n"),
        "{text}"
    );
    assert!(
        text.contains("\nmanifests: aws-medium -> aws-large\n--- aws-medium\n+++ aws-large\n"),
        "{text}"
    );
    assert!(text.contains("\n+  name: postgres-replica\n"), "{text}");

    let same = stdout(&palgen_in(dir.path(), &["diff", "gcp", "gcp-small"]));
    assert_eq!(same.matches("(no difference)").count(), 2, "{same}");

    let unknown = palgen_in(dir.path(), &["diff", "aws-medium", "nope"]);
    assert_status(&unknown, 2, "diff with an unknown profile");
}

#[test]
fn completions_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = palgen_in(dir.path(), &["completions", shell]);
        assert_status(&script, 0, shell);
        let text = stdout(&script);
        for word in ["render", "check", "build", "show", "profiles-dir"] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
    }
    assert_status(
        &palgen_in(dir.path(), &["completions", "tcsh"]),
        2,
        "unknown shell",
    );
}

#[test]
fn quiet_prints_nothing_on_success_but_still_reports_drift() {
    let dir = tempfile::tempdir().unwrap();
    let render = palgen_in(dir.path(), &["--quiet", "render", "--profile", "dev"]);
    assert_status(&render, 0, "quiet render");
    assert_eq!(stdout(&render), "");
    let check = palgen_in(dir.path(), &["check", "-q"]);
    assert_status(&check, 0, "quiet check");
    assert_eq!(stdout(&check), "");
    fs::remove_file(dir.path().join("k8s/base/postgresql.conf")).unwrap();
    let drift = palgen_in(dir.path(), &["check", "--quiet"]);
    assert_status(&drift, 1, "quiet check with drift");
    assert!(
        stdout(&drift).contains("missing: base/postgresql.conf"),
        "{}",
        stdout(&drift)
    );
}

/// Runs palgen under a pseudo-terminal (util-linux `script`), as a person would.
fn on_terminal(dir: &Path, args: &str, no_color: bool) -> String {
    let binary = env!("CARGO_BIN_EXE_palgen");
    let mut command = Command::new("script");
    command
        .current_dir(dir)
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{binary} {args}"))
        .arg("/dev/null")
        .env_remove("NO_COLOR");
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let output = command.output().expect("util-linux `script` runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn diffs_are_coloured_only_on_a_terminal_without_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let coloured = on_terminal(dir.path(), "diff aws-small gcp-small", false);
    assert!(
        coloured.contains("\u{1b}[31m") || coloured.contains("\u{1b}[32m"),
        "{coloured:?}"
    );
    let plain = on_terminal(dir.path(), "diff aws-small gcp-small", true);
    assert!(
        plain.contains("+++ gcp-small") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let piped = palgen_in(dir.path(), &["diff", "aws-small", "gcp-small"]);
    assert!(!stdout(&piped).contains('\u{1b}'));
}

#[test]
fn every_overlay_has_a_readme_with_a_mermaid_diagram() {
    let tree = common::render_all();
    for profile in common::PROFILES {
        let readme =
            fs::read_to_string(tree.path().join("overlays").join(profile).join("README.md"))
                .unwrap_or_else(|e| panic!("{profile}: {e}"));
        assert!(
            readme.contains(&format!("# Overlay `{profile}`")),
            "{profile}"
        );
        assert!(readme.contains("```mermaid\nflowchart LR\n"), "{profile}");
        assert!(
            readme.contains(&format!("kubectl apply -k k8s/overlays/{profile}")),
            "{profile}"
        );
        let pooled = readme.contains("app -->|\"pgbouncer:5432\"| pooler");
        assert_eq!(
            pooled,
            !profile.ends_with("-small"),
            "{profile}: PgBouncer from medium on"
        );
    }
}
