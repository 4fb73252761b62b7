//! palgen: generates the Kustomize tree for the PostgreSQL database of Paless.

mod check;
mod cli;
mod explain;
mod generate;
mod image;
mod kustomize;
mod names;
mod objects;
mod profile;
mod quantity;
mod settings;
mod templates;
mod tuning;
mod writer;
mod yaml;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command, Format};
use profile::Catalog;

/// Exit status for drift found by `check`.
const EXIT_DRIFT: u8 = 1;
/// Exit status for bad usage or bad input; clap uses it for usage errors too.
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A reader that went away (`palgen build | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the context chain, outermost first.
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("palgen: error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

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

fn run(cli: Cli) -> Result<ExitCode> {
    let catalog = catalog(cli.profiles_dir.as_deref())?;
    let command = cli.command;
    let mut stdout = std::io::stdout().lock();
    match command {
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
            let tree = generate::tree(&catalog, &names)?;
            let summary = writer::write(&args.out.out, &tree)?;
            for path in &summary.written {
                writeln!(stdout, "wrote {}", args.out.out.join(path).display())?;
            }
            for path in &summary.removed {
                writeln!(stdout, "removed {}", args.out.out.join(path).display())?;
            }
            writeln!(
                stdout,
                "rendered {} into {}: {} written, {} unchanged, {} removed",
                names.join(", "),
                args.out.out.display(),
                summary.written.len(),
                summary.unchanged,
                summary.removed.len()
            )?;
        }
        Command::Check(args) => {
            let drift = check::check(&args.out, &catalog)?;
            if !drift.is_clean() {
                write!(stdout, "{}", drift.report())?;
                return Ok(ExitCode::from(EXIT_DRIFT));
            }
            writeln!(stdout, "{} is up to date", args.out.display())?;
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
    }
    Ok(ExitCode::SUCCESS)
}
