//! The pipeline from profile names to the files of the Kustomize tree, one
//! directory at a time. Writing them (`writer`) and comparing them (`check`)
//! consume the directories as they come.

use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::thread;

use anyhow::Result;

use crate::kustomize::{self, BASE_DIR, OVERLAYS_DIR};
use crate::objects::{self, ObjectSet};
use crate::profile::Catalog;
use crate::{templates, tuning};

/// One generated directory: its path relative to the output directory and
/// its files by name.
pub struct GeneratedDir {
    pub path: PathBuf,
    pub files: kustomize::Directory,
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

/// The directories of the base and of each profile's overlay (names must
/// be canonical), in the order `each_directory` visits them.
pub fn directory_paths(profile_names: &[String]) -> Vec<PathBuf> {
    std::iter::once(PathBuf::from(BASE_DIR))
        .chain(
            profile_names
                .iter()
                .map(|name| PathBuf::from(OVERLAYS_DIR).join(name)),
        )
        .collect()
}

/// Generates the base and each profile's overlay, handing every directory to
/// `visit` as soon as it is made: the base first, then the overlays, which
/// are independent of each other and made on all cores, in no fixed order.
/// Only the directories being visited are in memory, whatever the number of
/// profiles.
pub fn each_directory(
    catalog: &Catalog,
    profile_names: &[String],
    visit: impl Fn(GeneratedDir) -> Result<()> + Sync,
) -> Result<()> {
    let base = base_objects(catalog)?;
    visit(GeneratedDir {
        path: PathBuf::from(BASE_DIR),
        files: kustomize::base_directory(&base),
    })?;
    let threads = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(1, profile_names.len().max(1));
    let chunk_size = profile_names.len().div_ceil(threads).max(1);
    let (base, visit) = (&base, &visit);
    thread::scope(|scope| {
        let workers: Vec<_> = profile_names
            .chunks(chunk_size)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().try_for_each(|name| {
                        visit(GeneratedDir {
                            path: PathBuf::from(OVERLAYS_DIR).join(name),
                            files: overlay(catalog, base, name)?,
                        })
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().expect("overlay generation does not panic"))
    })
}

/// One profile's overlay directory, with its README.
fn overlay(catalog: &Catalog, base: &ObjectSet, name: &str) -> Result<kustomize::Directory> {
    let profile = catalog.resolve(name)?;
    let objects = objects::build(&profile);
    let mut overlay = kustomize::overlay_directory(base, &objects);
    let tuning = tuning::derive(&profile.settings);
    overlay.insert(
        "README.md".to_owned(),
        templates::overlay_readme(&profile, &tuning, &objects.inventory()),
    );
    Ok(overlay)
}
