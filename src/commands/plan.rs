//! `palgen plan`: what applying the generated tree over the committed one
//! does, object by object, with the procedure for every unsafe change.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PlanArgs;
use crate::plan;
use crate::profile::Catalog;
use crate::tree::scan;

/// Prints the plan; exits 0 whatever it contains.
pub fn run(
    args: &PlanArgs,
    out: &Path,
    catalog: &Catalog,
    quiet: bool,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let names = if args.all {
        catalog.names()
    } else if args.profiles.is_empty() {
        scan::overlays_on_disk(out, catalog)?.0
    } else {
        let mut names: Vec<String> = Vec::new();
        for requested in &args.profiles {
            let name = catalog.canonical_name(requested)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    };
    let warnings = super::profile_warnings(&super::resolve_all(catalog, &names)?, args.out.strict)?;
    let plan = plan::plan(catalog, &names, out, args.against.as_deref())?;
    super::print_warnings(&warnings);
    let detail = if quiet {
        plan::Detail::UnsafeOnly
    } else {
        plan::Detail::Full
    };
    if !quiet || plan.unsafe_count() > 0 {
        write!(stdout, "{}", plan.report(detail))?;
    }
    Ok(ExitCode::SUCCESS)
}
