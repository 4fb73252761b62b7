//! The generated Kustomize tree on disk: making its directories, finding
//! what is on disk, writing it, and comparing it with the disk.

/// Where the tree is written when `--out` is not given.
pub const DEFAULT_OUT: &str = "k8s";

pub mod drift;
pub mod generate;
pub mod output_dir;
mod parallel;
pub mod root;
pub mod scan;
pub mod write;
