//! What each subcommand does, once the command line is parsed.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command, Format};
use crate::profile::Catalog;
use crate::{check, explain, generate, kustomize, objects, output_dir, profile_diff, writer, yaml};

/// Exit status for drift found by `check`.
const EXIT_DRIFT: u8 = 1;

/// Where user profiles are looked for when `--profiles-dir` is not given.
const DEFAULT_PROFILES_DIR: &str = "profiles";

fn catalog(profiles_dir: Option<&Path>) -> Result<Catalog> {
    let catalog = match profiles_dir {
        Some(dir) => Catalog::with_profiles_dir(dir)?,
        None if Path::new(DEFAULT_PROFILES_DIR).is_dir() => {
            Catalog::with_profiles_dir(Path::new(DEFAULT_PROFILES_DIR))?
        }
        None => Catalog::builtin()?,
    };
    Ok(catalog)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    // Styles are stripped when stdout is not a terminal or NO_COLOR is set.
    let mut stdout = anstream::stdout().lock();
    let quiet = cli.quiet;
    if let Command::Completions(args) = &cli.command {
        // Generated into memory: clap_complete panics on a failed write.
        let mut script = Vec::new();
        clap_complete::generate(args.shell, &mut Cli::command(), "palgen", &mut script);
        stdout.write_all(&script)?;
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = catalog(cli.profiles_dir.as_deref())?;
    match cli.command {
        Command::Render(args) => {
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
            let out = &args.out.out;
            let _lock = output_dir::lock_for_writing(out)?;
            // With every profile rendered, an overlay of none is left over
            // from a removed profile: its generated files go.
            let orphans = if args.selection.all {
                generate::overlays_on_disk(out, &catalog)?.1
            } else {
                Vec::new()
            };
            let summary = writer::write(out, &catalog, &names, &orphans, args.force)?;
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
        }
        Command::Check(args) => {
            let drift = check::check(&args.out, &catalog)?;
            if !drift.is_clean() {
                // The exit status is the verdict: a reader that stops early
                // (`palgen check | head -1`) must not turn drift into success.
                match write!(stdout, "{}", drift.report()) {
                    Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                        return Err(error.into());
                    }
                    _ => return Ok(ExitCode::from(EXIT_DRIFT)),
                }
            }
            if !quiet {
                writeln!(stdout, "{} is up to date", args.out.display())?;
            }
        }
        Command::Build(args) => {
            let profile = catalog.resolve(&args.profile)?;
            let manifests = kustomize::final_manifests(&objects::build(&profile));
            write!(stdout, "{}", yaml::stream(&manifests))?;
        }
        Command::List => {
            let profiles = catalog
                .names()
                .iter()
                .map(|name| catalog.resolve(name))
                .collect::<Result<Vec<_>, _>>()?;
            write!(stdout, "{}", explain::table(&profiles))?;
        }
        Command::Show(args) => {
            let profile = catalog.resolve(&args.profile.profile)?;
            let explanation = explain::explain(&profile);
            match args.format {
                Format::Yaml => write!(stdout, "{}", yaml::document(&explanation))?,
                Format::Json => {
                    writeln!(stdout, "{}", serde_json::to_string_pretty(&explanation)?)?
                }
            }
        }
        Command::Diff(args) => {
            let from = catalog.resolve(&args.from)?;
            let to = catalog.resolve(&args.to)?;
            write!(stdout, "{}", profile_diff::report(&from, &to))?;
        }
        Command::Completions(_) => unreachable!("handled before the catalog is loaded"),
    }
    Ok(ExitCode::SUCCESS)
}
