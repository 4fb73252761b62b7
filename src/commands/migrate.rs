//! `palgen migrate`: the Cluster that moves a statefulset deployment to
//! CloudNativePG.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::MigrateArgs;
use crate::objects;
use crate::profile::Catalog;
use crate::yaml;

pub fn run(args: &MigrateArgs, catalog: &Catalog, stdout: &mut impl Write) -> Result<ExitCode> {
    let profile = catalog.resolve(&args.profile.profile)?;
    let cluster = objects::cnpg::migration(&profile, &args.from_service)?;
    write!(stdout, "{}", yaml::generated_document(&cluster))?;
    Ok(ExitCode::SUCCESS)
}
