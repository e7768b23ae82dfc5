//! The DICOM subcommands (spec 4.2): `echo`, `find`, `retrieve`, `fetch-http`, calling the
//! library's C exports like a host, with a progress bar on stderr and the manifest on stdout.

use crate::abi::{c_text, check, take_string, Client, Outcome};
use indicatif::{ProgressBar, ProgressStyle};
use miic::ffi::dicom::{
    miic_dicom_echo, miic_dicom_fetch_http, miic_dicom_find, miic_dicom_retrieve,
    miic_set_progress_callback,
};
use std::ffi::{c_char, c_void};
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
    let (raw, encoding) = client.raw();
    let started = Instant::now();
    let status = check(miic_dicom_echo(raw), encoding)?;
    println!(
        "echo: {} in {} ms",
        crate::abi::status_name(status),
        started.elapsed().as_millis()
    );
    Ok(())
}

pub fn find(args: &FindArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let (raw, encoding) = client.raw();
    let study = c_text(&args.study, encoding, "study")?;
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: `study` is NUL-terminated; `out` is a writable slot freed by take_string.
    let status = unsafe { miic_dicom_find(raw, study.as_ptr(), &mut out) };
    let json = take_string(out, encoding);
    check(status, encoding)?;
    println!("{json}");
    Ok(())
}

unsafe extern "C" fn on_progress(user: *mut c_void, done: u32, total: u32, bytes: i64) {
    // SAFETY: `user` is the ProgressBar registered below, alive until the callback is removed.
    let bar = unsafe { &*(user as *const ProgressBar) };
    if total > 0 {
        bar.set_length(u64::from(total));
    }
    bar.set_position(u64::from(done));
    bar.set_message(format!("{:.1} MiB", bytes as f64 / 1_048_576.0));
}

/// Run a fetch with a progress bar; print the manifest (also on failure) and then the status.
fn with_progress(
    client: &Client,
    what: &str,
    call: impl FnOnce(*mut *mut c_char) -> i32,
) -> Outcome<()> {
    let (raw, encoding) = client.raw();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let user = &bar as *const ProgressBar as *mut c_void;
    check(
        miic_set_progress_callback(raw, Some(on_progress), user),
        encoding,
    )?;
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = call(&mut out);
    // The bar must outlive every callback: unregister before it is dropped.
    miic_set_progress_callback(raw, None, std::ptr::null_mut());
    bar.finish();
    let manifest = take_string(out, encoding);
    if !manifest.is_empty() {
        println!("{manifest}");
    }
    let status = check(status, encoding)?;
    eprintln!("{what}: {}", crate::abi::status_name(status));
    Ok(())
}

pub fn retrieve(args: &RetrieveArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let (raw, encoding) = client.raw();
    let study = c_text(&args.study, encoding, "study")?;
    let out_dir = c_text(&args.out, encoding, "out")?;
    with_progress(&client, "retrieve", |out| {
        // SAFETY: both strings are NUL-terminated and live; `out` is a writable slot.
        unsafe { miic_dicom_retrieve(raw, study.as_ptr(), out_dir.as_ptr(), out) }
    })
}

pub fn fetch_http(args: &FetchHttpArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let (raw, encoding) = client.raw();
    let list = c_text(&args.dcm_path, encoding, "dcm-path")?;
    let out_dir = c_text(&args.out, encoding, "out")?;
    with_progress(&client, "fetch-http", |out| {
        // SAFETY: both strings are NUL-terminated and live; `out` is a writable slot.
        unsafe { miic_dicom_fetch_http(raw, list.as_ptr(), out_dir.as_ptr(), out) }
    })
}
