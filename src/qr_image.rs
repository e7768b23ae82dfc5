//! 4.3 QR code ready to print: the film URL as a QR code with the caption 扫描查看数字影像
//! centred under it, written as a PNG (old report designers have no QR library, and the cloud's
//! `qrcode` picture has no caption).
//!
//! The caption is drawn from a subset of Noto Sans CJK SC (`assets/fonts/`, SIL OFL 1.1) whose
//! outlines build.rs compiles into the library, so no font is needed on the workstation and any
//! size works.
//!
//! Uses: cloud::qr, config, context, error, fs, params, text.

use crate::cloud::qr;
use crate::config::QrSource;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::params::Params;
use crate::text::TextEncoding;
use ab_glyph_rasterizer::{point, Point, Rasterizer};
use std::path::Path;

/// The caption spec 4.3 asks for under every printed code.
const CAPTION: &str = "扫描查看数字影像";

/// One character of the caption font (Noto Sans CJK SC Regular cut to the caption's glyphs by
/// `scripts/subset_caption_font.sh`), in font units, y up, as build.rs read it.
struct CaptionGlyph {
    ch: char,
    advance: f32,
    /// x_min, y_min, x_max, y_max.
    bounds: [f32; 4],
    curves: &'static [Curve],
}

/// Points as x, y pairs, from the previous point on (the font is CFF: no quadratic curves).
enum Curve {
    Line([f32; 4]),
    Cubic([f32; 8]),
}

// UNITS_PER_EM, HEIGHT_UNSCALED (ascender - descender) and CAPTION_GLYPHS.
include!(concat!(env!("OUT_DIR"), "/caption_glyphs.rs"));

/// A caption glyph placed on the caption's baseline: `scale` pixels per font unit, its whole-pixel
/// ink box (x0, y0, x1, y1, y down) as a font renderer rounds it outward.
struct PlacedGlyph {
    glyph: &'static CaptionGlyph,
    caret: f32,
    scale: f32,
    px: [f32; 4],
}

impl PlacedGlyph {
    fn new(glyph: &'static CaptionGlyph, caret: f32, scale: f32) -> PlacedGlyph {
        let [x_min, y_min, x_max, y_max] = glyph.bounds;
        let (x_trunc, x_fract) = (caret.trunc(), caret.fract());
        PlacedGlyph {
            glyph,
            caret,
            scale,
            px: [
                (x_min * scale + x_fract).floor() + x_trunc,
                (-y_max * scale).floor(),
                (x_max * scale + x_fract).ceil() + x_trunc,
                (-y_min * scale).ceil(),
            ],
        }
    }

    /// Coverage (0 = none, 1 = full) of each pixel of the ink box, x and y from its corner.
    fn draw(&self, mut pixel: impl FnMut(u32, u32, f32)) {
        let [x0, y0, x1, y1] = self.px;
        let mut r = Rasterizer::new((x1 - x0) as usize, (y1 - y0) as usize);
        // The offset first, as font renderers add it: the same sums to the last bit.
        let (dx, dy) = (self.caret - x0, 0.0 - y0);
        let at = |x: f32, y: f32| -> Point { point(x * self.scale + dx, y * -self.scale + dy) };
        for curve in self.glyph.curves {
            match *curve {
                Curve::Line([ax, ay, bx, by]) => r.draw_line(at(ax, ay), at(bx, by)),
                Curve::Cubic([ax, ay, bx, by, cx, cy, dx, dy]) => {
                    r.draw_cubic(at(ax, ay), at(bx, by), at(cx, cy), at(dx, dy))
                }
            }
        }
        r.for_each_pixel_2d(&mut pixel);
    }
}

/// The caption laid out on baseline 0 at `px_per_em`.
fn caption_layout(px_per_em: f32) -> Result<Vec<PlacedGlyph>> {
    // Pixels per font unit, through the ascender-descender height as font renderers (ab_glyph)
    // scale, so the rounding is theirs to the last bit.
    let scale = px_per_em * HEIGHT_UNSCALED / UNITS_PER_EM / HEIGHT_UNSCALED;
    let mut caret = 0.0;
    let mut placed = Vec::with_capacity(CAPTION.chars().count());
    for c in CAPTION.chars() {
        let glyph = caption_glyph(c)?;
        placed.push(PlacedGlyph::new(glyph, caret, scale));
        caret += glyph.advance * (px_per_em / UNITS_PER_EM);
    }
    Ok(placed)
}

fn caption_glyph(c: char) -> Result<&'static CaptionGlyph> {
    CAPTION_GLYPHS
        .iter()
        .find(|g| g.ch == c)
        .ok_or_else(|| Error::internal(format!("the caption font has no '{c}'")))
}

/// White border around the symbol, in modules, as ISO/IEC 18004 requires.
const QUIET_ZONE: u32 = 4;
/// Caption text width as a share of the symbol's width (without the quiet zone).
const CAPTION_WIDTH_SHARE: f32 = 0.85;
const DEFAULT_MODULE_PX: u32 = 8;
const MAX_MODULE_PX: u32 = 100;
/// Largest image side accepted (a 1 m wide print at 254 DPI); bounds memory.
const MAX_SIDE_PX: u32 = 10_000;
const MIN_DPI: u32 = 36;
const MAX_DPI: u32 = 4800;
/// Print DPI assumed when a size in mm is given without `dpi`.
const DEFAULT_PRINT_DPI: u32 = 300;
/// A cloud picture that decodes to more than this is refused before it is decoded (its base64
/// reply is capped at 4 MiB, but a few compressed bytes can claim any size).
const MAX_PICTURE_BYTES: usize = 64 << 20;
/// Largest image miic draws, caption band included (8-bit grey; the band adds about an eighth
/// of the width to the height).
const MAX_IMAGE_BYTES: usize = MAX_SIDE_PX as usize * MAX_SIDE_PX as usize * 5 / 4;

/// Params keys read as rendering options (the rest of a bag is the exam's fields).
const OPTION_KEYS: [&str; 6] = ["modulePx", "sizePx", "sizeMm", "dpi", "caption", "ecLevel"];
/// The exam fields `miic_qr_image` accepts beside the options.
const EXAM_KEYS: [&str; 3] = ["accessNumber", "modality", "hospitalId"];

/// Error-correction level; L is not offered (spec-grade print needs M or better).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcLevel {
    M,
    Q,
    H,
}

/// How big the code is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Pixels per module; the image is `(modules + 8) * n` pixels wide.
    ModulePx(u32),
    /// Exact image width in pixels (the code and its quiet zone); `key` is the option that asked.
    WidthPx { px: u32, key: &'static str },
}

/// Rendering options, from the params keys `modulePx`, `sizePx`, `sizeMm`, `dpi`, `caption`,
/// `ecLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// `None`: 8 pixels per module for rendered text, the picture's own size for a cloud picture.
    pub size: Option<Size>,
    /// Written to the PNG's pHYs chunk so report tools print it at its physical size.
    pub dpi: Option<u32>,
    pub caption: bool,
    pub ec_level: EcLevel,
    /// Whether `ecLevel` / `modulePx` were given (a cloud picture cannot honour them).
    explicit_ec_level: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            size: None,
            dpi: None,
            caption: true,
            ec_level: EcLevel::M,
            explicit_ec_level: false,
        }
    }
}

impl RenderOptions {
    /// Read the options from `params`. `other_keys` are the call's other fields; any key that is
    /// neither is `MIIC_E_ARGUMENT` naming it (a misspelt option must not pass silently).
    pub fn from_params(
        params: &Params,
        encoding: TextEncoding,
        other_keys: &[&str],
    ) -> Result<RenderOptions> {
        if let Some(key) = params
            .keys()
            .find(|k| !OPTION_KEYS.contains(k) && !other_keys.contains(k))
        {
            let mut known: Vec<&str> = other_keys.to_vec();
            known.extend(OPTION_KEYS);
            return Err(Error::argument(format!(
                "unknown QR option '{key}' (known: {})",
                known.join(", ")
            )));
        }
        let get = |key: &str| params.get_nonempty(key, encoding);
        let mut options = RenderOptions::default();
        let module_px = get("modulePx")?
            .map(|v| parse_int("modulePx", &v, 1, MAX_MODULE_PX))
            .transpose()?;
        let size_px = get("sizePx")?
            .map(|v| parse_int("sizePx", &v, 21 + 2 * QUIET_ZONE, MAX_SIDE_PX))
            .transpose()?;
        let size_mm = get("sizeMm")?.map(|v| parse_mm(&v)).transpose()?;
        let dpi = get("dpi")?
            .map(|v| parse_int("dpi", &v, MIN_DPI, MAX_DPI))
            .transpose()?;
        let given: Vec<&str> = [
            ("modulePx", module_px.is_some()),
            ("sizePx", size_px.is_some()),
            ("sizeMm", size_mm.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| *key)
        .collect();
        if given.len() > 1 {
            return Err(Error::argument(format!(
                "QR options {} are exclusive: give one of modulePx, sizePx, sizeMm",
                given.join(" and ")
            )));
        }
        options.dpi = dpi;
        if let Some(n) = module_px {
            options.size = Some(Size::ModulePx(n));
        } else if let Some(px) = size_px {
            options.size = Some(Size::WidthPx { px, key: "sizePx" });
        } else if let Some(mm) = size_mm {
            let dpi = *options.dpi.get_or_insert(DEFAULT_PRINT_DPI);
            let px = (mm / 25.4 * f64::from(dpi)).round();
            if px < f64::from(21 + 2 * QUIET_ZONE) || px > f64::from(MAX_SIDE_PX) {
                return Err(Error::argument(format!(
                    "QR option 'sizeMm' = {mm} at {dpi} DPI is {px} pixels; it must come to {}..={MAX_SIDE_PX}",
                    21 + 2 * QUIET_ZONE
                )));
            }
            options.size = Some(Size::WidthPx {
                px: px as u32,
                key: "sizeMm",
            });
        }
        if let Some(v) = get("caption")? {
            options.caption = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(Error::argument(format!(
                        "QR option 'caption' must be 1 or 0 (true/false), got '{v}'"
                    )))
                }
            };
        }
        if let Some(v) = get("ecLevel")? {
            options.ec_level = match v.to_ascii_uppercase().as_str() {
                "M" => EcLevel::M,
                "Q" => EcLevel::Q,
                "H" => EcLevel::H,
                _ => {
                    return Err(Error::argument(format!(
                        "QR option 'ecLevel' must be M, Q or H, got '{v}'"
                    )))
                }
            };
            options.explicit_ec_level = true;
        }
        Ok(options)
    }
}

fn parse_int(key: &str, value: &str, min: u32, max: u32) -> Result<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Error::argument(format!(
                "QR option '{key}' must be a whole number from {min} to {max}, got '{value}'"
            ))
        })
}

fn parse_mm(value: &str) -> Result<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|mm| mm.is_finite() && *mm > 0.0)
        .ok_or_else(|| {
            Error::argument(format!(
                "QR option 'sizeMm' must be a positive number of millimetres, got '{value}'"
            ))
        })
}

/// An 8-bit greyscale picture, row by row (0 = black, 255 = white).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gray {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Gray {
    fn white(width: u32, height: u32) -> Gray {
        Gray {
            width,
            height,
            pixels: vec![255; width as usize * height as usize],
        }
    }

    fn at(&self, x: u32, y: u32) -> u8 {
        self.pixels[y as usize * self.width as usize + x as usize]
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, value: u8) {
        for row in y..y + h {
            let start = row as usize * self.width as usize + x as usize;
            self.pixels[start..start + w as usize].fill(value);
        }
    }
}

/// Render `text` as a QR code with its quiet zone (and the caption, if asked).
pub fn render_text(text: &str, options: &RenderOptions) -> Result<Gray> {
    if text.is_empty() {
        return Err(Error::argument(
            "'text' is empty: nothing to put in the QR code",
        ));
    }
    let level = match options.ec_level {
        EcLevel::M => qrcode::EcLevel::M,
        EcLevel::Q => qrcode::EcLevel::Q,
        EcLevel::H => qrcode::EcLevel::H,
    };
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), level).map_err(|e| {
            Error::argument(format!(
                "'text' ({} bytes) cannot be a QR code at level {:?}: {e}",
                text.len(),
                options.ec_level
            ))
        })?;
    let modules = code.width() as u32;
    let framed = modules + 2 * QUIET_ZONE;
    let (module_px, width) = match options.size.unwrap_or(Size::ModulePx(DEFAULT_MODULE_PX)) {
        Size::ModulePx(n) => (n, framed * n),
        Size::WidthPx { px, key } => {
            let n = px / framed;
            if n == 0 {
                return Err(Error::argument(format!(
                    "QR option '{key}' gives {px} pixels, too narrow for this text's {modules} modules \
                     and quiet zone: at least {framed} pixels are needed"
                )));
            }
            (n, px)
        }
    };
    if width > MAX_SIDE_PX {
        return Err(Error::argument(format!(
            "QR option 'modulePx' = {module_px} makes a {width}-pixel image for {modules} modules; \
             at most {MAX_SIDE_PX} pixels are allowed"
        )));
    }
    let symbol_px = modules * module_px;
    // A width that is not a whole number of modules widens the quiet zone, never shrinks it.
    let offset = (width - symbol_px) / 2;
    let mut image = Gray::white(width, width);
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i as u32 % modules, i as u32 / modules);
            image.fill(
                offset + mx * module_px,
                offset + my * module_px,
                module_px,
                module_px,
                0,
            );
        }
    }
    if options.caption {
        add_caption(&mut image, symbol_px, module_px * QUIET_ZONE)?;
    }
    Ok(image)
}

/// Take the cloud's `qrcode` picture (PNG), give it a full quiet zone, scale it (nearest
/// neighbour) to the asked size and add the caption. `ecLevel` cannot apply to a finished picture.
pub fn render_picture(png: &[u8], options: &RenderOptions) -> Result<Gray> {
    if options.explicit_ec_level {
        return Err(Error::argument(
            "QR option 'ecLevel' cannot apply: [qr] source = \"qrcode\" takes the cloud's picture as it is",
        ));
    }
    let decoded = decode_png(png)?;
    let (symbol, module) = crop_symbol(&decoded)?;
    let quiet = (module * QUIET_ZONE as f32).round() as u32;
    let framed_side = symbol.width.max(symbol.height) + 2 * quiet;
    if framed_side > MAX_SIDE_PX {
        return Err(Error::protocol(format!(
            "qrcode: the cloud's picture ({}x{} pixels, modules of {module:.0} pixels) would be \
             {framed_side} pixels a side with its quiet zone; at most {MAX_SIDE_PX} are allowed",
            decoded.width, decoded.height
        )));
    }
    let mut framed = Gray::white(symbol.width + 2 * quiet, symbol.height + 2 * quiet);
    for y in 0..symbol.height {
        let from = y as usize * symbol.width as usize;
        let to = (y + quiet) as usize * framed.width as usize + quiet as usize;
        framed.pixels[to..to + symbol.width as usize]
            .copy_from_slice(&symbol.pixels[from..from + symbol.width as usize]);
    }
    let (mut image, scale) = match options.size {
        None => (framed, 1.0),
        Some(Size::ModulePx(n)) => {
            let scale = n as f32 / module;
            let width = (framed.width as f32 * scale).round() as u32;
            if width > MAX_SIDE_PX {
                return Err(Error::argument(format!(
                    "QR option 'modulePx' = {n} makes a {width}-pixel image; at most {MAX_SIDE_PX} pixels are allowed"
                )));
            }
            (scale_nearest(&framed, width.max(1))?, scale)
        }
        Some(Size::WidthPx { px, .. }) => {
            let scale = px as f32 / framed.width as f32;
            (scale_nearest(&framed, px)?, scale)
        }
    };
    if options.caption {
        let symbol_px = (symbol.width as f32 * scale).round() as u32;
        let quiet_px = (quiet as f32 * scale).round() as u32;
        add_caption(&mut image, symbol_px, quiet_px)?;
    }
    Ok(image)
}

/// Any PNG (palette, RGB, alpha, 16-bit) as greyscale on white.
fn decode_png(bytes: &[u8]) -> Result<Gray> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err(Error::protocol("qrcode: the cloud's picture is not a PNG"));
    }
    let bad = |e: png::DecodingError| {
        Error::protocol(format!("qrcode: the cloud's PNG cannot be read: {e}"))
    };
    let mut decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: MAX_PICTURE_BYTES,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(bad)?;
    // The header is all a hostile picture costs to send: check it before allocating anything.
    let (width, height) = (reader.info().width, reader.info().height);
    if width > MAX_SIDE_PX || height > MAX_SIDE_PX {
        return Err(Error::protocol(format!(
            "qrcode: the cloud's PNG is {width}x{height} pixels, more than {MAX_SIDE_PX} a side"
        )));
    }
    let size = reader
        .output_buffer_size()
        .filter(|&n| n <= MAX_PICTURE_BYTES)
        .ok_or_else(|| {
            Error::protocol(format!(
                "qrcode: the cloud's PNG ({width}x{height} pixels) decodes to more than {} MiB",
                MAX_PICTURE_BYTES >> 20
            ))
        })?;
    let mut buffer = vec![0; size];
    let info = reader.next_frame(&mut buffer).map_err(bad)?;
    let channels = info.color_type.samples();
    let mut gray = Gray::white(info.width, info.height);
    for y in 0..info.height as usize {
        let line = &buffer[y * info.line_size..];
        for x in 0..info.width as usize {
            let px = &line[x * channels..(x + 1) * channels];
            let (luma, alpha) = match px {
                [g] => (u32::from(*g), 255),
                [g, a] => (u32::from(*g), u32::from(*a)),
                [r, g, b] => (
                    (299 * u32::from(*r) + 587 * u32::from(*g) + 114 * u32::from(*b)) / 1000,
                    255,
                ),
                [r, g, b, a] => (
                    (299 * u32::from(*r) + 587 * u32::from(*g) + 114 * u32::from(*b)) / 1000,
                    u32::from(*a),
                ),
                _ => {
                    return Err(Error::protocol(
                        "qrcode: the cloud's PNG has an unexpected pixel format",
                    ))
                }
            };
            // Transparent means paper: composite over white.
            gray.pixels[y * info.width as usize + x] =
                ((luma * alpha + 255 * (255 - alpha)) / 255) as u8;
        }
    }
    Ok(gray)
}

/// The symbol without whatever margin the picture had, and its module size in pixels
/// (the top-left finder pattern's dark run is 7 modules wide).
fn crop_symbol(picture: &Gray) -> Result<(Gray, f32)> {
    let dark = |x: u32, y: u32| picture.at(x, y) < 128;
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..picture.height {
        for x in 0..picture.width {
            if dark(x, y) {
                min_x = min_x.min(x);
                min_y = min_y.min(y);
                max_x = max_x.max(x);
                max_y = max_y.max(y);
            }
        }
    }
    if min_x == u32::MAX {
        return Err(Error::protocol("qrcode: the cloud's picture is blank"));
    }
    let run = (min_x..=max_x).take_while(|&x| dark(x, min_y)).count() as u32;
    if run < 7 {
        return Err(Error::protocol(
            "qrcode: the cloud's picture does not look like a QR code (no finder pattern at its top-left)",
        ));
    }
    let (width, height) = (max_x - min_x + 1, max_y - min_y + 1);
    let mut symbol = Gray::white(width, height);
    for y in 0..height {
        for x in 0..width {
            symbol.pixels[(y * width + x) as usize] = picture.at(min_x + x, min_y + y);
        }
    }
    Ok((symbol, run as f32 / 7.0))
}

/// Nearest-neighbour scaling to `width` (height in proportion): keeps module edges sharp.
fn scale_nearest(image: &Gray, width: u32) -> Result<Gray> {
    let height = ((u64::from(image.height) * u64::from(width) + u64::from(image.width) / 2)
        / u64::from(image.width)) as u32;
    if width == 0 || height == 0 || height > MAX_SIDE_PX {
        return Err(Error::argument(format!(
            "QR size of {width} pixels is out of range"
        )));
    }
    let mut out = Gray::white(width, height);
    for y in 0..height {
        let sy = (u64::from(y) * u64::from(image.height) / u64::from(height)) as u32;
        for x in 0..width {
            let sx = (u64::from(x) * u64::from(image.width) / u64::from(width)) as u32;
            out.pixels[(y * width + x) as usize] = image.at(sx, sy);
        }
    }
    Ok(out)
}

/// Extend `image` downwards with the caption, centred, sized to a share of the symbol's width.
/// The text starts below the quiet zone, which stays clear.
fn add_caption(image: &mut Gray, symbol_px: u32, quiet_px: u32) -> Result<()> {
    let em_width: f32 = CAPTION
        .chars()
        .map(|c| caption_glyph(c).map(|g| g.advance))
        .sum::<Result<f32>>()?
        / UNITS_PER_EM;
    let px_per_em = symbol_px as f32 * CAPTION_WIDTH_SHARE / em_width;

    // Lay out on baseline 0, measure the ink, then place the ink box centred under the symbol.
    let outlined = caption_layout(px_per_em)?;
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for o in &outlined {
        let [x0, y0, x1, y1] = o.px;
        min_x = min_x.min(x0);
        min_y = min_y.min(y0);
        max_x = max_x.max(x1);
        max_y = max_y.max(y1);
    }
    if outlined.is_empty() || max_x - min_x > image.width as f32 {
        return Err(Error::internal("caption does not fit its picture"));
    }
    let ink_height = (max_y - min_y).ceil() as u32;
    let bottom_margin = (quiet_px / 2).max(2);
    let top = image.height;
    let new_height = top + ink_height + bottom_margin;
    if image.width as usize * new_height as usize > MAX_IMAGE_BYTES {
        return Err(Error::protocol(format!(
            "the captioned image would be {}x{new_height} pixels, more than {MAX_IMAGE_BYTES} in all",
            image.width
        )));
    }
    image
        .pixels
        .resize(image.width as usize * new_height as usize, 255);
    image.height = new_height;
    // px_bounds are whole pixels, so whole-pixel offsets keep the rasterised coverage exact.
    let dx = ((image.width as f32 - (max_x - min_x)) / 2.0 - min_x).round() as i64;
    let dy = top as i64 - min_y as i64;
    for o in &outlined {
        let [x0, y0, _, _] = o.px;
        o.draw(|x, y, coverage| {
            let px = x0 as i64 + i64::from(x) + dx;
            let py = y0 as i64 + i64::from(y) + dy;
            if (0..i64::from(image.width)).contains(&px)
                && (0..i64::from(image.height)).contains(&py)
            {
                let slot = &mut image.pixels[py as usize * image.width as usize + px as usize];
                let ink = (255.0 * (1.0 - coverage.clamp(0.0, 1.0))).round() as u8;
                *slot = (*slot).min(ink);
            }
        });
    }
    Ok(())
}

/// Encode as an 8-bit greyscale PNG, with a pHYs chunk when `dpi` is given.
pub fn encode_png(image: &Gray, dpi: Option<u32>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    if let Some(dpi) = dpi {
        let per_metre = (f64::from(dpi) / 0.0254).round() as u32;
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
    }
    let fail = |e: png::EncodingError| Error::internal(format!("PNG encoding failed: {e}"));
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&image.pixels).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Write `bytes` to `path` whole: a temporary file beside it, then a rename, so a report tool
/// never reads half a picture. Failures are `MIIC_E_IO` naming the path.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |what: &str, e: std::io::Error| {
        Error::io(format!("cannot {what} '{}': {e}", path.display()))
    };
    if path.file_name().is_none() {
        return Err(Error::argument(format!(
            "'png_path' = '{}' is not a file path",
            path.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::io(format!(
            "cannot write PNG '{}': it is a directory",
            path.display()
        )));
    }
    crate::fs::write_atomically(path, bytes).map_err(|e| io("write PNG", e))
}

/// `miic_qr_render`: any text, no network.
pub fn render_to_file(text: &str, params: &Params, path: &Path) -> Result<()> {
    let options = RenderOptions::from_params(params, TextEncoding::Utf8, &[])?;
    let image = render_text(text, &options)?;
    write_atomically(path, &encode_png(&image, options.dpi)?)
}

/// `miic_qr_image`: the exam's film URL from `qrurl` rendered here, or the cloud's `qrcode`
/// picture with the caption added, as `[qr] source` says; written to `path`.
pub fn qr_image(ctx: &Context, params: &Params, path: &Path) -> Result<()> {
    // Options first: a typo fails before any network call.
    let options = RenderOptions::from_params(params, ctx.encoding(), &EXAM_KEYS)?;
    let image = match ctx.config.qr.source {
        QrSource::Qrurl => render_text(&qr::qr_url(ctx, params)?, &options)?,
        QrSource::Qrcode => render_picture(&qr::qr_picture(ctx, params)?, &options)?,
    };
    write_atomically(path, &encode_png(&image, options.dpi)?)?;
    // Not the path: report tools may name the file after the patient.
    log::info!("QR image written: {}x{} pixels", image.width, image.height);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    /// The compiled-in outlines draw what a font renderer draws from the font file itself:
    /// ab_glyph (the renderer miic used before) on the same OTF, glyph by glyph, at the sizes a
    /// 21-module code takes from 1 to 100 px per module and a few fractional ones.
    #[test]
    fn caption_pixels_are_the_font_renderers_to_the_last_bit() {
        use ab_glyph::{Font, FontRef, PxScale};
        let font =
            FontRef::try_from_slice(include_bytes!("../assets/fonts/NotoSansCJKsc-Caption.otf"))
                .unwrap();
        let upem = font.units_per_em().unwrap();
        assert_eq!(upem, UNITS_PER_EM);
        assert_eq!(font.height_unscaled(), HEIGHT_UNSCALED);
        let sizes = (1..=100).map(|m| (21 * m) as f32 * CAPTION_WIDTH_SHARE / 8.0);
        let mut compared = 0usize;
        for px_per_em in sizes.chain([7.3, 13.77, 51.05, 333.3]) {
            let ours = caption_layout(px_per_em).unwrap();
            let scale = PxScale::from(px_per_em * font.height_unscaled() / upem);
            for (placed, c) in ours.iter().zip(CAPTION.chars()) {
                let id = font.glyph_id(c);
                assert_eq!(font.h_advance_unscaled(id), placed.glyph.advance, "{c}");
                let glyph = id.with_scale_and_position(scale, ab_glyph::point(placed.caret, 0.0));
                let theirs = font.outline_glyph(glyph).unwrap();
                let b = theirs.px_bounds();
                assert_eq!(
                    [b.min.x, b.min.y, b.max.x, b.max.y],
                    placed.px,
                    "{c} at {px_per_em}"
                );
                let width = (b.max.x - b.min.x) as usize;
                let mut expected = vec![0f32; width * (b.max.y - b.min.y) as usize];
                theirs.draw(|x, y, v| expected[y as usize * width + x as usize] = v);
                let mut got = vec![0f32; expected.len()];
                placed.draw(|x, y, v| got[y as usize * width + x as usize] = v);
                assert!(got == expected, "{c} at {px_per_em} px/em: pixels differ");
                compared += got.len();
            }
        }
        assert!(compared > 1_000_000, "{compared} pixels compared");
    }

    #[test]
    fn every_caption_character_is_in_the_compiled_font() {
        for c in CAPTION.chars() {
            let g = caption_glyph(c).unwrap();
            assert!(g.advance > 0.0 && !g.curves.is_empty(), "{c}");
        }
        assert_eq!(CAPTION_GLYPHS.len(), CAPTION.chars().count());
    }

    fn options(pairs: &[(&str, &str)]) -> Result<RenderOptions> {
        let mut p = Params::new();
        for (k, v) in pairs {
            p.set(k, *v).unwrap();
        }
        RenderOptions::from_params(&p, TextEncoding::Utf8, &EXAM_KEYS)
    }

    #[test]
    fn bad_options_name_their_key() {
        for (pairs, key) in [
            (vec![("modulePx", "0")], "modulePx"),
            (vec![("sizePx", "wide")], "sizePx"),
            (vec![("sizeMm", "-3")], "sizeMm"),
            (vec![("sizeMm", "0.5")], "sizeMm"),
            (vec![("dpi", "7")], "dpi"),
            (vec![("caption", "maybe")], "caption"),
            (vec![("ecLevel", "L")], "ecLevel"),
            (vec![("modulepx", "4")], "modulepx"),
            (vec![("modulePx", "4"), ("sizePx", "300")], "sizePx"),
        ] {
            let e = options(&pairs).unwrap_err();
            assert_eq!(e.status, Status::Argument);
            assert!(e.message.contains(key), "{pairs:?}: {}", e.message);
        }
    }

    #[test]
    fn size_in_mm_becomes_pixels_at_the_dpi() {
        let o = options(&[("sizeMm", "25.4"), ("dpi", "600")]).unwrap();
        assert_eq!(
            o.size,
            Some(Size::WidthPx {
                px: 600,
                key: "sizeMm"
            })
        );
        let o = options(&[("sizeMm", "25.4")]).unwrap();
        assert_eq!(
            (o.size, o.dpi),
            (
                Some(Size::WidthPx {
                    px: 300,
                    key: "sizeMm"
                }),
                Some(300)
            )
        );
    }

    #[test]
    fn exact_width_keeps_at_least_the_quiet_zone() {
        let o = options(&[("sizePx", "333"), ("caption", "0")]).unwrap();
        let image = render_text("HELLO", &o).unwrap();
        assert_eq!((image.width, image.height), (333, 333));
        // Version 1 (21 modules) + 8 quiet modules = 29; 333 / 29 = 11 px per module.
        let margin = (333 - 21 * 11) / 2;
        assert!(margin >= 4 * 11);
        for i in 0..margin {
            assert_eq!(image.at(i, i), 255, "quiet zone at {i}");
        }
        assert_eq!(image.at(margin, margin), 0, "finder pattern corner");
    }

    #[test]
    fn cloud_picture_without_margin_gets_quiet_zone_and_caption() {
        let bare = render_text(
            "http://h/x",
            &RenderOptions {
                caption: false,
                ..Default::default()
            },
        )
        .unwrap();
        let (symbol, module) = crop_symbol(&bare).unwrap();
        assert_eq!(module, DEFAULT_MODULE_PX as f32);
        let png = encode_png(&symbol, None).unwrap();
        let image = render_picture(&png, &RenderOptions::default()).unwrap();
        assert_eq!(image.width, bare.width);
        assert!(image.height > image.width, "caption band added");
        assert_eq!(&image.pixels[..bare.pixels.len()], &bare.pixels[..]);
    }

    #[test]
    fn cloud_picture_module_px_rescales_and_ec_level_is_refused() {
        let bare = render_text(
            "http://h/x",
            &RenderOptions {
                caption: false,
                ..Default::default()
            },
        )
        .unwrap();
        let png = encode_png(&bare, None).unwrap();
        let half = RenderOptions {
            size: Some(Size::ModulePx(4)),
            caption: false,
            ..Default::default()
        };
        let image = render_picture(&png, &half).unwrap();
        assert_eq!(
            (image.width, image.height),
            (bare.width / 2, bare.height / 2)
        );
        let mut p = Params::new();
        p.set("ecLevel", "H").unwrap();
        let o = RenderOptions::from_params(&p, TextEncoding::Utf8, &[]).unwrap();
        let e = render_picture(&png, &o).unwrap_err();
        assert!(e.message.contains("ecLevel"), "{}", e.message);
        let e = render_picture(b"GIF89a", &RenderOptions::default()).unwrap_err();
        assert_eq!(e.status, Status::Protocol);
    }
}
