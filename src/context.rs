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
use std::net::{ToSocketAddrs, UdpSocket};
use std::sync::OnceLock;

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

    /// The local address of the route to the front-end machine, and that interface's MAC.
    pub fn workstation(&self) -> Workstation {
        self.workstation
            .get_or_init(|| detect_workstation(&self.config.base_url))
            .clone()
    }
}

fn detect_workstation(base_url: &str) -> Workstation {
    let authority = base_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    let target = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    // Connecting a UDP socket sends nothing; it only asks the OS which route it would use.
    let ip = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
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
    Workstation {
        ip: ip.map(|ip| ip.to_string()),
        mac,
    }
}
