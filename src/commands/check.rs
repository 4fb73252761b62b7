//! `palgen check`: the CI drift check.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::OutArgs;
use crate::plan;
use crate::profile::Catalog;
use crate::tree::{drift, generate::Tree, scan};

/// Exit status for drift found by `check`.
const EXIT_DRIFT: u8 = 1;

pub fn run(
    args: &OutArgs,
    catalog: &Catalog,
    quiet: bool,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let (present, _) = scan::overlays_on_disk(&args.out, catalog)?;
    let warnings = super::profile_warnings(&super::resolve_all(catalog, &present)?, args.strict)?;
    let tree = Tree::new(catalog)?;
    let drift = drift::check(&args.out, catalog, &tree)?;
    super::print_warnings(&warnings);
    if !drift.is_clean() {
        // The exit status is the verdict: a reader that stops early
        // (`palgen check | head -1`) must not turn drift into success.
        let report = format!(
            "{}{}",
            drift.report(),
            plan::check_summary(catalog, &args.out)
        );
        match write!(stdout, "{report}") {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(error.into());
            }
            _ => return Ok(ExitCode::from(EXIT_DRIFT)),
        }
    }
    if !quiet {
        writeln!(stdout, "{} is up to date", args.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
