//! The tree a plan compares with: the output directory as committed, another
//! directory, or the output directory as it is at a git ref.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

/// A tree on disk, with what to call it in the report. A tree read from git
/// lives in a temporary directory as long as this value.
pub struct Tree {
    pub root: PathBuf,
    pub label: String,
    _extracted: Option<tempfile::TempDir>,
}

/// `against` is a directory when one exists by that name, else a git ref
/// of the repository holding `out`.
pub fn tree(out: &Path, against: Option<&str>) -> Result<Tree> {
    match against {
        None => Ok(on_disk(out)),
        Some(dir) if Path::new(dir).is_dir() => Ok(on_disk(Path::new(dir))),
        Some(reference) => at_ref(out, reference),
    }
}

fn on_disk(dir: &Path) -> Tree {
    Tree {
        root: dir.to_path_buf(),
        label: dir.display().to_string(),
        _extracted: None,
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run git (needed for --against REF)")
}

fn stdout_line(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `out` as committed at `reference`, extracted with `git archive`.
fn at_ref(out: &Path, reference: &str) -> Result<Tree> {
    // Git is asked from the nearest existing directory: `out` need not exist.
    let (anchor, rest) = if out.is_dir() {
        (out.to_path_buf(), PathBuf::new())
    } else {
        (PathBuf::from("."), out.to_path_buf())
    };
    let inside = git(&anchor, &["rev-parse", "--show-prefix"])?;
    if !inside.status.success() {
        bail!(
            "--against {reference}: no such directory, and {} is not in a git repository to read a ref from",
            anchor.display()
        );
    }
    let prefix = Path::new(&stdout_line(&inside)).join(rest);
    let commit = format!("{reference}^{{commit}}");
    let verified = git(&anchor, &["rev-parse", "--verify", "--quiet", &commit])?;
    if !verified.status.success() {
        bail!(
            "--against {reference}: no such directory, and no such git ref (commit, branch or tag)"
        );
    }
    let commit = stdout_line(&verified);
    let extracted = tempfile::tempdir().context("cannot create a temporary directory")?;
    let root = extracted.path().join(&prefix);
    let label = format!("{} at {reference}", out.display());
    let prefix_text = prefix.to_string_lossy().into_owned();
    let object = format!("{commit}:{prefix_text}");
    let exists = git(&anchor, &["cat-file", "-e", &object])?.status.success();
    if exists {
        let pathspec = if prefix_text.is_empty() {
            "."
        } else {
            &prefix_text
        };
        extract(&anchor, &commit, pathspec, extracted.path())?;
    }
    Ok(Tree {
        root,
        label,
        _extracted: Some(extracted),
    })
}

/// `git archive` piped into `tar`, both run from the repository.
fn extract(anchor: &Path, commit: &str, prefix: &str, into: &Path) -> Result<()> {
    let toplevel = stdout_line(&git(anchor, &["rev-parse", "--show-toplevel"])?);
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(&toplevel)
        .args(["archive", "--format=tar", commit, "--", prefix])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run git archive")?;
    let tar_input = archive.stdout.take().expect("stdout is piped");
    let untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(tar_input)
        .output()
        .context("cannot run tar to unpack the tree")?;
    let archived = archive.wait_with_output()?;
    if !archived.status.success() || !untar.status.success() {
        return Err(anyhow!(
            "cannot read {prefix} at {commit}: {}{}",
            String::from_utf8_lossy(&archived.stderr).trim(),
            String::from_utf8_lossy(&untar.stderr).trim()
        ));
    }
    Ok(())
}
