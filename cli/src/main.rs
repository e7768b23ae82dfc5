//! `miic-cli`: the cloud simulator, one subcommand per library call (through the C ABI, as a
//! host calls it), and a demo of the whole doctor workflow.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use miic_cli::{abi, sim};
use std::process::ExitCode;

mod commands;
mod demo;
mod dicom_cmd;
mod doctor;
mod outbox_cmd;
mod qr_cmd;
mod report_check;
mod sim_pacs;
mod watch;

#[derive(Parser)]
#[command(
    name = "miic-cli",
    version,
    about = "miic command line: cloud simulator, library calls, demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the cloud simulator (docs/simulator.md) until killed.
    Sim(sim::SimArgs),
    /// Run the whole doctor workflow against an in-process simulator; exit 0 if every step passed.
    Demo,
    /// 4.4.3.1 login (type=1): miic_login with the doctor's fields.
    Login(commands::CallArgs),
    /// 4.4.3.1 logout (type=2) of the doctor given by the fields (see docs/cli.md).
    Logout(commands::CallArgs),
    /// The WYHT:// plugin URL (method 2) for the doctor's fields (type defaults to 1).
    PluginUrl(commands::CallArgs),
    /// 4.4.3.2 patient reminder: miic_patient_reminder with the patient's and doctor's fields.
    Remind(commands::CallArgs),
    /// 4.3 QR URL: miic_qr_url with accessNumber and modality; prints the URL. With --png,
    /// miic_qr_image writes the QR code with its caption 扫描查看数字影像 instead.
    Qr(qr_cmd::QrArgs),
    /// 4.5 delete notification: miic_delete_notify with patientName and accessionNo.
    Delete(commands::CallArgs),
    /// SM2-encrypt a text with the config's key and layout: miic_sm2_encrypt.
    Sm2Encrypt(commands::EncryptArgs),
    /// 4.1: check a PACS 4.1.2 report endpoint (or a file of records) as the cloud queries it.
    ReportCheck(report_check::ReportCheckArgs),
    /// Play a hospital PACS answering the 4.1.2 report query (docs/simulator-pacs.md).
    SimPacs(sim_pacs::SimPacsArgs),
    /// The delete notifications' outbox for hospital IT: list | dead | retry | purge-dead.
    Outbox(outbox_cmd::OutboxArgs),
    /// 4.2 C-ECHO the PACS of [dicom]: miic_dicom_echo.
    Echo(dicom_cmd::EchoArgs),
    /// 4.2 C-FIND a study on the PACS: miic_dicom_find; prints the matches as JSON.
    Find(dicom_cmd::FindArgs),
    /// 4.2 retrieve a study by C-GET/C-MOVE into a folder: miic_dicom_retrieve; prints the manifest.
    Retrieve(dicom_cmd::RetrieveArgs),
    /// 4.2 download dcmPath files over HTTP: miic_dicom_fetch_http; prints the manifest.
    FetchHttp(dicom_cmd::FetchHttpArgs),
    /// Check this workstation's whole set-up (config, front-end, clock, SM2 key, outbox, log,
    /// PACS, image server): miic_diagnose; exits 1 when a check failed.
    Doctor(doctor::DoctorArgs),
    /// 4.2 DICOM service watchdog: C-ECHO on a schedule, restart the PACS service when it stops
    /// answering, alert when restarts do not help (README "DICOM service watchdog").
    Watch(watch::WatchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (what, result) = match &cli.command {
        // The checker's exit status says conformant (0), not (1) or unable to check (2).
        Command::ReportCheck(args) => return report_check::run(args),
        // 0 no check failed, 1 one did, 2 no report could be made.
        Command::Doctor(args) => return doctor::run(args),
        Command::SimPacs(args) => ("sim-pacs", sim_pacs::run(args).map_err(Some)),
        Command::Sim(args) => ("sim", sim::run(args).map_err(Some)),
        Command::Outbox(args) => ("outbox", outbox_cmd::run(args).map_err(Some)),
        Command::Watch(args) => ("watch", watch::run(args).map_err(Some)),
        Command::Demo => ("demo", demo::run().map_err(Some)),
        Command::Login(a) => ("login", call("login", commands::login(a))),
        Command::Logout(a) => ("logout", call("logout", commands::logout(a))),
        Command::PluginUrl(a) => ("plugin-url", call("plugin-url", commands::plugin_url(a))),
        Command::Remind(a) => ("remind", call("remind", commands::remind(a))),
        Command::Qr(a) => ("qr", call("qr", qr_cmd::run(a))),
        Command::Delete(a) => ("delete", call("delete", commands::delete(a))),
        Command::Sm2Encrypt(a) => ("sm2-encrypt", call("sm2-encrypt", commands::sm2_encrypt(a))),
        Command::Echo(a) => ("echo", call("echo", dicom_cmd::echo(a))),
        Command::Find(a) => ("find", call("find", dicom_cmd::find(a))),
        Command::Retrieve(a) => ("retrieve", call("retrieve", dicom_cmd::retrieve(a))),
        Command::FetchHttp(a) => ("fetch-http", call("fetch-http", dicom_cmd::fetch_http(a))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if let Some(message) = message {
                eprintln!("miic-cli {what}: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Library failures are printed with their status name; `Err(None)` means already printed.
fn call(what: &str, result: abi::Outcome<()>) -> Result<(), Option<String>> {
    result.map_err(|f| {
        commands::report(what, &f);
        None
    })
}
