//! `palgen show`: the resolved settings of one profile.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Format, ShowArgs};
use crate::profile::Catalog;
use crate::report::show;
use crate::yaml;

pub fn run(args: &ShowArgs, catalog: &Catalog, stdout: &mut impl Write) -> Result<ExitCode> {
    let profile = catalog.resolve(&args.profile.profile)?;
    let explanation = show::explain(&profile);
    match args.format {
        Format::Yaml => write!(stdout, "{}", yaml::document(&explanation))?,
        Format::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&explanation)?)?,
    }
    Ok(ExitCode::SUCCESS)
}
