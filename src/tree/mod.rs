//! The generated Kustomize tree on disk: making its directories, finding
//! what is on disk, writing it, and comparing it with the disk.

pub mod drift;
pub mod generate;
pub mod output_dir;
mod parallel;
pub mod scan;
pub mod write;
