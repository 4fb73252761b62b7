//! The pipeline from profile names to the files of the Kustomize tree, in
//! memory. Writing them (`writer`) and comparing them (`check`) come after.

use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// The base and one overlay per profile name (names must be canonical).
pub fn tree(catalog: &Catalog, profile_names: &[String]) -> Result<Tree> {
    let base = base_objects(catalog)?;
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
    for name in profile_names {
        let profile = catalog.resolve(name)?;
        let objects = objects::build(&profile);
        let mut overlay = kustomize::overlay_directory(&base, &objects)?;
        overlay.insert(
            "README.md".to_owned(),
            templates::overlay_readme(
                &profile,
                &tuning::derive(&profile.settings),
                &objects.inventory(),
            ),
        );
        add(PathBuf::from(OVERLAYS_DIR).join(name), overlay);
    }
    Ok(tree)
}
