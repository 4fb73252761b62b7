//! The pipeline from profile names to the files of the Kustomize tree, in
//! memory. Writing them (`writer`) and comparing them (`check`) come after.

use std::collections::BTreeMap;
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::thread;

use anyhow::Result;

use crate::kustomize::{self, BASE_DIR, OVERLAYS_DIR};
use crate::objects::{self, ObjectSet};
use crate::profile::Catalog;
use crate::{templates, tuning};

/// Generated files by path relative to the output directory, and the
/// directories they make up (which palgen owns and cleans of stale files).
pub struct Tree {
    pub files: BTreeMap<PathBuf, String>,
    pub directories: Vec<PathBuf>,
}

pub fn base_objects(catalog: &Catalog) -> Result<ObjectSet> {
    Ok(objects::build(&catalog.base()?))
}

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

/// The base and one overlay per profile name (names must be canonical).
/// Overlays are independent of each other, so they are generated on all
/// cores; the result does not depend on which thread made what.
pub fn tree(catalog: &Catalog, profile_names: &[String]) -> Result<Tree> {
    let base = base_objects(catalog)?;
    let threads = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(1, profile_names.len().max(1));
    let chunk_size = profile_names.len().div_ceil(threads).max(1);
    let overlays: Vec<Result<Vec<(&String, kustomize::Directory)>>> = thread::scope(|scope| {
        let workers: Vec<_> = profile_names
            .chunks(chunk_size)
            .map(|chunk| {
                let base = &base;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|name| Ok((name, overlay(catalog, base, name)?)))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("overlay generation does not panic"))
            .collect()
    });

    let mut tree = Tree {
        files: BTreeMap::new(),
        directories: Vec::new(),
    };
    let mut add = |dir: PathBuf, files: kustomize::Directory| {
        for (name, text) in files {
            tree.files.insert(dir.join(name), text);
        }
        tree.directories.push(dir);
    };
    add(PathBuf::from(BASE_DIR), kustomize::base_directory(&base));
    for chunk in overlays {
        for (name, directory) in chunk? {
            add(PathBuf::from(OVERLAYS_DIR).join(name), directory);
        }
    }
    Ok(tree)
}

/// One profile's overlay directory, with its README.
fn overlay(catalog: &Catalog, base: &ObjectSet, name: &str) -> Result<kustomize::Directory> {
    let profile = catalog.resolve(name)?;
    let objects = objects::build(&profile);
    let mut overlay = kustomize::overlay_directory(base, &objects)?;
    let tuning = tuning::derive(&profile.settings);
    overlay.insert(
        "README.md".to_owned(),
        templates::overlay_readme(&profile, &tuning, &objects.inventory()),
    );
    Ok(overlay)
}
