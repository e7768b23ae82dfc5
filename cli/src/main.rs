//! `miic-cli`: the cloud simulator, and one subcommand per library call for trying a config.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod outbox_cmd;
mod sim;

#[derive(Parser)]
#[command(
    name = "miic-cli",
    version,
    about = "miic command line: cloud simulator and library calls"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the cloud simulator (docs/simulator.md) until killed.
    Sim(sim::SimArgs),
    /// The delete notifications' outbox: list | dead | retry | purge-dead.
    Outbox(outbox_cmd::OutboxArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sim(args) => sim::run(&args),
        Command::Outbox(args) => outbox_cmd::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("miic-cli: {e}");
            ExitCode::FAILURE
        }
    }
}
