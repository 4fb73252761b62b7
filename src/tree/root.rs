//! Where the tree and the user profiles are when `--out` and
//! `--profiles-dir` are not given. Like git finds its repository, palgen
//! looks in the working directory and its parents, up to the root of the
//! git repository, for the directory that holds a tree palgen rendered.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::DEFAULT_OUT;
use crate::fingerprint::{self, Ownership};
use crate::kustomize::BASE_DIR;

/// The file a rendered tree always has in its base.
const BASE_KUSTOMIZATION: &str = "kustomization.yaml";

/// The directory that holds (or will hold) `k8s/` and `profiles/`, as a
/// path relative to the working directory (`""` or `../..`).
pub enum Root {
    /// A tree palgen rendered, here or in a parent.
    Found(PathBuf),
    /// No tree here or above; `below_repository` names the root of the
    /// git repository when the working directory is below it.
    Missing { below_repository: Option<PathBuf> },
}

impl Root {
    /// Looks from `start` (the working directory) upwards.
    pub fn find(start: &Path) -> Root {
        let mut relative = PathBuf::new();
        for dir in start.ancestors() {
            if holds_tree(dir) {
                return Root::Found(relative);
            }
            if dir.join(".git").exists() {
                let below = (dir != start).then(|| dir.to_path_buf());
                return Root::Missing {
                    below_repository: below,
                };
            }
            relative.push("..");
        }
        Root::Missing {
            below_repository: None,
        }
    }

    /// The directory user profiles are read from by default.
    pub fn profiles_dir(&self, name: &str) -> PathBuf {
        match self {
            Root::Found(relative) => relative.join(name),
            Root::Missing { .. } => PathBuf::from(name),
        }
    }

    /// The output directory: `given`, else the tree found; refuses below a
    /// git repository's root that holds none, where a new tree would nest.
    pub fn out_dir(&self, given: Option<&Path>) -> Result<PathBuf> {
        match (given, self) {
            (Some(dir), _) => Ok(dir.to_path_buf()),
            (None, Root::Found(relative)) => Ok(relative.join(DEFAULT_OUT)),
            (
                None,
                Root::Missing {
                    below_repository: Some(root),
                },
            ) => bail!(
                "no tree rendered by palgen ({DEFAULT_OUT}/) in this directory or above it up to the repository root {}; run palgen there (or give --out DIR) to create one",
                root.display()
            ),
            (None, Root::Missing { .. }) => Ok(PathBuf::from(DEFAULT_OUT)),
        }
    }
}

/// Whether `dir` holds `k8s/base/kustomization.yaml` written by palgen.
fn holds_tree(dir: &Path) -> bool {
    let kustomization = dir
        .join(DEFAULT_OUT)
        .join(BASE_DIR)
        .join(BASE_KUSTOMIZATION);
    fingerprint::ownership_of(&kustomization) != Ownership::Foreign
}
