//! `miic-cli qr`: an exam's film URL (spec 4.3), or with `--png` the printable QR code with the
//! caption 扫描查看数字影像, drawn by the library exactly as `miic_qr_image` draws it.

use clap::Args;
use miic::{Client, Params};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct QrArgs {
    /// Client config: a .toml or .json file, or inline JSON (not needed with --text)
    #[arg(long)]
    pub config: Option<String>,
    /// The exam's accessNumber (检查编号)
    #[arg(long)]
    pub access_number: Option<String>,
    /// The exam's modality code (CT, MR, DX, ...)
    #[arg(long, default_value = "CT")]
    pub modality: String,
    /// hospitalId; default: the config's hospital_id
    #[arg(long)]
    pub hospital_id: Option<String>,
    /// Render this text instead of asking the cloud (no config, no network)
    #[arg(long, conflicts_with_all = ["config", "access_number", "hospital_id"])]
    pub text: Option<String>,
    /// Write the QR code PNG here instead of printing the URL
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Pixels per module (default 8)
    #[arg(long, requires = "png")]
    pub module_px: Option<u32>,
    /// Exact width of the code with its quiet zone, in pixels
    #[arg(long, requires = "png")]
    pub size_px: Option<u32>,
    /// Width of the code with its quiet zone, in millimetres (at --dpi, default 300)
    #[arg(long, requires = "png")]
    pub size_mm: Option<f64>,
    /// Print resolution written into the PNG
    #[arg(long, requires = "png")]
    pub dpi: Option<u32>,
    /// Leave out the caption
    #[arg(long, requires = "png")]
    pub no_caption: bool,
    /// Error-correction level: M (default), Q or H
    #[arg(long, requires = "png")]
    pub ec_level: Option<String>,
}

/// Run the subcommand; the error is the library's, with its status name and message.
pub fn run(args: &QrArgs) -> Result<(), miic::Error> {
    let mut params = Params::new();
    for (key, value) in [
        ("modulePx", args.module_px.map(|v| v.to_string())),
        ("sizePx", args.size_px.map(|v| v.to_string())),
        ("sizeMm", args.size_mm.map(|v| v.to_string())),
        ("dpi", args.dpi.map(|v| v.to_string())),
        ("caption", args.no_caption.then(|| "0".to_owned())),
        ("ecLevel", args.ec_level.clone()),
    ] {
        if let Some(value) = value {
            params.set(key, value)?;
        }
    }
    if let Some(text) = &args.text {
        let png = args
            .png
            .as_ref()
            .ok_or_else(|| miic::Error::argument("--text needs --png: there is no URL to print"))?;
        miic::qr_image::render_to_file(text, &params, png)?;
        println!("{}", png.display());
        return Ok(());
    }
    let config = args.config.as_deref().ok_or_else(|| {
        miic::Error::argument("--config is required (or --text to render without the cloud)")
    })?;
    let access_number = args
        .access_number
        .as_deref()
        .ok_or_else(|| miic::Error::argument("--access-number is required"))?;
    params.set("accessNumber", access_number)?;
    params.set("modality", args.modality.as_str())?;
    if let Some(hospital_id) = &args.hospital_id {
        params.set("hospitalId", hospital_id.as_str())?;
    }
    let client = Client::open(config)?;
    let outcome = match &args.png {
        Some(png) => {
            miic::qr_image::qr_image(&client, &params, png).map(|()| png.display().to_string())
        }
        None => miic::cloud::qr::qr_url(&client, &params),
    };
    client.close();
    println!("{}", outcome?);
    Ok(())
}
