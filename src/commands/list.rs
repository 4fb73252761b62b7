//! `palgen list`: one row per known profile.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::profile::Catalog;
use crate::report::list;

pub fn run(catalog: &Catalog, stdout: &mut impl Write) -> Result<ExitCode> {
    let profiles = catalog
        .names()
        .iter()
        .map(|name| catalog.resolve(name))
        .collect::<Result<Vec<_>, _>>()?;
    write!(stdout, "{}", list::table(&profiles))?;
    Ok(ExitCode::SUCCESS)
}
