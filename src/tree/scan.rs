//! What is on disk in an output directory: overlay directories, files
//! palgen wrote (by their header), and those it no longer generates.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::kustomize::OVERLAYS_DIR;
use crate::profile::Catalog;
use crate::yaml;

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

/// Files under `dir` (recursively), relative to `root`, sorted.
pub fn files_under(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let absolute = root.join(dir);
    if !absolute.exists() {
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

/// Whether palgen wrote this file: its first line is palgen's header.
/// Unreadable or binary files are not ours.
pub fn is_ours(path: &Path) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut first_line = String::new();
    let mut reader = BufReader::new(file.take(MAX_HEADER_BYTES));
    reader.read_line(&mut first_line).is_ok() && yaml::is_generated(&first_line)
}

/// Longer than any header line palgen writes.
const MAX_HEADER_BYTES: u64 = 512;

/// Files palgen wrote in its directories that it no longer generates.
pub fn stale_files(
    out: &Path,
    owned: &[PathBuf],
    generated: &BTreeSet<PathBuf>,
) -> Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    for dir in owned {
        for relative in files_under(out, dir)? {
            if !generated.contains(&relative) && is_ours(&out.join(&relative)) {
                stale.push(relative);
            }
        }
    }
    stale.sort();
    Ok(stale)
}
