//! `palgen show`: the resolved settings of one profile, or the reference
//! of every profile key.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Format, ShowArgs};
use crate::profile::{Catalog, keys};
use crate::report::show;
use crate::yaml;

pub fn run(args: &ShowArgs, catalog: &Catalog, stdout: &mut impl Write) -> Result<ExitCode> {
    let Some(name) = &args.profile else {
        write!(stdout, "{}", keys::reference(catalog)?)?;
        return Ok(ExitCode::SUCCESS);
    };
    let profile = catalog.resolve(name)?;
    let explanation = show::explain(&profile);
    match args.format {
        Format::Yaml => write!(stdout, "{}", yaml::document(&explanation))?,
        Format::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&explanation)?)?,
    }
    Ok(ExitCode::SUCCESS)
}
