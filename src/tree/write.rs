//! Writes a generated tree to disk: atomically per file, never touching a
//! file palgen did not write, and removing the files it wrote before that
//! are no longer generated.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

use super::generate::Tree;
use super::scan;
use crate::kustomize::{BASE_DIR, COMPONENTS_DIR, OVERLAYS_DIR};
use crate::yaml;

#[derive(Debug, Default)]
pub struct Summary {
    pub written: Vec<PathBuf>,
    pub unchanged: usize,
    pub removed: Vec<PathBuf>,
}

/// What a render will do, decided before anything is written.
#[derive(Default)]
struct Plan {
    /// Every file palgen generates, relative to the output directory.
    generated: BTreeSet<PathBuf>,
    /// Generated files that are missing or differ on disk.
    to_write: BTreeSet<PathBuf>,
    unchanged: usize,
}

/// Renders the base and the named overlays into `out`. `also_owned` are
/// directories palgen owns beyond those (overlays of removed profiles): their
/// generated files are stale.
///
/// Everything is decided before the first write, so a refusal leaves the
/// directory exactly as it was. The tree is generated twice when files must
/// be written (once to plan, once to write) rather than held in memory.
/// `before_writing` sees the profiles whose built objects may change (all
/// of them when the base does) and may still refuse.
pub fn write(
    out: &Path,
    tree: &Tree<'_>,
    profile_names: &[String],
    also_owned: &[PathBuf],
    before_writing: impl FnOnce(&[String]) -> Result<()>,
) -> Result<Summary> {
    if out.exists() && !out.is_dir() {
        bail!("{} is not a directory", out.display());
    }
    let plan = Mutex::new(Plan::default());
    tree.each_directory(profile_names, |dir| {
        check_directory_path(out, &dir.path)?;
        for (name, text) in &dir.files {
            let relative = dir.path.join(name);
            let unchanged = check_target(out, &relative, text)?;
            let mut plan = plan.lock().expect("no thread panics holding the plan");
            if unchanged {
                plan.unchanged += 1;
            } else {
                plan.to_write.insert(relative.clone());
            }
            plan.generated.insert(relative);
        }
        Ok(())
    })?;
    let plan = plan
        .into_inner()
        .expect("no thread panics holding the plan");

    let mut owned = Tree::owned_paths(profile_names);
    owned.extend(also_owned.iter().cloned());
    let stale = scan::stale_files(out, &owned, &plan.generated)?;

    if !plan.to_write.is_empty() {
        let needed: Vec<String> = profile_names
            .iter()
            .filter(|name| {
                let dir = Path::new(OVERLAYS_DIR).join(name);
                plan.to_write
                    .iter()
                    .any(|path| path.parent() == Some(dir.as_path()))
            })
            .cloned()
            .collect();
        let base_changes = plan
            .to_write
            .iter()
            .any(|path| path.starts_with(BASE_DIR) || path.starts_with(COMPONENTS_DIR));
        before_writing(if base_changes { profile_names } else { &needed })?;
        tree.each_directory(&needed, |dir| {
            for (name, text) in &dir.files {
                let relative = dir.path.join(name);
                if plan.to_write.contains(&relative) {
                    write_atomically(&out.join(&relative), text)?;
                }
            }
            Ok(())
        })?;
    }
    for relative in &stale {
        let path = out.join(relative);
        fs::remove_file(&path)
            .with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    // A directory left empty by that (the overlay of a removed profile) goes
    // too; one that still holds someone's file stays.
    for dir in also_owned {
        let _ = fs::remove_dir(out.join(dir));
    }
    Ok(Summary {
        written: plan.to_write.into_iter().collect(),
        unchanged: plan.unchanged,
        removed: stale,
    })
}

/// The generated files' directory and its parents, where they exist, are
/// directories.
fn check_directory_path(out: &Path, dir: &Path) -> Result<()> {
    for ancestor in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        let directory = out.join(ancestor);
        if directory.exists() && !directory.is_dir() {
            bail!(
                "{} is not a directory; palgen must write {} there",
                directory.display(),
                out.join(dir).display()
            );
        }
    }
    Ok(())
}

/// Whether palgen may write `relative`, and whether it is already as
/// generated: each existing file is read once, for both.
fn check_target(out: &Path, relative: &Path, text: &str) -> Result<bool> {
    let path = out.join(relative);
    let Ok(metadata) = fs::symlink_metadata(&path) else {
        return Ok(false);
    };
    if metadata.is_dir() {
        bail!(
            "{} is a directory; palgen must write a file there",
            path.display()
        );
    }
    let old = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let first_line = old.split(|&b| b == b'\n').next().unwrap_or_default();
    if !yaml::is_generated(&String::from_utf8_lossy(first_line)) {
        bail!(
            "{} was not generated by palgen; refusing to overwrite it (move it away or delete it)",
            path.display()
        );
    }
    Ok(old == text.as_bytes())
}

/// A temporary file beside the target, renamed over it: an interrupted run
/// leaves the old file or the new one, never part of one. No fsync: the
/// files are regenerated at will and kept in git, and one sync per file made
/// a first render of many profiles take seconds.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".palgen-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    temporary
        .write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    set_readable(temporary.as_file())?;
    temporary
        .persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// tempfile creates files readable by the owner only; generated manifests
/// are ordinary repository files.
#[cfg(unix)]
fn set_readable(file: &fs::File) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .context("cannot set file permissions")
}

#[cfg(not(unix))]
fn set_readable(_file: &fs::File) -> Result<()> {
    Ok(())
}
