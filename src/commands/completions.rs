//! `palgen completions SHELL`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;
use clap::builder::PossibleValuesParser;

use crate::cli::{Cli, CompletionsArgs};

/// Arguments that name a profile, in every subcommand.
const PROFILE_ARGS: [&str; 4] = ["profile", "profiles", "from", "to"];

/// The script completes profile names (`profiles`: the built-in ones and
/// the user profiles known when it is generated) wherever one is expected.
pub fn run(
    args: &CompletionsArgs,
    profiles: &[String],
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let names = PossibleValuesParser::new(profiles.iter().cloned());
    let command = Cli::command().mut_subcommands(|subcommand| {
        subcommand.mut_args(|arg| {
            if PROFILE_ARGS.contains(&arg.get_id().as_str()) {
                arg.value_parser(names.clone())
            } else {
                arg
            }
        })
    });
    // Generated into memory: clap_complete panics on a failed write.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command.clone(), "palgen", &mut script);
    stdout.write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
