//! 4.3 二维码生成接口: the URL of the patient's cloud film, printed as a QR code on the report.
//!
//! Uses: context, cloud::encode, http (reply envelope), params, error.

use crate::cloud::encode;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::params::Params;

const WHAT: &str = "qrurl";

/// The exam a QR code is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exam {
    pub access_number: String,
    pub modality: String,
    pub hospital_id: String,
}

impl Exam {
    pub fn from_params(ctx: &Context, params: &Params) -> Result<Exam> {
        let enc = ctx.encoding();
        let access_number = params.require("accessNumber", enc)?;
        let modality = params.require("modality", enc)?;
        // DICOM modality codes (CT, MR, DX, US, …): short, upper-case ASCII.
        if modality.len() > 16
            || !modality
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::argument(format!(
                "'modality' = '{modality}' is not a modality code (upper-case letters such as CT, MR, DX)"
            )));
        }
        let hospital_id = params
            .get_nonempty("hospitalId", enc)?
            .unwrap_or_else(|| ctx.config.hospital_id.clone());
        Ok(Exam {
            access_number,
            modality,
            hospital_id,
        })
    }

    fn query(&self) -> String {
        encode::query(&[
            ("accessNumber", self.access_number.clone()),
            ("modality", self.modality.clone()),
            ("hospitalId", self.hospital_id.clone()),
        ])
    }
}

/// GET `qrurl` and return the film URL from `data`. Codes 202 and 500 are `MIIC_E_SERVER`.
pub fn qr_url(ctx: &Context, params: &Params) -> Result<String> {
    let exam = Exam::from_params(ctx, params)?;
    let url = format!(
        "{}?{}",
        ctx.config.url(&ctx.config.paths.qrurl),
        exam.query()
    );
    let reply = ctx.http.get(&url)?.envelope(WHAT)?.into_success(WHAT)?;
    match reply.data {
        serde_json::Value::String(s) if !s.trim().is_empty() => {
            log::info!(
                "qrurl for accessNumber={}: {} characters",
                exam.access_number,
                s.len()
            );
            Ok(s)
        }
        other => Err(Error::protocol(format!(
            "{WHAT}: reply 'data' is not a URL string: {}",
            crate::http::short(&other.to_string())
        ))),
    }
}

/// GET `qrcode` and return the PNG picture decoded from the base64 text in `data`
/// (a `data:image/png;base64,` prefix and line breaks are tolerated).
pub fn qr_picture(ctx: &Context, params: &Params) -> Result<Vec<u8>> {
    const PICTURE: &str = "qrcode";
    let exam = Exam::from_params(ctx, params)?;
    let url = format!(
        "{}?{}",
        ctx.config.url(&ctx.config.paths.qrcode),
        exam.query()
    );
    let reply = ctx
        .http
        .get(&url)?
        .envelope(PICTURE)?
        .into_success(PICTURE)?;
    let text = match reply.data {
        serde_json::Value::String(s) if !s.trim().is_empty() => s,
        other => {
            return Err(Error::protocol(format!(
                "{PICTURE}: reply 'data' is not base64 text: {}",
                crate::http::short(&other.to_string())
            )))
        }
    };
    let png = picture_bytes(&text)?;
    log::info!(
        "qrcode for accessNumber={}: {} bytes of picture",
        exam.access_number,
        png.len()
    );
    Ok(png)
}

/// The bytes of the base64 picture in `data`; Java servers may send a data URI, MIME line breaks
/// or no padding.
fn picture_bytes(text: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    let text = text.trim();
    let payload = match text.split_once("base64,") {
        Some((prefix, rest)) if prefix.starts_with("data:") => rest,
        _ => text,
    };
    let compact: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(compact.as_bytes())
        .map_err(|e| Error::protocol(format!("qrcode: reply 'data' is not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn picture_base64_tolerates_data_uri_line_breaks_and_missing_padding() {
        let want = b"\x89PNG\r\n\x1a\n..".to_vec();
        for text in [
            "iVBORw0KGgouLg==",
            "data:image/png;base64,iVBORw0KGgouLg==",
            " iVBORw0K\r\nGgouLg ",
        ] {
            assert_eq!(picture_bytes(text).unwrap(), want, "{text:?}");
        }
        let e = picture_bytes("not base64!").unwrap_err();
        assert_eq!(e.status, Status::Protocol);
        assert!(e.message.contains("qrcode"), "{}", e.message);
    }
}
