//! `palgen render`: write the tree of the chosen profiles.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::RenderArgs;
use crate::plan;
use crate::profile::{Catalog, shared_bucket};
use crate::tree::{generate::Tree, output_dir, scan, write};

pub fn run(
    args: &RenderArgs,
    catalog: &Catalog,
    quiet: bool,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let names = if args.selection.all {
        catalog.names()
    } else {
        let mut names: Vec<String> = Vec::new();
        for requested in &args.selection.profiles {
            let name = catalog.canonical_name(requested)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    };
    let profiles = names
        .iter()
        .map(|name| catalog.resolve(name))
        .collect::<Result<Vec<_>, _>>()?;
    shared_bucket::refuse_shared_places(&profiles)?;
    let warnings = super::profile_warnings(&profiles, args.out.strict)?;
    let out = &args.out.out;
    let _lock = output_dir::lock_for_writing(out)?;
    // With every profile rendered, an overlay of none is left over from a
    // removed profile: its generated files go.
    let orphans = if args.selection.all {
        scan::overlays_on_disk(out, catalog)?.1
    } else {
        Vec::new()
    };
    let tree = Tree::new(catalog)?;
    let summary = write::write(out, &tree, &names, &orphans, args.force, |changing| {
        if args.accept_unsafe {
            Ok(())
        } else {
            plan::refuse_unsafe_render(catalog, changing, out)
        }
    })?;
    super::print_warnings(&warnings);
    if !quiet {
        for path in &summary.written {
            writeln!(stdout, "wrote {}", out.join(path).display())?;
        }
        for path in &summary.removed {
            writeln!(stdout, "removed {}", out.join(path).display())?;
        }
        writeln!(
            stdout,
            "rendered {} into {}: {} written, {} unchanged, {} removed",
            names.join(", "),
            out.display(),
            summary.written.len(),
            summary.unchanged,
            summary.removed.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
