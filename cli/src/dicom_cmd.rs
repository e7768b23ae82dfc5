//! The DICOM subcommands (spec 4.2): `echo`, `find`, `retrieve`, `fetch-http`, calling the
//! library's C exports like a host, with a progress bar on stderr and the manifest on stdout.

use indicatif::{ProgressBar, ProgressStyle};
use miic_cli::abi::{status_name, Client, Outcome};
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct EchoArgs {
    /// The client config with its [dicom] section (path or inline JSON).
    #[arg(long, short)]
    pub config: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FindArgs {
    #[arg(long, short)]
    pub config: String,
    /// Study Instance UID to look up.
    #[arg(long)]
    pub study: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RetrieveArgs {
    #[arg(long, short)]
    pub config: String,
    /// Study Instance UID to retrieve (by C-GET or C-MOVE, as `[dicom] retrieve` says).
    #[arg(long)]
    pub study: String,
    /// Folder the files land in (created if missing).
    #[arg(long)]
    pub out: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FetchHttpArgs {
    #[arg(long, short)]
    pub config: String,
    /// The dcmPath list: comma-separated paths such as \wadocloud\2025\1\1\0A9C2648.
    #[arg(long = "dcm-path")]
    pub dcm_path: String,
    /// Folder the files land in (created if missing).
    #[arg(long)]
    pub out: String,
}

pub fn echo(args: &EchoArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let started = Instant::now();
    let status = client.dicom_echo()?;
    println!(
        "echo: {} in {} ms",
        status_name(status),
        started.elapsed().as_millis()
    );
    Ok(())
}

pub fn find(args: &FindArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    println!("{}", client.dicom_find(&args.study)?);
    Ok(())
}

/// A progress bar on stderr fed by the library's progress callback.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Print the manifest (also on failure), then the status.
fn finish(what: &str, bar: ProgressBar, (status, manifest): (Outcome<i32>, String)) -> Outcome<()> {
    bar.finish();
    if !manifest.is_empty() {
        println!("{manifest}");
    }
    let status = status?;
    eprintln!("{what}: {}", status_name(status));
    Ok(())
}

fn update(bar: &ProgressBar, done: u32, total: u32, bytes: i64) {
    if total > 0 {
        bar.set_length(u64::from(total));
    }
    bar.set_position(u64::from(done));
    bar.set_message(format!("{:.1} MiB", bytes as f64 / 1_048_576.0));
}

pub fn retrieve(args: &RetrieveArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let bar = progress_bar();
    let result = client.dicom_retrieve(&args.study, &args.out, &|d, t, b| update(&bar, d, t, b));
    finish("retrieve", bar, result)
}

pub fn fetch_http(args: &FetchHttpArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let bar = progress_bar();
    let result =
        client.dicom_fetch_http(&args.dcm_path, &args.out, &|d, t, b| update(&bar, d, t, b));
    finish("fetch-http", bar, result)
}
