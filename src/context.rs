//! What a cloud call needs from the client it runs on, and nothing more: the validated
//! configuration, the HTTP agent, SM2 with the configured key, and this workstation's address.
//! Interface modules and workers receive a `Context` (workers a weak one), never the client.
//!
//! Uses: config, http, sm2, text, error.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::sm2::{self, CipherFormat};
use crate::text::TextEncoding;
use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Context {
    pub config: Config,
    pub http: Http,
    workstation: OnceLock<Workstation>,
}

/// This workstation as the cloud's reminder wants it: `clientIp` and `mac`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workstation {
    pub ip: Option<String>,
    pub mac: Option<String>,
}

impl Context {
    pub fn new(config: Config) -> Context {
        Context {
            http: Http::new(config.timeout),
            config,
            workstation: OnceLock::new(),
        }
    }

    pub fn encoding(&self) -> TextEncoding {
        self.config.text_encoding
    }

    /// SM2-encrypt with the configured key and format; `MIIC_E_CONFIG` when there is no key.
    pub fn encrypt(&self, plain: &str) -> Result<String> {
        let key = self.config.sm2.public_key.as_ref().ok_or_else(|| {
            Error::config(
                "config key 'sm2.public_key' is not set; it is needed to encrypt ID numbers",
            )
        })?;
        sm2::encrypt(
            key,
            plain,
            CipherFormat {
                mode: self.config.sm2.mode,
                encoding: self.config.sm2.encoding,
                prefix_04: self.config.sm2.prefix_04,
            },
        )
    }

    /// The local address of the route to the front-end machine, and that interface's MAC, and
    /// how long finding them waited. Found once: with a host name in `base_url` the first time
    /// may wait for its lookup (at most `wait`, through the client's resolver, which the call's
    /// HTTP request then finds done); a lookup that failed is tried again by the next call.
    pub fn workstation(&self, wait: Duration) -> (Workstation, Duration) {
        if let Some(known) = self.workstation.get() {
            return (known.clone(), Duration::ZERO);
        }
        let started = Instant::now();
        let (found, lookup_failed) = detect_workstation(&self.config.base_url, &self.http, wait);
        if !lookup_failed {
            let _ = self.workstation.set(found.clone());
        }
        (found, started.elapsed())
    }
}

/// This workstation as seen from `base_url`'s host; `true` when that host's name did not
/// resolve (worth trying again later).
fn detect_workstation(base_url: &str, http: &Http, wait: Duration) -> (Workstation, bool) {
    let uri: Option<ureq::http::Uri> = base_url.parse().ok();
    let host = uri
        .as_ref()
        .and_then(|u| u.host())
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri.as_ref().and_then(|u| u.port_u16()).unwrap_or(80);
    let target = http.resolver().resolve(host, port, wait);
    let lookup_failed = target.is_err();
    // Connecting a UDP socket sends nothing; it only asks the OS which route it would use.
    let ip = target
        .ok()
        .and_then(|addrs| addrs.first().copied())
        .and_then(|addr| {
            let bind = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let socket = UdpSocket::bind(bind).ok()?;
            socket.connect(addr).ok()?;
            socket.local_addr().ok()
        })
        .map(|a| a.ip());
    let mac = mac_address::get_mac_address().ok().flatten().map(|m| {
        m.bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    });
    let found = Workstation {
        ip: ip.map(|ip| ip.to_string()),
        mac,
    };
    (found, lookup_failed)
}
