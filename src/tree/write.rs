//! Writes a generated tree to disk: atomically per file, never touching a
//! file palgen did not write nor one edited by hand (unless forced), and
//! removing the files it wrote before that are no longer generated.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

use super::generate::Tree;
use super::{output_dir, scan};
use crate::fingerprint::{self, Ownership};
use crate::kustomize::{BASE_DIR, COMPONENTS_DIR, OVERLAYS_DIR};

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
    /// Files to write or remove that were edited by hand.
    edited: BTreeSet<PathBuf>,
    unchanged: usize,
    /// The text of files to write, kept from planning while they fit in
    /// `BUFFER_BYTES`: those are not generated a second time.
    buffered: BTreeMap<PathBuf, String>,
    buffered_bytes: usize,
}

/// How much generated text a render keeps between planning and writing.
/// The built-in tree (about 250 kB) fits whole, so a first render makes it
/// once; beyond that, the directories are generated again to write them,
/// and memory stays flat whatever the number of profiles.
const BUFFER_BYTES: usize = 2 << 20;

impl Plan {
    fn add_to_write(&mut self, relative: &Path, text: &str) {
        self.to_write.insert(relative.to_path_buf());
        if self.buffered_bytes + text.len() <= BUFFER_BYTES {
            self.buffered_bytes += text.len();
            self.buffered
                .insert(relative.to_path_buf(), text.to_owned());
        }
    }
}

/// Renders the base and the named overlays into `out`, which the caller has
/// locked (`output_dir::lock_for_writing`). `also_owned` are directories
/// palgen owns beyond those (overlays of removed profiles): their generated
/// files are stale. Files edited by hand are replaced or removed only when
/// `force` is set; otherwise they stop the render.
///
/// Everything is decided before the first write, so a refusal leaves the
/// directory exactly as it was. Files to write are kept from planning up to
/// `BUFFER_BYTES`; the directories of the rest are generated again to write
/// them rather than held in memory.
/// `before_writing` sees the profiles whose built objects may change (all
/// of them when the base does) and may still refuse.
pub fn write(
    out: &Path,
    tree: &Tree<'_>,
    profile_names: &[String],
    also_owned: &[PathBuf],
    force: bool,
    before_writing: impl FnOnce(&[String]) -> Result<()>,
) -> Result<Summary> {
    let plan = Mutex::new(Plan::default());
    tree.each_directory(profile_names, |dir| {
        output_dir::check_directory(out, &dir.path)?;
        for (name, text) in &dir.files {
            let relative = dir.path.join(name);
            let target = check_target(out, &relative, text)?;
            let mut plan = plan.lock().expect("no thread panics holding the plan");
            match target {
                Target::Unchanged => plan.unchanged += 1,
                Target::Outdated => plan.add_to_write(&relative, text),
                Target::Edited => {
                    plan.add_to_write(&relative, text);
                    plan.edited.insert(relative.clone());
                }
            }
            plan.generated.insert(relative);
        }
        Ok(())
    })?;
    let mut plan = plan
        .into_inner()
        .expect("no thread panics holding the plan");

    let mut owned = Tree::owned_paths(profile_names);
    owned.extend(also_owned.iter().cloned());
    let stale = scan::stale_files(out, &owned, &plan.generated)?;
    plan.edited.extend(
        stale
            .iter()
            .filter(|(_, ownership)| *ownership == Ownership::Edited)
            .map(|(path, _)| path.clone()),
    );
    if !force && !plan.edited.is_empty() {
        bail!(edited_refusal(out, &plan.edited));
    }
    let mut removed: Vec<PathBuf> = stale.into_iter().map(|(path, _)| path).collect();
    removed.extend(output_dir::leftover_temporary_files(out)?);

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
        for (relative, text) in &plan.buffered {
            write_atomically(&out.join(relative), text)?;
        }
        let unbuffered = |path: &PathBuf| !plan.buffered.contains_key(path);
        if plan.to_write.iter().any(unbuffered) {
            let regenerate: Vec<String> = needed
                .into_iter()
                .filter(|name| {
                    let dir = Path::new(OVERLAYS_DIR).join(name);
                    plan.to_write
                        .iter()
                        .any(|path| path.parent() == Some(dir.as_path()) && unbuffered(path))
                })
                .collect();
            tree.each_directory(&regenerate, |dir| {
                for (name, text) in &dir.files {
                    let relative = dir.path.join(name);
                    if plan.to_write.contains(&relative) && unbuffered(&relative) {
                        write_atomically(&out.join(&relative), text)?;
                    }
                }
                Ok(())
            })?;
        }
    }
    for relative in &removed {
        let path = out.join(relative);
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    // A directory left empty by that (the overlay of a removed profile, a
    // component no overlay lists any more) goes too; one that still holds
    // someone's file stays.
    let emptied: BTreeSet<&Path> = removed.iter().filter_map(|path| path.parent()).collect();
    for dir in emptied {
        let _ = fs::remove_dir(out.join(dir));
    }
    removed.sort();
    Ok(Summary {
        written: plan.to_write.into_iter().collect(),
        unchanged: plan.unchanged,
        removed,
    })
}

/// Names the hand-edited files a render would replace or remove (the first
/// few: `check` lists them all) and what to do about them.
fn edited_refusal(out: &Path, edited: &BTreeSet<PathBuf>) -> String {
    const NAMED: usize = 5;
    let mut names: Vec<String> = edited
        .iter()
        .take(NAMED)
        .map(|path| out.join(path).display().to_string())
        .collect();
    if edited.len() > NAMED {
        names.push(format!("and {} more", edited.len() - NAMED));
    }
    let (count, them) = match edited.len() {
        1 => ("1 file was".to_owned(), "it"),
        n => (format!("{n} files were"), "them"),
    };
    format!(
        "{count} edited by hand since palgen wrote {them} (the content no longer matches the fingerprint in the header): {}; palgen keeps {them} and wrote nothing: move the change into a profile, or review `palgen check` and rerun with --force to replace {them}",
        names.join(", ")
    )
}

/// What palgen finds where it generates a file.
enum Target {
    /// Exactly the generated file.
    Unchanged,
    /// Missing, or palgen's file with other content: written.
    Outdated,
    /// palgen's file, changed by hand since: written only when forced,
    /// unless the edit made it what palgen generates now.
    Edited,
}

/// Whether palgen may write `relative`, and what it would replace: each
/// existing file is read once, for both.
fn check_target(out: &Path, relative: &Path, text: &str) -> Result<Target> {
    let path = out.join(relative);
    let Ok(metadata) = fs::symlink_metadata(&path) else {
        return Ok(Target::Outdated);
    };
    output_dir::check_not_a_link(out, &path, &metadata)?;
    if metadata.is_dir() {
        bail!(
            "{} is a directory; palgen must write a file there",
            path.display()
        );
    }
    let old = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if old == text.as_bytes() {
        return Ok(Target::Unchanged);
    }
    match fingerprint::ownership(&old) {
        Ownership::Foreign => bail!(
            "{} was not generated by palgen; refusing to overwrite it (move it away or delete it)",
            path.display()
        ),
        Ownership::Intact => Ok(Target::Outdated),
        // The hand edit is what the profile now says (the change was moved
        // into it): only the header's fingerprint is restored.
        Ownership::Edited if fingerprint::same_body(&old, text.as_bytes()) => Ok(Target::Outdated),
        Ownership::Edited => Ok(Target::Edited),
    }
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
        .prefix(output_dir::TEMPORARY_PREFIX)
        .rand_bytes(output_dir::TEMPORARY_RANDOM_LEN)
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
