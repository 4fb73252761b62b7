//! What is on disk in an output directory: overlay directories, files
//! palgen wrote (by their header), and those it no longer generates.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::output_dir;
use crate::fingerprint::{self, Ownership};
use crate::kustomize::{COMPONENTS_DIR, OVERLAYS_DIR};
use crate::profile::Catalog;

/// The overlay directories under `out`: those of known profiles by name,
/// and the paths of those whose profile is gone.
pub fn overlays_on_disk(out: &Path, catalog: &Catalog) -> Result<(Vec<String>, Vec<PathBuf>)> {
    let dir = out.join(OVERLAYS_DIR);
    let (mut known, mut orphans) = (Vec::new(), Vec::new());
    if !dir.is_dir() {
        return Ok((known, orphans));
    }
    let unreadable = |e: std::io::Error| anyhow::anyhow!("cannot read {}: {e}", dir.display());
    for entry in fs::read_dir(&dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if !entry.file_type().map_err(unreadable)?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if catalog
            .canonical_name(&name)
            .is_ok_and(|canonical| canonical == name)
        {
            known.push(name);
        } else {
            orphans.push(PathBuf::from(OVERLAYS_DIR).join(name));
        }
    }
    known.sort();
    orphans.sort();
    Ok((known, orphans))
}

/// The names of the component directories under `out`.
pub fn components_on_disk(out: &Path) -> Result<Vec<String>> {
    let dir = out.join(COMPONENTS_DIR);
    let mut names = Vec::new();
    if !dir.is_dir() {
        return Ok(names);
    }
    let unreadable = |e: std::io::Error| anyhow::anyhow!("cannot read {}: {e}", dir.display());
    for entry in fs::read_dir(&dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if entry.file_type().map_err(unreadable)?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Files under `dir` (recursively), relative to `root`, sorted. Symbolic
/// links are listed, not followed.
pub fn files_under(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let absolute = root.join(dir);
    if !fs::symlink_metadata(&absolute).is_ok_and(|m| m.is_dir()) {
        return Ok(found);
    }
    let mut pending = vec![absolute];
    while let Some(current) = pending.pop() {
        for entry in
            fs::read_dir(&current).with_context(|| format!("cannot read {}", current.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Files palgen wrote in its directories that it no longer generates, with
/// whether they were edited since. Temporary files are not among them.
pub fn stale_files(
    out: &Path,
    owned: &[PathBuf],
    generated: &BTreeSet<PathBuf>,
) -> Result<Vec<(PathBuf, Ownership)>> {
    let mut stale = Vec::new();
    for dir in owned {
        for relative in files_under(out, dir)? {
            if generated.contains(&relative)
                || relative.file_name().is_some_and(output_dir::is_temporary)
            {
                continue;
            }
            match fingerprint::ownership_of(&out.join(&relative)) {
                Ownership::Foreign => {}
                ownership => stale.push((relative, ownership)),
            }
        }
    }
    stale.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(stale)
}
