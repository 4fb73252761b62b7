//! palgen: generates the Kustomize tree for the PostgreSQL database of Paless.

mod cli;
mod commands;
mod contract;
mod fingerprint;
mod kustomize;
mod model;
mod objects;
mod plan;
mod profile;
mod report;
mod templates;
mod textdiff;
mod tree;
mod yaml;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

/// Exit status for bad usage or bad input; clap uses it for usage errors too.
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        // A reader that went away (`palgen build | head`) is not an error;
        // `check` keeps its drift status itself.
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
