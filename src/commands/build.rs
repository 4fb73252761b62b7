//! `palgen build`: the final manifests of one profile.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ProfileArg;
use crate::profile::Catalog;
use crate::{kustomize, objects, yaml};

pub fn run(args: &ProfileArg, catalog: &Catalog, stdout: &mut impl Write) -> Result<ExitCode> {
    let profile = catalog.resolve(&args.profile)?;
    let manifests = kustomize::build::final_manifests(&objects::build(&profile));
    write!(stdout, "{}", yaml::stream(&manifests))?;
    Ok(ExitCode::SUCCESS)
}
