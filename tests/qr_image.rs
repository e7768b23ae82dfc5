//! QR code PNGs (spec 4.3) through the C ABI: decoded by independent decoders (rqrr, and
//! Debian's zbarimg reading the file itself), caption ink, sizes, DPI, and errors; end to end
//! from C (tests/c/qr_image_test.c) and from `miic-cli qr` against the cloud simulator.

mod common;
#[path = "support/ffi.rs"]
mod ffi;

use ffi::{cstr as c, last_error, ParamsHandle};
use miic::ffi::miic_qr_render;
use std::path::{Path, PathBuf};

const OK: i32 = 0;
const E_ARGUMENT: i32 = -1;
const E_IO: i32 = -11;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("miic-qr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn render(text: &str, path: &Path, options: &[(&str, &str)]) -> i32 {
    let bag = ParamsHandle::pairs(options);
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

// ---- end to end: C host and CLI against the cloud simulator ----

fn qr_c_program() -> PathBuf {
    common::c_program("qr_image_test", "tests/c/qr_image_test.c", &[], true)
}

/// Run the C program; returns (url printed by miic_qr_url, status name, last error).
fn run_c_image(config: &str, png: &Path, params: &str) -> (Option<String>, String, String) {
    let out = common::run_c(
        &qr_c_program(),
        &["image", png.to_str().unwrap(), params],
        &[("MIIC_TEST_CONFIG", config.to_owned())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "C program failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("url="))
        .map(str::to_owned);
    let last = stdout
        .lines()
        .find_map(|l| l.strip_prefix("status="))
        .expect("status line");
    let (status, error) = last.split_once(" error=").unwrap();
    (url, status.to_owned(), error.to_owned())
}

fn requests_to(sim: &common::Sim, endpoint: &str) -> Vec<serde_json::Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r["endpoint"] == endpoint)
        .collect()
}

const EXAM: &str = r#"{"accessNumber":"CT20261126001","modality":"CT"}"#;

#[test]
fn c_host_gets_a_captioned_png_of_the_qrurl_url() {
    let sim = common::Sim::start(&[]);
    let dir = temp_dir("e2e-url");
    let png = dir.join("报告二维码.png");
    let (url, status, error) = run_c_image(&sim.config(""), &png, EXAM);
    assert_eq!(status, "MIIC_OK", "{error}");
    let url = url.expect("qrurl answered");
    assert!(url.starts_with("http://wx.imagingunion.com/"), "{url}");
    let image = read_png(&png);
    assert_eq!(image.decode(), url, "the PNG holds the URL the cloud gave");
    assert_eq!(zbarimg(&png), url);
    let (_, _, ink) = image.ink(image.width, image.height);
    assert!(
        image.height > image.width && ink > 0,
        "caption under the code"
    );
    let asked = requests_to(&sim, "qrurl");
    assert_eq!(
        asked.len(),
        2,
        "one qrurl call each for miic_qr_url and miic_qr_image"
    );
    assert_eq!(asked[1]["params"]["hospitalId"], "H4401");
    assert_eq!(asked[1]["problems"], serde_json::json!([]));
    assert!(requests_to(&sim, "qrcode").is_empty());
}

#[test]
fn c_host_gets_the_cloud_qrcode_picture_with_caption_at_print_size() {
    let sim = common::Sim::start(&[]);
    let dir = temp_dir("e2e-picture");
    let png = dir.join("qr.png");
    let params = r#"{"accessNumber":"CT20261126001","modality":"CT","sizeMm":"30","dpi":"300"}"#;
    let (url, status, error) =
        run_c_image(&sim.config(r#""qr":{"source":"qrcode"}"#), &png, params);
    assert_eq!(status, "MIIC_OK", "{error}");
    let image = read_png(&png);
    assert_eq!(image.width, 354, "30 mm at 300 DPI");
    assert_eq!(image.phys, Some((11811, 11811, 1)));
    assert_eq!(
        image.decode(),
        url.expect("qrurl answered"),
        "the cloud's picture encodes the film URL"
    );
    let (_, _, ink) = image.ink(image.width, image.height);
    assert!(
        image.height > image.width && ink > 0,
        "caption added under the cloud's picture"
    );
    assert_eq!(
        requests_to(&sim, "qrcode").len(),
        1,
        "the picture came from qrcode"
    );
}

#[test]
fn cloud_refusal_and_bad_options_write_no_file() {
    let sim = common::Sim::start(&[]);
    let dir = temp_dir("e2e-errors");
    let png = dir.join("qr.png");
    sim.fault(serde_json::json!({"mode": "code202"}));
    let (_, status, error) = run_c_image(&sim.config(""), &png, EXAM);
    assert_eq!(status, "MIIC_E_SERVER", "{error}");
    assert!(error.contains("202"), "{error}");
    assert!(!png.exists());
    sim.reset();
    let with_typo = r#"{"accessNumber":"CT20261126001","modality":"CT","modulepx":"4"}"#;
    let (_, status, error) = run_c_image(&sim.config(""), &png, with_typo);
    assert_eq!(status, "MIIC_E_ARGUMENT");
    assert!(error.contains("modulepx"), "{error}");
    assert_eq!(
        requests_to(&sim, "qrurl").len(),
        1,
        "only miic_qr_url reached the cloud"
    );
    let unwritable = dir.join("missing").join("qr.png");
    let (_, status, error) = run_c_image(&sim.config(""), &unwritable, EXAM);
    assert_eq!(status, "MIIC_E_IO");
    assert!(error.contains(unwritable.to_str().unwrap()), "{error}");
    assert!(!png.exists());
}

#[test]
fn c_host_renders_any_text_without_a_client() {
    let dir = temp_dir("e2e-render");
    let png = dir.join("qr.png");
    let out = common::run_c(
        &qr_c_program(),
        &[
            "render",
            png.to_str().unwrap(),
            r#"{"modulePx":"5","caption":"0"}"#,
        ],
        &[("MIIC_TEST_TEXT", long_url())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("status=MIIC_OK"), "{stdout}");
    let image = read_png(&png);
    assert_eq!((image.width % 5, image.width), (0, image.height));
    assert_eq!(image.decode(), long_url());
}

#[test]
fn cli_qr_writes_the_png_for_an_exam() {
    let sim = common::Sim::start(&[]);
    let dir = temp_dir("cli");
    let png = dir.join("out.png");
    let config = dir.join("miic.json");
    std::fs::write(&config, sim.config("")).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(common::cli_binary())
            .args([
                "qr",
                "--config",
                config.to_str().unwrap(),
                "--access-number",
                "CT20261126001",
            ])
            .args(["--modality", "CT"])
            .args(extra)
            .output()
            .expect("run miic-cli qr")
    };
    let url_out = run(&[]);
    assert!(
        url_out.status.success(),
        "{}",
        String::from_utf8_lossy(&url_out.stderr)
    );
    let url = String::from_utf8(url_out.stdout).unwrap().trim().to_owned();
    let png_out = run(&[
        "--png",
        png.to_str().unwrap(),
        "--size-px",
        "400",
        "--dpi",
        "300",
    ]);
    assert!(
        png_out.status.success(),
        "{}",
        String::from_utf8_lossy(&png_out.stderr)
    );
    let image = read_png(&png);
    assert_eq!(image.width, 400);
    assert_eq!(image.decode(), url);
    let bad = run(&["--png", png.to_str().unwrap(), "--ec-level", "L"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ecLevel"));
}

#[test]
fn gbk_host_passes_a_chinese_png_path_in_gbk() {
    use std::os::unix::ffi::OsStrExt;
    let sim = common::Sim::start(&[]);
    let dir = temp_dir("e2e-gbk");
    let wanted = dir.join("报告二维码.png");
    let (gbk, _, _) = encoding_rs::GBK.encode(wanted.to_str().unwrap());
    let out = std::process::Command::new(qr_c_program())
        .arg("image")
        .arg(std::ffi::OsStr::from_bytes(&gbk))
        .arg(EXAM)
        .env("LD_LIBRARY_PATH", common::cdylib().parent().unwrap())
        .env("MIIC_TEST_CONFIG", sim.config(r#""text_encoding":"gbk""#))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("status=MIIC_OK"), "{stdout}");
    let url = stdout.lines().find_map(|l| l.strip_prefix("url=")).unwrap();
    assert_eq!(
        read_png(&wanted).decode(),
        url,
        "written under the Unicode name"
    );
}

#[test]
fn valgrind_finds_no_leak_or_invalid_access_in_qr_exports() {
    let sim = common::Sim::start(&[]);
    let dir = temp_dir("valgrind");
    let picture = r#"{"accessNumber":"CT20261126001","modality":"CT","modulePx":"2"}"#;
    let runs: [(&str, &str, String); 3] = [
        ("image", picture, sim.config("")),
        ("image", picture, sim.config(r#""qr":{"source":"qrcode"}"#)),
        ("render", r#"{"modulePx":"2","dpi":"300"}"#, String::new()),
    ];
    for (i, (mode, json, config)) in runs.iter().enumerate() {
        let png = dir.join(format!("{i}.png"));
        let out = std::process::Command::new("/usr/bin/valgrind")
            .args([
                "--tool=memcheck",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
            ])
            .arg("--error-exitcode=99")
            .arg(qr_c_program())
            .args([*mode, png.to_str().unwrap(), json])
            .env("LD_LIBRARY_PATH", common::cdylib().parent().unwrap())
            .env("MIIC_TEST_CONFIG", config)
            .env("MIIC_TEST_TEXT", URL)
            .output()
            .expect("valgrind is installed by scripts/test.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode} #{i}: {stdout}\n{stderr}"
        );
        assert!(stdout.contains("status=MIIC_OK"), "{mode} #{i}: {stdout}");
        assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
        assert!(
            stderr.contains("definitely lost: 0 bytes")
                || stderr.contains("All heap blocks were freed"),
            "{stderr}"
        );
        let want = stdout
            .lines()
            .find_map(|l| l.strip_prefix("url="))
            .unwrap_or(URL);
        assert_eq!(read_png(&png).decode(), want, "{mode} #{i}");
    }
}

// ---- a hostile or broken front-end: pictures that must not take the host down ----

/// A front-end that answers every request with `{"code":200,"data":"<base64 of picture>"}`
/// (qrurl and qrcode alike), on loopback, for at most `requests` connections.
struct PictureServer {
    url: String,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PictureServer {
    fn start(picture: &[u8], requests: usize) -> PictureServer {
        use base64::Engine;
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body = serde_json::json!({
            "code": 200,
            "message": "ok",
            "data": base64::engine::general_purpose::STANDARD.encode(picture),
        })
        .to_string();
        let thread = std::thread::spawn(move || {
            for _ in 0..requests {
                let Ok((mut socket, _)) = listener.accept() else {
                    return;
                };
                let _ = socket.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = write!(
                    socket,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        PictureServer {
            url,
            thread: Some(thread),
        }
    }

    fn config(&self) -> String {
        format!(
            r#"{{"base_url":"{}","hospital_id":"H4401","timeout_ms":5000,"qr":{{"source":"qrcode"}},"outbox":{{"path":{}}}}}"#,
            self.url,
            serde_json::Value::from(common::fresh_outbox_path().to_string_lossy())
        )
    }
}

impl Drop for PictureServer {
    fn drop(&mut self) {
        // Unblock the accept loop if the client made fewer requests than allowed.
        for _ in 0..2 {
            let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A ~100-byte PNG whose header claims `side`×`side` RGBA pixels (its data is one empty
/// deflate block): a decoder that trusts the header allocates side² × 4 bytes.
fn png_bomb(side: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A valid, all-black greyscale PNG of `side`×`side` pixels (compresses to little).
fn black_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; side as usize];
        for _ in 0..side {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

#[test]
fn png_bomb_from_the_front_end_is_a_protocol_error_and_the_host_survives() {
    let bomb = png_bomb(1_000_000);
    assert!(bomb.len() < 120, "{} bytes", bomb.len());
    let server = PictureServer::start(&bomb, 2);
    let dir = temp_dir("bomb");
    let png = dir.join("qr.png");
    // The C host exits normally (run_c_image asserts it): no abort on a huge allocation.
    let (_, status, error) = run_c_image(&server.config(), &png, EXAM);
    assert_eq!(status, "MIIC_E_PROTOCOL", "{error}");
    assert!(
        error.contains("1000000"),
        "the message names the size: {error}"
    );
    assert!(!png.exists());
}

#[test]
fn huge_valid_cloud_picture_is_a_protocol_error_before_framing_it() {
    // 6000² decodes within the picture bound, but with its quiet zone and caption it would
    // become a ~13000² image; 10,000² (the issue's case) is past the decoding bound already.
    for side in [6_000, 10_000] {
        let picture = black_png(side);
        assert!(picture.len() < 1 << 20, "{} bytes", picture.len());
        let server = PictureServer::start(&picture, 2);
        let dir = temp_dir(&format!("huge-{side}"));
        let png = dir.join("qr.png");
        let (_, status, error) = run_c_image(&server.config(), &png, EXAM);
        assert_eq!(status, "MIIC_E_PROTOCOL", "{side}: {error}");
        assert!(error.contains("pixels"), "{side}: {error}");
        assert!(!png.exists());
    }
}
