//! `palgen render`: write the tree of the chosen profiles.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::RenderArgs;
use crate::kustomize::OVERLAYS_DIR;
use crate::plan;
use crate::profile::{Catalog, shared_bucket};
use crate::tree::{generate::Tree, output_dir, scan, write};

pub fn run(
    args: &RenderArgs,
    out: &Path,
    catalog: &Catalog,
    quiet: bool,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let present = args.selection.profiles.is_empty() && !args.selection.all;
    let names = if args.selection.all {
        catalog.names()
    } else if present {
        if !out.join(OVERLAYS_DIR).is_dir() {
            bail!(
                "no overlay under {} to re-render; name the profiles to render with --profile NAME (or use --all)",
                out.join(OVERLAYS_DIR).display()
            );
        }
        scan::overlays_on_disk(out, catalog)?.0
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
    let names = with_present_extensions(names, out, catalog)?;
    let profiles = names
        .iter()
        .map(|name| catalog.resolve(name))
        .collect::<Result<Vec<_>, _>>()?;
    shared_bucket::refuse_shared_places(&profiles)?;
    let warnings = super::profile_warnings(&profiles, args.out.strict)?;
    let _lock = output_dir::lock_for_writing(out)?;
    // With every profile rendered, or every one present, an overlay of none
    // is left over from a removed profile: its generated files go.
    let orphans = if args.selection.all || present {
        scan::overlays_on_disk(out, catalog)?.1
    } else {
        Vec::new()
    };
    // The components of the rendered overlays. An overlay this render
    // leaves alone lists what it was rendered with (and its profile is not
    // read: it may be broken): the components on disk stay until a render
    // of every overlay present.
    let kept = if args.selection.all || present {
        Vec::new()
    } else {
        scan::components_on_disk(out)?
    };
    let tree = Tree::new(catalog, &profiles, &kept)?;
    let summary = write::write(out, &tree, &names, &orphans, args.force, |changing| {
        if args.accept_unsafe {
            Ok(())
        } else {
            plan::refuse_unsafe_render(catalog, changing, out)
        }
    })?;
    // The process ends right after: freeing every object set one by one
    // was 5% of an up-to-date render, and the system frees it all at once.
    std::mem::forget(tree);
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

/// `names` and the user profiles present under `out` that extend one of
/// them: their overlays change with their parent's settings, so they are
/// rendered with it rather than left stale.
fn with_present_extensions(
    mut names: Vec<String>,
    out: &Path,
    catalog: &Catalog,
) -> Result<Vec<String>> {
    for present in scan::overlays_on_disk(out, catalog)?.0 {
        let extends_rendered = catalog
            .extended_by(&present)
            .iter()
            .any(|parent| names.contains(parent));
        if extends_rendered && !names.contains(&present) {
            names.push(present);
        }
    }
    Ok(names)
}
