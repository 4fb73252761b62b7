//! What each subcommand does, once the command line is parsed: one module
//! per command.

mod build;
mod check;
mod completions;
mod diff;
mod list;
mod migrate;
mod plan;
mod render;
mod show;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::profile::{Catalog, Profile, deprecated, identity};
use crate::tree::root::Root;

/// Where user profiles are looked for when `--profiles-dir` is not given,
/// next to the tree.
const DEFAULT_PROFILES_DIR: &str = "profiles";

fn catalog(profiles_dir: Option<&Path>, root: &Root) -> Result<Catalog> {
    let default = root.profiles_dir(DEFAULT_PROFILES_DIR);
    let catalog = match profiles_dir {
        Some(dir) => Catalog::with_profiles_dir(dir)?,
        None if default.is_dir() => Catalog::with_profiles_dir(&default)?,
        None => Catalog::builtin()?,
    };
    Ok(catalog)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    // Styles are stripped when stdout is not a terminal or NO_COLOR is set.
    let mut stdout = anstream::stdout().lock();
    let working_dir = std::env::current_dir()?;
    let root = Root::find(&working_dir);
    let catalog = catalog(cli.profiles_dir.as_deref(), &root);
    if let Command::Completions(args) = &cli.command {
        // A profiles directory palgen cannot use still leaves the
        // built-in names to complete.
        let names = match &catalog {
            Ok(catalog) => catalog.names(),
            Err(_) => Catalog::builtin()?.builtin_names(),
        };
        return completions::run(args, &names, &mut stdout);
    }
    let catalog = catalog?;
    let quiet = cli.quiet;
    match cli.command {
        Command::Render(args) => {
            let out = root.out_dir(args.out.out.as_deref())?;
            render::run(&args, &out, &catalog, quiet, &mut stdout)
        }
        Command::Check(args) => {
            let out = root.out_dir(args.out.as_deref())?;
            check::run(&out, args.strict, &catalog, quiet, &mut stdout)
        }
        Command::Build(args) => build::run(&args, &catalog, &mut stdout),
        Command::List => list::run(&catalog, &mut stdout),
        Command::Show(args) => show::run(&args, &catalog, &mut stdout),
        Command::Diff(args) => diff::run(&args, &catalog, &mut stdout),
        Command::Migrate(args) => migrate::run(&args, &catalog, &mut stdout),
        Command::Plan(args) => {
            let out = root.out_dir(args.out.out.as_deref())?;
            plan::run(&args, &out, &catalog, quiet, &mut stdout)
        }
        Command::Completions(_) => unreachable!("handled before the catalog is loaded"),
    }
}

/// The warning lines of the profiles: deprecated keys they set, and an
/// off-site backup that cannot authenticate; with `strict`, the latter is an
/// error instead (exit 2), returned before the command does anything. The
/// caller prints the warnings once it succeeded, so that they never precede
/// its error.
fn profile_warnings(profiles: &[Profile], strict: bool) -> Result<Vec<String>> {
    let unset: Vec<(&str, &str)> = profiles
        .iter()
        .filter_map(|profile| {
            identity::missing_key(&profile.settings).map(|key| (profile.name.as_str(), key))
        })
        .collect();
    if strict && !unset.is_empty() {
        let named: Vec<String> = unset
            .iter()
            .map(|(name, key)| format!("{name} ({key})"))
            .collect();
        anyhow::bail!(
            "--strict: the off-site backup cannot authenticate to its bucket; set the key in the profile: {}",
            named.join(", ")
        );
    }
    Ok(profiles
        .iter()
        .flat_map(deprecated::warnings)
        .chain(
            unset
                .into_iter()
                .map(|(name, key)| identity::warning(name, key)),
        )
        .collect())
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("palgen: warning: {warning}");
    }
}

fn resolve_all(catalog: &Catalog, names: &[String]) -> Result<Vec<Profile>> {
    Ok(names
        .iter()
        .map(|name| catalog.resolve(name))
        .collect::<Result<Vec<_>, _>>()?)
}
