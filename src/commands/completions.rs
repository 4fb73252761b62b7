//! `palgen completions SHELL`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs, stdout: &mut impl Write) -> Result<ExitCode> {
    // Generated into memory: clap_complete panics on a failed write.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "palgen", &mut script);
    stdout.write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
