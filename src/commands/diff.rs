//! `palgen diff A B`: how two profiles differ.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::DiffArgs;
use crate::profile::Catalog;
use crate::report::diff;

pub fn run(args: &DiffArgs, catalog: &Catalog, stdout: &mut impl Write) -> Result<ExitCode> {
    let from = catalog.resolve(&args.from)?;
    let to = catalog.resolve(&args.to)?;
    write!(stdout, "{}", diff::report(&from, &to))?;
    Ok(ExitCode::SUCCESS)
}
