//! One subcommand per library call, reading the same config a host would, calling the library
//! through its C ABI (`abi`), and printing the result or the status name and message.

use crate::abi::{status_name, Client, Failure, Outcome};
use miic::config::{Config, LoginVia};
use miic::http::{CloudReply, Http};

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
/// fresh process has none. So `logout` takes the doctor's fields, has the library build and
/// encrypt the type=2 request (`miic_plugin_url` with `type=2`), and sends exactly that one
/// request the way the config says (HTTP GET of the login path with the library's HTTP client and
/// reply check, or launching the plugin exe): the plugin sees a logout and nothing else.
pub fn logout(args: &CallArgs) -> Outcome<()> {
    let client = Client::open(&args.config)?;
    let mut fields = args.fields.clone();
    fields.retain(|(k, _)| k != "type");
    fields.push(("type".into(), "2".into()));
    let doctor = client.params(args.json.as_deref(), &fields)?;
    let url = client.plugin_url(&doctor)?;
    let query = url.strip_prefix("WYHT://").unwrap_or(&url).to_string();
    let config = Config::load(&args.config).map_err(lib_failure)?;
    match config.plugin.login_via {
        LoginVia::Http => {
            let http = Http::new(config.timeout);
            let body = http
                .get(&format!("{}?{query}", config.url(&config.paths.login)))
                .map_err(lib_failure)?;
            CloudReply::parse("logout", &body)
                .and_then(|r| r.into_success("logout"))
                .map_err(lib_failure)?;
        }
        LoginVia::Exe => {
            let exe = config.plugin.exe.as_ref().ok_or_else(|| Failure {
                status: -3,
                name: status_name(-3),
                message: "config key 'plugin.exe' is not set".into(),
            })?;
            std::process::Command::new(exe)
                .arg(&query)
                .spawn()
                .map_err(|e| Failure {
                    status: -11,
                    name: status_name(-11),
                    message: format!("cannot start plugin '{}': {e}", exe.display()),
                })?;
        }
    }
    done("logout", 0);
    Ok(())
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
