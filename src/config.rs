//! Client configuration: a TOML file, a JSON file, or inline JSON text, with the same keys.
//! Everything is validated at `miic_open`, so a hospital's typo fails at start-up, naming the key.
//!
//! Uses: error, sm2, text.

use crate::error::{Error, Result};
use crate::sm2::{CipherEncoding, CipherMode, Sm2Key};
use crate::text::TextEncoding;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_TIMEOUT_MS: u32 = 3000;
const MAX_TIMEOUT_MS: u32 = 600_000;
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The validated configuration of one client.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    pub hospital_id: String,
    pub timeout: Duration,
    pub text_encoding: TextEncoding,
    pub sm2: Sm2Config,
    pub outbox_path: Option<PathBuf>,
    pub log: LogConfig,
    pub plugin: PluginConfig,
    pub dicom: DicomConfig,
    pub dicom_http_base_url: Option<String>,
    /// Largest file one `dcmPath` download may bring (`dicom_http.max_file_mb`).
    pub dicom_http_max_file_bytes: u64,
    pub paths: Paths,
    pub qr: QrConfig,
}

/// Where `miic_qr_image` gets the code: the film URL (`qrurl`, rendered by miic) or the cloud's
/// finished picture (`qrcode`, base64 PNG, to which miic adds the caption).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QrSource {
    #[default]
    Qrurl,
    Qrcode,
}

#[derive(Debug, Clone, Default)]
pub struct QrConfig {
    pub source: QrSource,
}

#[derive(Debug, Clone)]
pub struct Sm2Config {
    /// `None` when the config has no key: calls that must encrypt then fail with `MIIC_E_CONFIG`.
    pub public_key: Option<Sm2Key>,
    pub mode: CipherMode,
    pub encoding: CipherEncoding,
    pub prefix_04: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    pub dir: Option<PathBuf>,
    pub level: Option<log::LevelFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginVia {
    #[default]
    Http,
    Exe,
}

#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    pub exe: Option<PathBuf>,
    pub login_via: LoginVia,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrieveMethod {
    #[default]
    Get,
    Move,
}

#[derive(Debug, Clone)]
pub struct DicomConfig {
    pub local_ae: Option<String>,
    pub peer_ae: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub retrieve: RetrieveMethod,
    pub move_port: Option<u16>,
    /// Largest PDU miic accepts from the PACS (bytes); `dicom.max_pdu`.
    pub max_pdu: u32,
    /// Largest data set of one received object (bytes); `dicom.max_object_mb`.
    pub max_object_bytes: u64,
    /// Free space an image download leaves on dest_dir's disk (bytes); `dicom.min_free_mb`.
    pub min_free_bytes: u64,
    /// Hosts besides `host` the PACS's C-MOVE sub-operations may come from (a cluster whose
    /// nodes send from several addresses); `dicom.move_from`.
    pub move_from: Vec<String>,
}

/// Default `dicom.max_pdu`: large PDUs cut per-PDU overhead on big studies; every PACS can send
/// smaller ones, so this only raises the ceiling.
pub const DEFAULT_MAX_PDU: u32 = 65_536;
const MIN_MAX_PDU: u32 = 4_096;
const MAX_MAX_PDU: u32 = 4_194_304;
/// Default bound of one received object (`dicom.max_object_mb`, `dicom_http.max_file_mb`), in
/// MiB: far above any real image (a large CT series object is tens of MB, a whole-slide image a
/// few GB is split into frames), far below what exhausts a 32-bit host or a disk.
const DEFAULT_MAX_OBJECT_MB: u32 = 2048;
/// Default `dicom.min_free_mb`: room for Windows updates, the page file and the host's own
/// files after a retrieve.
const DEFAULT_MIN_FREE_MB: u32 = 1024;
const MAX_MB: u32 = 1 << 20;

impl Default for DicomConfig {
    fn default() -> Self {
        DicomConfig {
            local_ae: None,
            peer_ae: None,
            host: None,
            port: None,
            retrieve: RetrieveMethod::default(),
            move_port: None,
            max_pdu: DEFAULT_MAX_PDU,
            max_object_bytes: u64::from(DEFAULT_MAX_OBJECT_MB) << 20,
            min_free_bytes: u64::from(DEFAULT_MIN_FREE_MB) << 20,
            move_from: Vec::new(),
        }
    }
}

/// Paths of the cloud's endpoints on the front-end machine, as the spec writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub login: String,
    pub reminder: String,
    pub qrurl: String,
    pub qrcode: String,
    pub delete: String,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            login: "/hrball/".into(),
            reminder: "/iuWorkStation/swipingIdCardNo".into(),
            qrurl: "/getway/reportAndFilm/api/qrurl".into(),
            qrcode: "/getway/reportAndFilm/api/qrcode".into(),
            delete: "/standardInterface/standardHttp/deleteDicom".into(),
        }
    }
}

// ---- the file format (serde), strict about unknown keys ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    base_url: Option<String>,
    hospital_id: Option<String>,
    timeout_ms: Option<u32>,
    text_encoding: Option<TextEncoding>,
    sm2: Option<RawSm2>,
    outbox: Option<RawOutbox>,
    log: Option<RawLog>,
    plugin: Option<RawPlugin>,
    dicom: Option<RawDicom>,
    dicom_http: Option<RawDicomHttp>,
    paths: Option<RawPaths>,
    qr: Option<RawQr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQr {
    source: Option<QrSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSm2 {
    public_key: Option<String>,
    mode: Option<CipherMode>,
    encoding: Option<CipherEncoding>,
    prefix_04: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    dir: Option<PathBuf>,
    level: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    exe: Option<PathBuf>,
    login_via: Option<LoginVia>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDicom {
    local_ae: Option<String>,
    peer_ae: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    retrieve: Option<RetrieveMethod>,
    move_port: Option<u16>,
    max_pdu: Option<u32>,
    max_object_mb: Option<u32>,
    min_free_mb: Option<u32>,
    move_from: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDicomHttp {
    base_url: Option<String>,
    max_file_mb: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    login: Option<String>,
    reminder: Option<String>,
    qrurl: Option<String>,
    qrcode: Option<String>,
    delete: Option<String>,
}

/// A config's text and where it came from: an inline JSON text or a file.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file, or `None` for inline JSON.
    pub path: Option<PathBuf>,
    pub text: String,
    pub is_json: bool,
}

impl Source {
    /// `source` is inline JSON (starts with `{`) or a path to a `.toml` / `.json` file.
    pub fn read(source: &str) -> Result<Source> {
        let trimmed = source.trim_start_matches('\u{feff}').trim();
        if trimmed.starts_with('{') {
            return Ok(Source {
                path: None,
                text: trimmed.to_owned(),
                is_json: true,
            });
        }
        let path = Path::new(trimmed);
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::config(format!("cannot read config file '{}': {e}", path.display()))
        })?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(Error::config(format!(
                "config file '{}' is larger than 1 MiB",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            Error::config(format!("cannot read config file '{}': {e}", path.display()))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::config(format!("config file '{}' is not UTF-8", path.display())))?;
        let text = text.trim_start_matches('\u{feff}').to_owned();
        let is_json = match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => true,
            Some(ext) if ext.eq_ignore_ascii_case("toml") => false,
            _ => text.trim_start().starts_with('{'),
        };
        Ok(Source {
            path: Some(path.to_owned()),
            text,
            is_json,
        })
    }
}

impl Config {
    /// `source` is inline JSON (starts with `{`) or a path to a `.toml` / `.json` file.
    pub fn load(source: &str) -> Result<Config> {
        let source = Source::read(source)?;
        let result = if source.is_json {
            Config::from_json(&source.text)
        } else {
            Config::from_toml(&source.text)
        };
        match &source.path {
            None => result,
            Some(path) => result
                .map_err(|e| Error::config(format!("{} (in '{}')", e.message, path.display()))),
        }
    }

    // JSON and TOML are both read as a tree first, and the tree is checked key by key (one
    // deserializer for the config struct in the DLL, not one per text format: ~230 KB).
    pub fn from_json(text: &str) -> Result<Config> {
        Config::from_tree(json_tree(text)?).map_err(|e| e.error)
    }

    pub fn from_toml(text: &str) -> Result<Config> {
        Config::from_tree(toml_tree(text)?).map_err(|e| e.error)
    }

    /// The full URL of a cloud path on the front-end machine.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

impl RawConfig {
    fn validate(self) -> Result<Config> {
        let base_url = check_http_url(
            "base_url",
            self.base_url
                .as_deref()
                .ok_or_else(|| Error::config("config key 'base_url' is required"))?,
        )?;
        let hospital_id = self
            .hospital_id
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::config("config key 'hospital_id' is required"))?;
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
            return Err(Error::config(format!(
                "config key 'timeout_ms' must be 1..={MAX_TIMEOUT_MS}, got {timeout_ms}"
            )));
        }
        // In this order, so the first of several mistakes is the one reported.
        let sm2 = RawSm2::validate(self.sm2)?;
        let log = RawLog::validate(self.log)?;
        let plugin = RawPlugin::validate(self.plugin)?;
        let dicom = RawDicom::validate(self.dicom)?;
        let (dicom_http_base_url, max_file_mb) = match self.dicom_http {
            None => (None, None),
            Some(d) => (d.base_url, d.max_file_mb),
        };
        let dicom_http_base_url = match dicom_http_base_url {
            None => None,
            Some(url) => Some(check_http_url("dicom_http.base_url", &url)?),
        };
        let dicom_http_max_file_bytes = megabytes(
            "dicom_http.max_file_mb",
            max_file_mb.unwrap_or(DEFAULT_MAX_OBJECT_MB),
            1,
        )?;
        let paths = RawPaths::validate(self.paths)?;
        Ok(Config {
            base_url,
            hospital_id,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            text_encoding: self.text_encoding.unwrap_or_default(),
            sm2,
            outbox_path: self.outbox.and_then(|o| o.path),
            log,
            plugin,
            dicom,
            dicom_http_base_url,
            dicom_http_max_file_bytes,
            paths,
            qr: QrConfig {
                source: self.qr.and_then(|q| q.source).unwrap_or_default(),
            },
        })
    }
}

impl RawSm2 {
    /// The key is parsed now, so a bad key fails at `miic_open`.
    fn validate(raw: Option<RawSm2>) -> Result<Sm2Config> {
        let Some(raw) = raw else {
            return Ok(Sm2Config {
                public_key: None,
                mode: CipherMode::default(),
                encoding: CipherEncoding::default(),
                prefix_04: true,
            });
        };
        Ok(Sm2Config {
            public_key: match raw.public_key.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(Sm2Key::parse(text).map_err(|e| {
                    Error::config(format!("config key 'sm2.public_key': {}", e.message))
                })?),
            },
            mode: raw.mode.unwrap_or_default(),
            encoding: raw.encoding.unwrap_or_default(),
            prefix_04: raw.prefix_04.unwrap_or(true),
        })
    }
}

impl RawLog {
    fn validate(raw: Option<RawLog>) -> Result<LogConfig> {
        let Some(raw) = raw else {
            return Ok(LogConfig::default());
        };
        let level = match raw.level.as_deref() {
            None => None,
            Some(level) => Some(level.parse::<log::LevelFilter>().map_err(|_| {
                Error::config(format!(
                    "config key 'log.level' must be off|error|warn|info|debug|trace, got '{level}'"
                ))
            })?),
        };
        Ok(LogConfig {
            dir: raw.dir,
            level,
        })
    }
}

impl RawPlugin {
    fn validate(raw: Option<RawPlugin>) -> Result<PluginConfig> {
        let plugin = match raw {
            None => PluginConfig::default(),
            Some(raw) => PluginConfig {
                exe: raw.exe,
                login_via: raw.login_via.unwrap_or_default(),
            },
        };
        if plugin.login_via == LoginVia::Exe && plugin.exe.is_none() {
            return Err(Error::config(
                "config key 'plugin.exe' is required when 'plugin.login_via' is \"exe\"",
            ));
        }
        Ok(plugin)
    }
}

impl RawDicom {
    fn validate(raw: Option<RawDicom>) -> Result<DicomConfig> {
        let Some(raw) = raw else {
            return Ok(DicomConfig::default());
        };
        for (key, ae) in [
            ("dicom.local_ae", &raw.local_ae),
            ("dicom.peer_ae", &raw.peer_ae),
        ] {
            if let Some(ae) = ae {
                check_ae_title(key, ae)?;
            }
        }
        for (key, port) in [("dicom.port", raw.port), ("dicom.move_port", raw.move_port)] {
            if port == Some(0) {
                return Err(Error::config(format!(
                    "config key '{key}' must be 1..=65535"
                )));
            }
        }
        let max_pdu = raw.max_pdu.unwrap_or(DEFAULT_MAX_PDU);
        if !(MIN_MAX_PDU..=MAX_MAX_PDU).contains(&max_pdu) {
            return Err(Error::config(format!(
                "config key 'dicom.max_pdu' must be {MIN_MAX_PDU}..={MAX_MAX_PDU}, got {max_pdu}"
            )));
        }
        let max_object_bytes = megabytes(
            "dicom.max_object_mb",
            raw.max_object_mb.unwrap_or(DEFAULT_MAX_OBJECT_MB),
            1,
        )?;
        let min_free_bytes = megabytes(
            "dicom.min_free_mb",
            raw.min_free_mb.unwrap_or(DEFAULT_MIN_FREE_MB),
            0,
        )?;
        let move_from = raw.move_from.unwrap_or_default();
        if let Some(bad) = move_from.iter().find(|h| {
            h.trim().is_empty()
                || h.contains([' ', '/', ':']) && h.parse::<std::net::IpAddr>().is_err()
        }) {
            return Err(Error::config(format!(
                "config key 'dicom.move_from' lists '{bad}', which is not a host name or IP address"
            )));
        }
        Ok(DicomConfig {
            max_pdu,
            max_object_bytes,
            min_free_bytes,
            move_from: move_from.iter().map(|h| h.trim().to_owned()).collect(),
            local_ae: raw.local_ae,
            peer_ae: raw.peer_ae,
            host: raw.host,
            port: raw.port,
            retrieve: raw.retrieve.unwrap_or_default(),
            move_port: raw.move_port,
        })
    }
}

impl RawPaths {
    /// Each given path replaces the spec's; it must be a plain path.
    fn validate(raw: Option<RawPaths>) -> Result<Paths> {
        let mut paths = Paths::default();
        let Some(raw) = raw else {
            return Ok(paths);
        };
        for (key, value, slot) in [
            ("paths.login", raw.login, &mut paths.login),
            ("paths.reminder", raw.reminder, &mut paths.reminder),
            ("paths.qrurl", raw.qrurl, &mut paths.qrurl),
            ("paths.qrcode", raw.qrcode, &mut paths.qrcode),
            ("paths.delete", raw.delete, &mut paths.delete),
        ] {
            if let Some(value) = value {
                if !value.starts_with('/') || value.contains(['?', '#', ' ']) {
                    return Err(Error::config(format!(
                        "config key '{key}' must be a path starting with '/', got '{value}'"
                    )));
                }
                *slot = value;
            }
        }
        Ok(paths)
    }
}

/// A size key in MiB (at least `min`, at most 1 TiB), in bytes.
fn megabytes(key: &str, mb: u32, min: u32) -> Result<u64> {
    if !(min..=MAX_MB).contains(&mb) {
        return Err(Error::config(format!(
            "config key '{key}' must be {min}..={MAX_MB} (MiB), got {mb}"
        )));
    }
    Ok(u64::from(mb) << 20)
}

/// A config error and the key it is about (`None`: the text as a whole), so that a reader that
/// goes past the first problem (the diagnosis) can set that key aside and read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: Option<String>,
    pub error: Error,
}

impl Source {
    /// The text as a tree of JSON values (a TOML text too), before any key is checked.
    pub fn tree(&self) -> Result<serde_json::Value> {
        if self.is_json {
            json_tree(&self.text)
        } else {
            toml_tree(&self.text)
        }
    }
}

/// A JSON text as a tree; a key given twice in one object is an error (a struct read straight
/// from the text would say "duplicate field", and a tree would silently keep the last one).
fn json_tree(text: &str) -> Result<serde_json::Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let StrictJson(value) = serde::Deserialize::deserialize(&mut de)
        .map_err(|e| Error::config(format!("config: {e}")))?;
    de.end()
        .map_err(|e| Error::config(format!("config: trailing text after the JSON object: {e}")))?;
    Ok(value)
}

fn toml_tree(text: &str) -> Result<serde_json::Value> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| Error::config(format!("config: {}", e.to_string().trim())))?;
    serde_json::to_value(table).map_err(|e| Error::config(format!("config: {e}")))
}

/// A JSON value that refuses a repeated key in any object.
struct StrictJson(serde_json::Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictJsonVisitor).map(StrictJson)
    }
}

struct StrictJsonVisitor;

impl<'de> serde::de::Visitor<'de> for StrictJsonVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictJson(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "key '{key}' is given twice"
                )));
            }
            object.insert(key, value);
        }
        Ok(object.into())
    }
}

impl Config {
    /// Check a config tree (see [`Source::tree`]) as [`Config::load`] checks a text, and say
    /// which key the first problem is about: an unknown key is named with its section.
    pub fn from_tree(tree: serde_json::Value) -> std::result::Result<Config, KeyError> {
        let raw: RawConfig = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            let why = e.inner().to_string();
            let key = match path.as_str() {
                "?" | "." | "" => unknown_field(&why),
                parent => Some(match unknown_field(&why) {
                    Some(name) if !parent.ends_with(&format!(".{name}")) && parent != name => {
                        format!("{parent}.{name}")
                    }
                    _ => parent.to_owned(),
                }),
            };
            KeyError {
                error: path_error(&path, &why),
                key,
            }
        })?;
        raw.validate().map_err(|error| KeyError {
            key: error
                .message
                .strip_prefix("config key '")
                .and_then(|rest| rest.split('\'').next())
                .map(str::to_owned),
            error,
        })
    }
}

/// The name in serde's "unknown field `name`, expected …".
fn unknown_field(why: &str) -> Option<String> {
    let rest = why.strip_prefix("unknown field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// A parse error located at a key path (`sm2.mode`), or in the text itself (`?`/`.`).
fn path_error(path: &str, why: &str) -> Error {
    match path {
        "?" | "." | "" => Error::config(format!("config: {why}")),
        key => Error::config(format!("config key '{key}': {why}")),
    }
}

/// An `http://host[:port][/prefix]` URL without query; returned without a trailing `/`.
fn check_http_url(key: &str, url: &str) -> Result<String> {
    let url = url.trim();
    let bad = |why: &str| {
        Error::config(format!(
            "config key '{key}' is not a usable URL ({why}): '{url}'"
        ))
    };
    let rest = if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else if url.starts_with("https://") {
        return Err(bad(
            "https is not supported: the front-end machine speaks plain HTTP on the hospital LAN",
        ));
    } else {
        return Err(bad("must start with http://"));
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad("malformed"))?;
    let host = uri.host().unwrap_or("");
    if host.is_empty() || rest.starts_with('/') {
        return Err(bad("no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad("no query or fragment allowed"));
    }
    if rest.contains('@') {
        return Err(bad("credentials in the URL are not supported"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn check_ae_title(key: &str, ae: &str) -> Result<()> {
    let trimmed = ae.trim();
    if trimmed.is_empty()
        || ae.len() > 16
        || !ae.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        return Err(Error::config(format!(
            "config key '{key}' must be 1-16 printable ASCII characters without '\\', got '{ae}'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    const MIN: &str = r#"{"base_url":"http://127.0.0.1:8080","hospital_id":"H1"}"#;

    #[test]
    fn minimal_json_gets_defaults() {
        let c = Config::from_json(MIN).unwrap();
        assert_eq!(c.timeout, Duration::from_millis(3000));
        assert_eq!(
            c.url(&c.paths.qrurl),
            "http://127.0.0.1:8080/getway/reportAndFilm/api/qrurl"
        );
        assert_eq!(c.text_encoding, TextEncoding::Utf8);
        assert!(c.sm2.prefix_04);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_json(r#"{"base_url":"http://a","hospital_id":"H","timeout":5}"#)
            .unwrap_err();
        assert_eq!(e.status, Status::Config);
        assert!(e.message.contains("timeout"), "{}", e.message);
        let e = Config::from_toml("base_url='http://a'\nhospital_id='H'\n[sm2]\nmdoe='c1c2c3'\n")
            .unwrap_err();
        assert!(e.message.contains("mdoe"), "{}", e.message);
        let e = Config::from_toml("base_url='http://a'\nhospital_id='H'\n[sm2]\nmode='c3'\n")
            .unwrap_err();
        assert!(e.message.contains("sm2.mode"), "{}", e.message);
        for (text, key) in [
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"port":70000}}"#,
                "dicom.port",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","sm2":{"prefix_04":"yes"}}"#,
                "sm2.prefix_04",
            ),
        ] {
            let e = Config::from_json(text).unwrap_err();
            assert!(e.message.contains(key), "{}", e.message);
        }
    }

    #[test]
    fn a_key_given_twice_is_refused_in_json_and_toml() {
        let e = Config::from_json(
            r#"{"base_url":"http://a","hospital_id":"H","sm2":{"mode":"c1c3c2","mode":"c1c2c3"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, Status::Config);
        assert!(
            e.message.contains("key 'mode' is given twice"),
            "{}",
            e.message
        );
        let e = Config::from_toml("base_url='http://a'\nhospital_id='H'\nhospital_id='G'\n")
            .unwrap_err();
        assert!(e.message.contains("hospital_id"), "{}", e.message);
    }

    #[test]
    fn a_tree_error_names_its_key_with_its_section() {
        for (text, key) in [
            (
                r#"{"base_url":"http://a","hospital_id":"H","retries":3}"#,
                "retries",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","sm2":{"mdoe":"x"}}"#,
                "sm2.mdoe",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","timeout_ms":0}"#,
                "timeout_ms",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","timeout_ms":"9"}"#,
                "timeout_ms",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"port":70000}}"#,
                "dicom.port",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","sm2":{"mode":"c3"}}"#,
                "sm2.mode",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","sm2":"x"}"#,
                "sm2",
            ),
            (r#"{"base_url":"http://a"}"#, "hospital_id"),
            (
                r#"{"base_url":"http://a","hospital_id":"H","plugin":{"login_via":"exe"}}"#,
                "plugin.exe",
            ),
        ] {
            let tree = Source {
                path: None,
                text: text.into(),
                is_json: true,
            }
            .tree()
            .unwrap();
            let e = Config::from_tree(tree).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {:?}", e.error);
            assert!(e.error.message.contains(key), "{text}: {}", e.error.message);
        }
        let toml = Source {
            path: None,
            text: "base_url='http://a'\nhospital_id='H'\n[log]\nlevle='info'\n".into(),
            is_json: false,
        };
        let e = Config::from_tree(toml.tree().unwrap()).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("log.levle"));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (r#"{"base_url":"ftp://a","hospital_id":"H"}"#, "base_url"),
            (r#"{"base_url":"http://","hospital_id":"H"}"#, "base_url"),
            (
                r#"{"base_url":"http://a","hospital_id":"H","timeout_ms":0}"#,
                "timeout_ms",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","text_encoding":"latin1"}"#,
                "text_encoding",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","sm2":{"mode":"c2c1c3"}}"#,
                "sm2.mode",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","sm2":{"public_key":"04abcd"}}"#,
                "sm2.public_key",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","log":{"level":"loud"}}"#,
                "log.level",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"local_ae":"WAY_TOO_LONG_AE_TITLE"}}"#,
                "dicom.local_ae",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","paths":{"qrurl":"qr"}}"#,
                "paths.qrurl",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","plugin":{"login_via":"exe"}}"#,
                "plugin.exe",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"max_pdu":100}}"#,
                "dicom.max_pdu",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"max_object_mb":0}}"#,
                "dicom.max_object_mb",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"min_free_mb":2000000}}"#,
                "dicom.min_free_mb",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"move_from":["10.0.0.8/24"]}}"#,
                "dicom.move_from",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"move_from":"10.0.0.8"}}"#,
                "dicom.move_from",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom":{"max_objekt_mb":5}}"#,
                "max_objekt_mb",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","dicom_http":{"max_file_mb":0}}"#,
                "dicom_http.max_file_mb",
            ),
            (r#"{"base_url":"http://a"}"#, "hospital_id"),
            (
                r#"{"base_url":"http://a","hospital_id":"H","qr":{"source":"qrimage"}}"#,
                "qrimage",
            ),
            (
                r#"{"base_url":"http://a","hospital_id":"H","qr":{"sorce":"qrurl"}}"#,
                "sorce",
            ),
        ] {
            let e = Config::from_json(text).unwrap_err();
            assert_eq!(e.status, Status::Config);
            assert!(e.message.contains(key), "{text}: {}", e.message);
        }
    }
}
