//! One subcommand per library call, reading the same config a host would, calling the library
//! through its C ABI (`abi`), and printing the result or the status name and message.

use crate::abi::{status_name, Client, Failure, Outcome};

#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// The client config: a path to a .toml/.json file, or inline JSON (as miic_open takes it).
    #[arg(long, short)]
    pub config: String,
    /// A request field, `key=value` with the spec's key names (repeatable; wins over --json).
    #[arg(long = "field", short = 'f', value_parser = parse_field)]
    pub fields: Vec<(String, String)>,
    /// The request fields as one flat JSON object.
    #[arg(long)]
    pub json: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EncryptArgs {
    /// The client config (its [sm2] key, mode, encoding and prefix are used).
    #[arg(long, short)]
    pub config: String,
    /// The text to encrypt (an ID-card number).
    pub plain: String,
}

fn parse_field(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("'{text}' is not key=value")),
    }
}

/// A library call failed: what to print and the process exit code.
pub fn report(what: &str, failure: &Failure) {
    eprintln!("miic-cli {what}: failed: {failure}");
}

fn done(what: &str, status: i32) {
    println!("{what}: {}", status_name(status));
}

pub fn login(args: &CallArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let doctor = client.params(args.json.as_deref(), &args.fields)?;
    done("login", client.login(&doctor)?);
    Ok(())
}

/// The library keeps the logged-in doctor in the client (`miic_login` … `miic_logout`), and a
/// fresh process has none. So `logout` takes the doctor's fields and has the library send exactly
/// the type=2 request for them (`Client::logout_doctor`, the Rust API: the C ABI has no
/// session-less logout), the way the config says: the plugin sees a logout and nothing else.
pub fn logout(args: &CallArgs) -> Outcome<()> {
    let client = miic::Client::open(&args.config).map_err(lib_failure)?;
    let result = rust_params(args.json.as_deref(), &args.fields)
        .and_then(|doctor| client.logout_doctor(&doctor));
    client.close();
    result.map_err(lib_failure)?;
    done("logout", miic::ffi::MIIC_OK);
    Ok(())
}

/// A params bag for the Rust API: the JSON object, then `fields` (they win).
fn rust_params(json: Option<&str>, fields: &[(String, String)]) -> miic::Result<miic::Params> {
    let mut params = match json {
        Some(json) => miic::Params::from_json(json.as_bytes())?,
        None => miic::Params::new(),
    };
    for (key, value) in fields {
        params.set(key, value.as_str())?;
    }
    Ok(params)
}

pub fn plugin_url(args: &CallArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let doctor = client.params(args.json.as_deref(), &args.fields)?;
    println!("{}", client.plugin_url(&doctor)?);
    Ok(())
}

pub fn remind(args: &CallArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let patient = client.params(args.json.as_deref(), &args.fields)?;
    done("remind", client.patient_reminder(&patient)?);
    Ok(())
}

pub fn qr(args: &CallArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let exam = client.params(args.json.as_deref(), &args.fields)?;
    println!("{}", client.qr_url(&exam)?);
    Ok(())
}

pub fn delete(args: &CallArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let deletion = client.params(args.json.as_deref(), &args.fields)?;
    done("delete", client.delete_notify(&deletion)?);
    Ok(())
}

pub fn sm2_encrypt(args: &EncryptArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    println!("{}", client.sm2_encrypt(&args.plain)?);
    Ok(())
}

fn lib_failure(e: miic::Error) -> Failure {
    let status = e.status.code();
    Failure {
        status,
        name: status_name(status),
        message: e.message,
    }
}
