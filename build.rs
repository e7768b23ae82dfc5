//! Generates the C header with cbindgen (version pinned in Cargo.toml) into `$OUT_DIR/miic.h`,
//! the `Status` enum from the status list in src/error.rs into `$OUT_DIR/status.rs`, and the
//! QR caption's glyph outlines from its embedded font into `$OUT_DIR/caption_glyphs.rs`.
//!
//! The source tree is never written: include/miic.h is committed, `header_is_current`
//! (tests/header.rs) fails when it differs from the generated one, and scripts/gen-header.sh
//! copies the generated header over it on purpose. When cbindgen fails, `$OUT_DIR/miic.h.error`
//! says why and that test fails with it.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed={CAPTION_FONT}");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    write_caption_glyphs(
        &crate_dir.join(CAPTION_FONT),
        &out_dir.join("caption_glyphs.rs"),
    );
    write_status_enum(
        &crate_dir.join("src").join("error.rs"),
        &out_dir.join("status.rs"),
    );
    let header = out_dir.join("miic.h");
    let failure = out_dir.join("miic.h.error");
    match generate_header(&crate_dir) {
        Ok(text) => {
            let _ = std::fs::remove_file(&failure);
            // Rewrite only on change, so the header's mtime stays quiet.
            if std::fs::read_to_string(&header).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&header, &text).expect("write OUT_DIR/miic.h");
            }
        }
        Err(e) => {
            // A syntax error in src/ is reported by rustc itself; the header test reports this.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            let _ = std::fs::remove_file(&header);
            std::fs::write(&failure, e).expect("write OUT_DIR/miic.h.error");
        }
    }
}

fn generate_header(crate_dir: &std::path::Path) -> Result<String, String> {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = std::env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| format!("cbindgen.toml: {e}"))?;
    config.after_includes = Some(format!(
        "\n#define MIIC_VERSION_MAJOR {major}\n#define MIIC_VERSION_MINOR {minor}\n#define MIIC_VERSION_PATCH {patch}\n\
         #define MIIC_VERSION_STRING \"{major}.{minor}.{patch}\"\n\
         /* MAJOR * 10000 + MINOR * 100 + PATCH */\n\
         #define MIIC_VERSION_NUMBER (MIIC_VERSION_MAJOR * 10000 + MIIC_VERSION_MINOR * 100 + MIIC_VERSION_PATCH)\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = String::from_utf8(text).map_err(|_| "the header is not UTF-8".to_string())?;
    Ok(parenthesize_negative_defines(&text))
}

/// `#define MIIC_E_ARGUMENT -1` → `#define MIIC_E_ARGUMENT (-1)`, so `x-MIIC_E_ARGUMENT` stays sane.
fn parenthesize_negative_defines(header: &str) -> String {
    header
        .lines()
        .map(|line| {
            match line
                .strip_prefix("#define ")
                .and_then(|r| r.split_once(' '))
            {
                Some((name, value))
                    if value.starts_with('-') && value[1..].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    format!("#define {name} ({value})")
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// One status of the list in src/error.rs: `/// meaning` lines, then `pub const MIIC_…: i32 = code;`.
struct StatusLine {
    c_name: String,
    code: i32,
    doc: Vec<String>,
}

/// Generate `Status` (enum, `ALL`, `code`, `from_code`, `name`, `c_name`) from the `MIIC_*`
/// constants of src/error.rs, so the list is written once and cbindgen reads the same lines.
fn write_status_enum(error_rs: &std::path::Path, out: &std::path::Path) {
    let text = std::fs::read_to_string(error_rs).expect("read src/error.rs");
    let mut statuses: Vec<StatusLine> = Vec::new();
    let mut doc = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim().to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("pub const MIIC_") {
            let (name, value) = rest.split_once(": i32 = ").unwrap_or_else(|| {
                panic!("src/error.rs: status '{line}' is not `pub const MIIC_X: i32 = N;`")
            });
            let code = value
                .trim_end_matches(';')
                .parse()
                .unwrap_or_else(|_| panic!("src/error.rs: status '{line}' has no integer code"));
            statuses.push(StatusLine {
                c_name: format!("MIIC_{name}"),
                code,
                doc: std::mem::take(&mut doc),
            });
        }
        doc.clear();
    }
    assert!(
        statuses.iter().any(|s| s.c_name == "MIIC_OK"),
        "src/error.rs: no status list found"
    );
    let variant = |c_name: &str| -> String {
        let word = c_name
            .strip_prefix("MIIC_E_")
            .or_else(|| c_name.strip_prefix("MIIC_"))
            .unwrap_or(c_name);
        word.split('_')
            .map(|part| {
                let lower = part.to_ascii_lowercase();
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut code = String::from(
        "// @generated by build.rs from the status list in src/error.rs.\n\n\
         /// Status codes of the C ABI (the `MIIC_*` constants; numbers fixed by DESIGN.md).\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n#[repr(i32)]\npub enum Status {\n",
    );
    for s in &statuses {
        for d in &s.doc {
            code += &format!("    /// {d}\n");
        }
        code += &format!("    {} = {},\n", variant(&s.c_name), s.c_name);
    }
    code += "}\n\nimpl Status {\n";
    code += &format!("    pub const ALL: [Status; {}] = [\n", statuses.len());
    for s in &statuses {
        code += &format!("        Status::{},\n", variant(&s.c_name));
    }
    code += "    ];\n\n    pub fn code(self) -> i32 {\n        self as i32\n    }\n\n";
    code += "    pub fn from_code(code: i32) -> Option<Status> {\n        match code {\n";
    for s in &statuses {
        code += &format!(
            "            {} => Some(Status::{}),\n",
            s.code,
            variant(&s.c_name)
        );
    }
    code += "            _ => None,\n        }\n    }\n\n";
    code += "    /// The C name, e.g. `MIIC_E_ARGUMENT`.\n    pub fn name(self) -> &'static str {\n        match self {\n";
    for s in &statuses {
        code += &format!(
            "            Status::{} => \"{}\",\n",
            variant(&s.c_name),
            s.c_name
        );
    }
    code += "        }\n    }\n\n";
    code += "    /// The C name as a NUL-terminated string (`miic_status_name`).\n    pub fn c_name(self) -> &'static std::ffi::CStr {\n        match self {\n";
    for s in &statuses {
        code += &format!(
            "            Status::{} => c\"{}\",\n",
            variant(&s.c_name),
            s.c_name
        );
    }
    code += "        }\n    }\n}\n";
    if std::fs::read_to_string(out).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(out, code).expect("write OUT_DIR/status.rs");
    }
}

/// The subset of Noto Sans CJK SC that holds the QR caption's characters (src/qr_image.rs).
const CAPTION_FONT: &str = "assets/fonts/NotoSansCJKsc-Caption.otf";

/// Every character of the caption font as outline curves in font units, for src/qr_image.rs to
/// rasterise: the library carries a few KB of curves instead of an OpenType parser (~0.1 MB of
/// the DLL) for eight fixed glyphs. The curves are those a font renderer reads from the font
/// (ttf-parser's outline, each contour closed by a line), so the pixels are the same.
fn write_caption_glyphs(font: &std::path::Path, out: &std::path::Path) {
    let data = std::fs::read(font).expect("read the caption font");
    let face = ttf_parser::Face::parse(&data, 0).expect("parse the caption font");
    let mut chars = Vec::new();
    if let Some(cmap) = face.tables().cmap {
        for subtable in cmap.subtables {
            if subtable.is_unicode() {
                subtable.codepoints(|c| chars.extend(char::from_u32(c)));
            }
        }
    }
    chars.sort_unstable();
    chars.dedup();
    let mut text = format!(
        "// Generated by build.rs from {CAPTION_FONT}.\n\
         const UNITS_PER_EM: f32 = {:?};\n\
         const HEIGHT_UNSCALED: f32 = {:?};\n\
         static CAPTION_GLYPHS: &[CaptionGlyph] = &[\n",
        f32::from(face.units_per_em()),
        f32::from(face.ascender()) - f32::from(face.descender()),
    );
    for c in chars {
        let Some(id) = face.glyph_index(c) else {
            continue;
        };
        let mut curves = Curves::default();
        let Some(b) = face
            .outline_glyph(id, &mut curves)
            .filter(|b| b.x_min < b.x_max && b.y_min < b.y_max)
        else {
            continue;
        };
        ttf_parser::OutlineBuilder::close(&mut curves);
        let advance = f32::from(face.glyph_hor_advance(id).unwrap_or_default());
        text.push_str(&format!(
            "    CaptionGlyph {{ ch: {c:?}, advance: {advance:?}, bounds: [{:?}, {:?}, {:?}, {:?}], curves: &[\n{}    ] }},\n",
            f32::from(b.x_min),
            f32::from(b.y_min),
            f32::from(b.x_max),
            f32::from(b.y_max),
            curves.text
        ));
    }
    text.push_str("];\n");
    if std::fs::read_to_string(out).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(out, text).expect("write OUT_DIR/caption_glyphs.rs");
    }
}

#[derive(Default)]
struct Curves {
    last: (f32, f32),
    contour_start: Option<(f32, f32)>,
    text: String,
}

impl ttf_parser::OutlineBuilder for Curves {
    fn move_to(&mut self, x: f32, y: f32) {
        self.last = (x, y);
        self.contour_start = Some((x, y));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let (x0, y0) = self.last;
        self.text.push_str(&format!(
            "        Curve::Line([{x0:?}, {y0:?}, {x:?}, {y:?}]),\n"
        ));
        self.last = (x, y);
    }
    fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {
        panic!("{CAPTION_FONT} has quadratic curves (a TrueType font?): src/qr_image.rs draws CFF's cubic ones");
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x0, y0) = self.last;
        self.text.push_str(&format!(
            "        Curve::Cubic([{x0:?}, {y0:?}, {x1:?}, {y1:?}, {x2:?}, {y2:?}, {x:?}, {y:?}]),\n"
        ));
        self.last = (x, y);
    }
    fn close(&mut self) {
        if let Some(start) = self.contour_start.take() {
            self.line_to(start.0, start.1);
        }
    }
}
