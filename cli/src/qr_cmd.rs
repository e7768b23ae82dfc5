//! `miic-cli qr`: an exam's film URL (spec 4.3), or with `--png` the printable QR code with the
//! caption 扫描查看数字影像 (`miic_qr_image`); `--text` renders any text (`miic_qr_render`).

use crate::commands::{self, CallArgs};
use miic_cli::abi::{self, status_name, Client, Failure, Outcome};

#[derive(Debug, Clone, clap::Args)]
pub struct QrArgs {
    /// The client config: a path to a .toml/.json file, or inline JSON (as miic_open takes it).
    #[arg(long, short, required_unless_present = "text")]
    pub config: Option<String>,
    /// The exam's accessNumber (检查编号).
    #[arg(long)]
    pub access_number: Option<String>,
    /// The exam's modality code (CT, MR, DX, …).
    #[arg(long)]
    pub modality: Option<String>,
    /// hospitalId (default: the config's hospital_id).
    #[arg(long)]
    pub hospital_id: Option<String>,
    /// A request field, `key=value` with the spec's key names (repeatable).
    #[arg(long = "field", short = 'f', value_parser = parse_field)]
    pub fields: Vec<(String, String)>,
    /// The request fields as one flat JSON object.
    #[arg(long)]
    pub json: Option<String>,
    /// Write the QR code with its caption to this PNG file instead of printing the URL.
    #[arg(long)]
    pub png: Option<String>,
    /// Render this text with miic_qr_render (no config, no cloud); needs --png.
    #[arg(long, requires = "png", conflicts_with_all = ["config", "access_number", "modality", "hospital_id", "fields", "json"])]
    pub text: Option<String>,
    /// Pixels per module (default 8).
    #[arg(long, requires = "png")]
    pub module_px: Option<u32>,
    /// Exact width of the code with its quiet zone, in pixels.
    #[arg(long, requires = "png")]
    pub size_px: Option<u32>,
    /// Width of the code with its quiet zone, in millimetres (at --dpi, default 300).
    #[arg(long, requires = "png")]
    pub size_mm: Option<f64>,
    /// Print resolution written into the PNG.
    #[arg(long, requires = "png")]
    pub dpi: Option<u32>,
    /// Leave out the caption.
    #[arg(long, requires = "png")]
    pub no_caption: bool,
    /// Error-correction level: M (default), Q or H.
    #[arg(long, requires = "png")]
    pub ec_level: Option<String>,
}

fn parse_field(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("'{text}' is not key=value")),
    }
}

impl QrArgs {
    /// The rendering options as the library's params keys.
    fn options(&self) -> Vec<(String, String)> {
        [
            ("modulePx", self.module_px.map(|v| v.to_string())),
            ("sizePx", self.size_px.map(|v| v.to_string())),
            ("sizeMm", self.size_mm.map(|v| v.to_string())),
            ("dpi", self.dpi.map(|v| v.to_string())),
            ("caption", self.no_caption.then(|| "0".to_owned())),
            ("ecLevel", self.ec_level.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
    }
}

pub fn run(args: &QrArgs) -> Outcome<()> {
    if let Some(text) = &args.text {
        let png = args.png.as_deref().unwrap_or_default();
        let status = abi::qr_render(text, png, &args.options())?;
        println!("qr: {} {png}", status_name(status));
        return Ok(());
    }
    let config = args
        .config
        .clone()
        .ok_or_else(|| Failure::argument("--config is required"))?;
    let mut fields = args.fields.clone();
    for (key, value) in [
        ("accessNumber", &args.access_number),
        ("modality", &args.modality),
        ("hospitalId", &args.hospital_id),
    ] {
        if let Some(value) = value {
            fields.push((key.to_owned(), value.clone()));
        }
    }
    let call = CallArgs {
        config,
        fields,
        json: args.json.clone(),
    };
    let Some(png) = &args.png else {
        return commands::qr(&call);
    };
    let client = Client::open(&call.config)?;
    let mut fields = call.fields;
    fields.extend(args.options());
    let exam = client.params(call.json.as_deref(), &fields)?;
    let status = client.qr_image(&exam, png)?;
    println!("qr: {} {png}", status_name(status));
    Ok(())
}
