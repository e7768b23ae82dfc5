//! 4.3 QR code as a printable PNG with the caption 扫描查看数字影像, across the C ABI.
//!
//! Uses: error, ffi::boundary, ffi::client, ffi::params, params, qr_image, text.

use super::boundary::{c_bytes, c_text, guard_status, MiicStatus};
use super::client::{client_ref, miic_client};
use super::params::{miic_params, params_ref};
use crate::error::Status;
use crate::params::Params;
use crate::qr_image;
use crate::text::TextEncoding;
use std::ffi::c_char;
use std::path::Path;

/// 4.3 QR code for an exam, written as a PNG file ready to place on the printed report: the code
/// (error correction M or better, 4-module quiet zone) with the caption 扫描查看数字影像 centred
/// under it, drawn from a font embedded in miic.
///
/// `exam` holds accessNumber, modality and hospitalId (default: the config), as for
/// `miic_qr_url`, plus optional rendering options:
///  - `modulePx`: pixels per module (1-100, default 8), or
///  - `sizePx`: exact image width in pixels (the code with its quiet zone; the caption adds
///    height below), or `sizeMm` with `dpi`: the same in millimetres for print (`dpi` 36-4800,
///    default 300 with `sizeMm`); only one of modulePx, sizePx, sizeMm;
///  - `dpi`: written to the PNG (pHYs chunk) so report tools print it at its physical size;
///  - `caption`: 1 (default) or 0; `ecLevel`: M (default), Q or H.
///
/// With config `[qr] source = "qrurl"` (default) the URL comes from `qrurl` and miic draws the
/// code; with `"qrcode"` the cloud's base64 picture is used as it is (given a full quiet zone,
/// scaled to the asked size) and the caption added.
///
/// `png_path` (client's text encoding) is written whole or not at all (temporary file, then
/// rename); the caller owns the file. Unknown or bad options: `MIIC_E_ARGUMENT` naming the key;
/// a path that cannot be written: `MIIC_E_IO` naming it; cloud errors as for `miic_qr_url`.
/// A cloud picture is checked before it is decoded: more than 10,000 pixels a side, more than
/// 64 MiB decoded, or a framed and captioned image beyond 10,000 pixels a side is
/// `MIIC_E_PROTOCOL` naming the size.
///
/// # Safety
/// `png_path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn miic_qr_image(
    c: *mut miic_client,
    exam: *const miic_params,
    png_path: *const c_char,
) -> MiicStatus {
    guard_status(|| {
        let client = client_ref(c)?;
        let params = params_ref(exam, "exam")?;
        let path = unsafe { c_text(png_path, "png_path", client.encoding()) }?;
        client.qr_image(&params, Path::new(&path))?;
        Ok(Status::Ok)
    })
}

/// Render any `text` (UTF-8) as a QR code PNG at `png_path`, exactly as `miic_qr_image` draws
/// it; no client and no network. `options` may be NULL (defaults) or a params bag with the
/// rendering options of `miic_qr_image` (modulePx, sizePx, sizeMm, dpi, caption, ecLevel) and
/// nothing else. `png_path` is UTF-8 (read as GBK if it is not valid UTF-8); the file is written
/// whole or not at all and the caller owns it. Empty or too long text and bad options:
/// `MIIC_E_ARGUMENT` naming them; a path that cannot be written: `MIIC_E_IO` naming it.
///
/// # Safety
/// `text` and `png_path` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn miic_qr_render(
    text: *const c_char,
    png_path: *const c_char,
    options: *const miic_params,
) -> MiicStatus {
    guard_status(|| {
        let text = unsafe { c_text(text, "text", TextEncoding::Utf8) }?;
        let path_bytes = unsafe { c_bytes(png_path, "png_path") }?;
        let path = match std::str::from_utf8(path_bytes) {
            Ok(p) => p.to_owned(),
            Err(_) => TextEncoding::Gbk.decode(path_bytes, "png_path")?,
        };
        let params = if options.is_null() {
            Params::new()
        } else {
            params_ref(options, "options")?
        };
        qr_image::render_to_file(&text, &params, Path::new(&path))?;
        Ok(Status::Ok)
    })
}
