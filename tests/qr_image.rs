//! QR code PNGs (spec 4.3) through the C ABI: decoded by independent decoders (rqrr, and
//! Debian's zbarimg reading the file itself), caption ink, sizes, DPI, and errors.

use miic::ffi::boundary::miic_last_error;
use miic::ffi::params::{miic_params, miic_params_free, miic_params_new, miic_params_set};
use miic::ffi::qr_image::miic_qr_render;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

const OK: i32 = 0;
const E_ARGUMENT: i32 = -1;
const E_IO: i32 = -11;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(miic_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// A params bag built through the C ABI, freed on drop.
struct Bag(*mut miic_params);

impl Bag {
    fn new(pairs: &[(&str, &str)]) -> Bag {
        let p = miic_params_new();
        assert!(!p.is_null());
        for (k, v) in pairs {
            assert_eq!(
                unsafe { miic_params_set(p, c(k).as_ptr(), c(v).as_ptr()) },
                OK
            );
        }
        Bag(p)
    }
}

impl Drop for Bag {
    fn drop(&mut self) {
        miic_params_free(self.0);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("miic-qr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn render(text: &str, path: &Path, options: &[(&str, &str)]) -> i32 {
    let bag = Bag::new(options);
    let path = c(path.to_str().unwrap());
    unsafe { miic_qr_render(c(text).as_ptr(), path.as_ptr(), bag.0) }
}

struct Png {
    width: u32,
    height: u32,
    gray: Vec<u8>,
    /// pHYs: pixels per unit and unit (1 = metre), read from the chunk bytes.
    phys: Option<(u32, u32, u8)>,
}

fn read_png(path: &Path) -> Png {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Png {
        width: info.width,
        height: info.height,
        gray: buf,
        phys: phys_chunk(&bytes),
    }
}

/// Walk the PNG chunks by hand (not through the decoder that wrote them) to find pHYs.
fn phys_chunk(bytes: &[u8]) -> Option<(u32, u32, u8)> {
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        if kind == b"pHYs" {
            let x = u32::from_be_bytes(data[0..4].try_into().unwrap());
            let y = u32::from_be_bytes(data[4..8].try_into().unwrap());
            return Some((x, y, data[8]));
        }
        at += 12 + len;
    }
    None
}

impl Png {
    fn at(&self, x: u32, y: u32) -> u8 {
        self.gray[(y * self.width + x) as usize]
    }

    /// Decode with rqrr (a port of quirc): exactly one code, its text.
    fn decode(&self) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(
            self.width as usize,
            self.height as usize,
            |x, y| self.at(x as u32, y as u32),
        );
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the picture");
        let (_, text) = grids[0].decode().expect("rqrr decodes the code");
        text
    }

    /// Bounding box of dark pixels in rows `from..to`: (min_x, max_x, count).
    fn ink(&self, from: u32, to: u32) -> (u32, u32, usize) {
        let (mut min_x, mut max_x, mut count) = (u32::MAX, 0, 0);
        for y in from..to {
            for x in 0..self.width {
                if self.at(x, y) < 128 {
                    min_x = min_x.min(x);
                    max_x = max_x.max(x);
                    count += 1;
                }
            }
        }
        (min_x, max_x, count)
    }
}

fn zbarimg(path: &Path) -> String {
    let out = std::process::Command::new("zbarimg")
        .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
        .arg(path)
        .output()
        .expect("zbarimg runs (scripts/test.sh installs zbar-tools)");
    assert!(
        out.status.success(),
        "zbarimg found no code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end_matches('\n')
        .to_owned()
}

const URL: &str = "http://wx.imagingunion.com/iuweixin/iu_scanFilmInfo?info=ZAWpnmCW6Vy2rhVuxqtxHO/yRG6Q+a7OvGk9M0LUNa8=";

fn long_url() -> String {
    let url = format!(
        "{URL}&accessNumber=CT20261126000123&modality=CT&hospitalId=H12345678901234&sig={}",
        "Ab3-".repeat(60)
    );
    assert!(url.len() > 300);
    url
}

#[test]
fn rendered_png_decodes_to_the_text_with_quiet_zone_and_captioned_band() {
    let dir = temp_dir("basic");
    let path = dir.join("qr.png");
    assert_eq!(render(URL, &path, &[]), OK, "{}", last_error());
    let png = read_png(&path);
    assert_eq!(png.decode(), URL);
    // Default 8 px per module: the first 4 modules on each side of the square are blank.
    assert_eq!(png.width % 8, 0);
    let quiet = 4 * 8;
    for i in 0..png.width {
        for j in 0..quiet {
            assert_eq!(png.at(i, j), 255, "top quiet zone at ({i},{j})");
            assert_eq!(png.at(j, i), 255, "left quiet zone at ({j},{i})");
            assert_eq!(png.at(png.width - 1 - j, i), 255, "right quiet zone");
            assert_eq!(png.at(i, png.width - 1 - j), 255, "bottom quiet zone");
        }
    }
    assert_eq!(
        png.at(quiet, quiet),
        0,
        "finder pattern starts after the quiet zone"
    );
    assert!(png.height > png.width, "a caption band below the square");
    let (_, _, ink) = png.ink(png.width, png.height);
    let band = (png.height - png.width) as usize * png.width as usize;
    assert!(
        ink * 20 > band,
        "caption band has ink: {ink} dark pixels of {band}"
    );
    assert_eq!(png.phys, None, "no DPI asked, no pHYs");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn caption_is_centred_under_the_code_and_spans_most_of_it() {
    let dir = temp_dir("centred");
    let path = dir.join("qr.png");
    assert_eq!(
        render(URL, &path, &[("modulePx", "6")]),
        OK,
        "{}",
        last_error()
    );
    let png = read_png(&path);
    let (min_x, max_x, _) = png.ink(png.width, png.height);
    let (left, right) = (min_x, png.width - 1 - max_x);
    assert!(
        left.abs_diff(right) <= 2,
        "caption centred: {left} px left, {right} px right"
    );
    let (code_min, code_max, _) = png.ink(0, png.width);
    let symbol = code_max - code_min + 1;
    let caption = max_x - min_x + 1;
    assert!(
        caption * 10 >= symbol * 7 && caption <= symbol,
        "caption {caption} px under a {symbol} px code"
    );
}

#[test]
fn caption_off_gives_a_square_with_no_band() {
    let dir = temp_dir("nocaption");
    let path = dir.join("qr.png");
    assert_eq!(
        render(URL, &path, &[("caption", "0")]),
        OK,
        "{}",
        last_error()
    );
    let png = read_png(&path);
    assert_eq!(png.width, png.height);
    assert_eq!(png.decode(), URL);
}

#[test]
fn size_in_mm_at_dpi_sets_pixels_and_phys() {
    let dir = temp_dir("mm");
    let path = dir.join("qr.png");
    assert_eq!(
        render(URL, &path, &[("sizeMm", "30"), ("dpi", "300")]),
        OK,
        "{}",
        last_error()
    );
    let png = read_png(&path);
    assert_eq!(png.width, 354, "30 mm at 300 DPI");
    assert_eq!(
        png.phys,
        Some((11811, 11811, 1)),
        "300 DPI = 11811 pixels per metre"
    );
    assert_eq!(png.decode(), URL);
}

#[test]
fn size_px_is_the_exact_width_and_dpi_alone_only_labels_it() {
    let dir = temp_dir("px");
    let path = dir.join("qr.png");
    assert_eq!(
        render(URL, &path, &[("sizePx", "501"), ("dpi", "600")]),
        OK,
        "{}",
        last_error()
    );
    let png = read_png(&path);
    assert_eq!(png.width, 501);
    assert_eq!(png.phys, Some((23622, 23622, 1)));
    assert_eq!(png.decode(), URL);
}

#[test]
fn module_px_sets_the_module_size() {
    let dir = temp_dir("module");
    let path = dir.join("qr.png");
    // "HELLO" fits version 1 (21 modules) at level M: (21 + 8) * 3 pixels.
    assert_eq!(
        render("HELLO", &path, &[("modulePx", "3"), ("caption", "0")]),
        OK,
        "{}",
        last_error()
    );
    let png = read_png(&path);
    assert_eq!((png.width, png.height), (87, 87));
    assert_eq!(png.decode(), "HELLO");
}

#[test]
fn long_urls_still_decode_at_every_level() {
    let dir = temp_dir("long");
    let url = long_url();
    for level in ["M", "Q", "H"] {
        let path = dir.join(format!("qr-{level}.png"));
        assert_eq!(
            render(&url, &path, &[("ecLevel", level), ("modulePx", "4")]),
            OK,
            "{}",
            last_error()
        );
        let png = read_png(&path);
        assert_eq!(png.decode(), url, "level {level}");
        assert_eq!(zbarimg(&path), url, "level {level} by zbarimg");
    }
}

#[test]
fn zbarimg_reads_the_file_at_print_size() {
    let dir = temp_dir("zbar");
    let path = dir.join("qr.png");
    assert_eq!(
        render(URL, &path, &[("sizeMm", "25"), ("dpi", "200")]),
        OK,
        "{}",
        last_error()
    );
    assert_eq!(zbarimg(&path), URL);
}

#[test]
fn unwritable_path_gives_io_error_naming_it() {
    let dir = temp_dir("io");
    let missing = dir.join("no-such-dir").join("qr.png");
    assert_eq!(render(URL, &missing, &[]), E_IO);
    assert!(
        last_error().contains(missing.to_str().unwrap()),
        "{}",
        last_error()
    );
    assert_eq!(render(URL, &dir, &[]), E_IO, "a directory is not a file");
    assert!(
        last_error().contains(dir.to_str().unwrap()),
        "{}",
        last_error()
    );
    // A blocker file where the directory should be: not even root can write through it.
    std::fs::write(dir.join("file"), b"x").unwrap();
    let through_file = dir.join("file").join("qr.png");
    assert_eq!(render(URL, &through_file, &[]), E_IO);
    assert!(last_error().contains("file/qr.png"), "{}", last_error());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "nothing left behind"
    );
}

#[test]
fn existing_file_is_replaced_whole() {
    let dir = temp_dir("replace");
    let path = dir.join("qr.png");
    std::fs::write(&path, b"old picture").unwrap();
    assert_eq!(render("NEW", &path, &[]), OK, "{}", last_error());
    assert_eq!(read_png(&path).decode(), "NEW");
}

#[test]
fn bad_options_give_argument_errors_naming_them() {
    let dir = temp_dir("args");
    let path = dir.join("qr.png");
    for (options, name) in [
        (vec![("modulePx", "0")], "modulePx"),
        (vec![("modulePx", "abc")], "modulePx"),
        (vec![("sizePx", "20000")], "sizePx"),
        (vec![("sizeMm", "ten")], "sizeMm"),
        (vec![("dpi", "0")], "dpi"),
        (vec![("caption", "perhaps")], "caption"),
        (vec![("ecLevel", "L")], "ecLevel"),
        (vec![("accessNumber", "1")], "accessNumber"),
        (vec![("sizePx", "300"), ("sizeMm", "20")], "sizeMm"),
    ] {
        assert_eq!(render(URL, &path, &options), E_ARGUMENT, "{options:?}");
        assert!(last_error().contains(name), "{options:?}: {}", last_error());
    }
    // A width too small for this text's modules names the option too.
    assert_eq!(render(&long_url(), &path, &[("sizePx", "40")]), E_ARGUMENT);
    assert!(last_error().contains("sizePx"), "{}", last_error());
    assert!(!path.exists(), "no file on a bad option");
}

#[test]
fn null_empty_and_oversized_text_are_argument_errors() {
    let dir = temp_dir("null");
    let path = c(dir.join("qr.png").to_str().unwrap());
    let text = c(URL);
    assert_eq!(
        unsafe { miic_qr_render(std::ptr::null(), path.as_ptr(), std::ptr::null()) },
        E_ARGUMENT
    );
    assert!(last_error().contains("text"), "{}", last_error());
    assert_eq!(
        unsafe { miic_qr_render(text.as_ptr(), std::ptr::null(), std::ptr::null()) },
        E_ARGUMENT
    );
    assert!(last_error().contains("png_path"), "{}", last_error());
    assert_eq!(
        unsafe { miic_qr_render(c("").as_ptr(), path.as_ptr(), std::ptr::null()) },
        E_ARGUMENT
    );
    assert!(last_error().contains("text"), "{}", last_error());
    let huge = c(&"x".repeat(3000));
    assert_eq!(
        unsafe { miic_qr_render(huge.as_ptr(), path.as_ptr(), std::ptr::null()) },
        E_ARGUMENT
    );
    assert!(last_error().contains("text"), "{}", last_error());
    // NULL options mean the defaults.
    assert_eq!(
        unsafe { miic_qr_render(text.as_ptr(), path.as_ptr(), std::ptr::null()) },
        OK,
        "{}",
        last_error()
    );
}
