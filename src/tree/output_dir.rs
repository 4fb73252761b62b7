//! The output directory as palgen runs share it: a lock so that concurrent
//! runs take turns, the temporary files an interrupted run leaves behind,
//! and the refusal to write through symbolic links.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::scan;
use crate::kustomize::{BASE_DIR, COMPONENTS_DIR, OVERLAYS_DIR};

/// Temporary files are named this, then random characters.
pub const TEMPORARY_PREFIX: &str = ".palgen-";
pub const TEMPORARY_RANDOM_LEN: usize = 6;

/// The directories under the output directory that palgen writes into.
const PALGEN_DIRS: [&str; 3] = [BASE_DIR, COMPONENTS_DIR, OVERLAYS_DIR];

/// An advisory lock (flock) on the output directory itself, held while a
/// run reads or writes it: renders exclude each other and checks, checks
/// only renders. Locking the directory, not a lock file in it, leaves
/// nothing behind for git to see and lets `check` lock without writing.
pub struct Lock {
    _directory: File,
    /// Directories this run created to lock, deepest first.
    created: Vec<PathBuf>,
}

impl Drop for Lock {
    /// A run that stopped before writing anything leaves no trace: the
    /// directories it created only to lock them go again (removing fails,
    /// harmlessly, once anything was written into them).
    fn drop(&mut self) {
        for dir in &self.created {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

/// Locks `out` for a render, creating it if needed; waits while another
/// palgen run holds it.
pub fn lock_for_writing(out: &Path) -> Result<Lock> {
    if out.exists() && !out.is_dir() {
        bail!("{} is not a directory", out.display());
    }
    let created: Vec<PathBuf> = out
        .ancestors()
        .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        .map(Path::to_path_buf)
        .collect();
    loop {
        fs::create_dir_all(out)
            .with_context(|| format!("cannot create directory {}", out.display()))?;
        let directory = open(out)?;
        directory
            .lock()
            .with_context(|| format!("cannot lock {}", out.display()))?;
        if still_at(&directory, out) {
            return Ok(Lock {
                _directory: directory,
                created,
            });
        }
    }
}

/// Locks an existing `out` for a check; waits while a render holds it.
pub fn lock_for_reading(out: &Path) -> Result<Lock> {
    loop {
        let directory = open(out)?;
        directory
            .lock_shared()
            .with_context(|| format!("cannot lock {}", out.display()))?;
        if still_at(&directory, out) {
            return Ok(Lock {
                _directory: directory,
                created: Vec::new(),
            });
        }
    }
}

fn open(out: &Path) -> Result<File> {
    File::open(out).with_context(|| format!("cannot open directory {}", out.display()))
}

/// Whether the locked directory is still the one at `out`: a run that
/// created it may have removed it (and another created it anew) while this
/// one waited for the lock.
#[cfg(unix)]
fn still_at(directory: &File, out: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (directory.metadata(), fs::metadata(out)) {
        (Ok(locked), Ok(current)) => locked.dev() == current.dev() && locked.ino() == current.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_directory: &File, out: &Path) -> bool {
    out.is_dir()
}

/// Whether a file name is one of palgen's temporary files.
pub fn is_temporary(name: &OsStr) -> bool {
    name.to_str()
        .and_then(|name| name.strip_prefix(TEMPORARY_PREFIX))
        .is_some_and(|random| {
            random.len() == TEMPORARY_RANDOM_LEN
                && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Temporary files left in palgen's directories by a run that was killed
/// before it could rename or remove them, relative to `out`. Only valid
/// under the lock: outside it they may be another run's files in progress.
pub fn leftover_temporary_files(out: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for dir in PALGEN_DIRS {
        found.extend(
            scan::files_under(out, Path::new(dir))?
                .into_iter()
                .filter(|path| path.file_name().is_some_and(is_temporary)),
        );
    }
    found.sort();
    Ok(found)
}

/// The directory `dir` (relative to `out`) and its parents below `out`,
/// where they exist, are real directories: not files, and not symbolic
/// links, whose target may lie outside `out` (palgen would write there) or
/// be another of palgen's directories (two profiles would overwrite and
/// remove each other's files). `out` itself may be a link.
pub fn check_directory(out: &Path, dir: &Path) -> Result<()> {
    let mut ancestors: Vec<&Path> = dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .collect();
    ancestors.reverse();
    for ancestor in ancestors {
        let directory = out.join(ancestor);
        let Ok(metadata) = fs::symlink_metadata(&directory) else {
            return Ok(());
        };
        if metadata.file_type().is_symlink() {
            bail!(
                "{} is a symbolic link{}; palgen writes only into real directories under {}: replace the link with a directory",
                directory.display(),
                link_target(out, &directory),
                out.display()
            );
        }
        if !metadata.is_dir() {
            bail!(
                "{} is not a directory; palgen must write {} there",
                directory.display(),
                out.join(dir).display()
            );
        }
    }
    Ok(())
}

/// Refuses a symbolic link where palgen writes a file: replacing it would
/// destroy a link palgen did not make, writing through it would change a
/// file it did not write.
pub fn check_not_a_link(out: &Path, path: &Path, metadata: &fs::Metadata) -> Result<()> {
    if metadata.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link{}, not a file palgen generated; refusing to replace or write through it (remove the link)",
            path.display(),
            link_target(out, path)
        );
    }
    Ok(())
}

/// " to TARGET" and whether TARGET lies outside `out`, for a message.
fn link_target(out: &Path, link: &Path) -> String {
    let Ok(target) = fs::read_link(link) else {
        return String::new();
    };
    let outside = match (fs::canonicalize(link), fs::canonicalize(out)) {
        (Ok(resolved), Ok(root)) if resolved.starts_with(&root) => "",
        (Ok(_), Ok(_)) => ", outside the output directory",
        _ => ", which does not exist",
    };
    format!(" to {}{outside}", target.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_temporary_pattern_are_temporary() {
        assert!(is_temporary(OsStr::new(".palgen-a1B2c3")));
        for name in [
            ".palgen-a1B2c",
            ".palgen-a1B2c3d",
            ".palgen-a1B2c.",
            "palgen-a1B2c3",
            ".palgen-notes.md",
            "kustomization.yaml",
        ] {
            assert!(!is_temporary(OsStr::new(name)), "{name}");
        }
    }
}
