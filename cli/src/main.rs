//! `miic-cli`: command-line tools around the miic library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod report_check;
mod sim_pacs;

#[derive(Parser)]
#[command(name = "miic-cli", version, about = "miic command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a PACS 4.1.2 report endpoint (or a file of records) against spec 4.1 and section 5.
    ReportCheck(report_check::ReportCheckArgs),
    /// Play a hospital PACS answering the 4.1.2 report query (docs/simulator-pacs.md).
    SimPacs(sim_pacs::SimPacsArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::ReportCheck(args) => report_check::run(&args),
        Command::SimPacs(args) => match sim_pacs::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("miic-cli: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
