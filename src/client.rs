//! A configured client: its HTTP agent, the logged-in doctor, and the workers it owns.

use crate::cloud::login::Doctor;
use crate::cloud::reminder::ReminderWorker;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::outbox::store::Store;
use crate::outbox::worker::OutboxService;
use crate::sm2::{self, CipherFormat};
use crate::text::TextEncoding;
use std::net::{ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

pub struct Client {
    pub(crate) id: u64,
    pub config: Config,
    pub(crate) http: Http,
    session: Mutex<Option<Doctor>>,
    pub(crate) reminders: ReminderWorker,
    /// The delete notifications' durable outbox and its retry worker.
    pub(crate) outbox: OutboxService,
    /// Plugin processes launched for `login_via = "exe"`; reaped, never killed.
    pub(crate) children: Mutex<Vec<std::process::Child>>,
    workstation: OnceLock<Workstation>,
}

/// This workstation as the cloud's reminder wants it: `clientIp` and `mac`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workstation {
    pub ip: Option<String>,
    pub mac: Option<String>,
}

impl Client {
    pub fn open(source: &str) -> Result<Client> {
        let config = Config::load(source)?;
        let client = Client::with_config(config);
        // An unusable outbox file fails here (MIIC_E_IO naming it), not at the first deletion.
        client.outbox_store()?;
        Ok(client)
    }

    /// The outbox file (`[outbox] path` or the per-user default), opened on first use.
    pub fn outbox_store(&self) -> Result<Arc<Store>> {
        self.outbox.store(self.config.outbox_path.as_deref())
    }

    /// Start the retry worker if the outbox holds notifications left by an earlier run.
    pub fn resume_outbox(self: &Arc<Self>) -> Result<()> {
        let pending = self.outbox_store()?.pending()?;
        if pending > 0 {
            log::info!("outbox holds {pending} delete notification(s): resuming delivery");
            self.outbox.start(self)?;
        }
        Ok(())
    }

    pub fn with_config(config: Config) -> Client {
        let id = NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed);
        if let Some(dir) = &config.log.dir {
            crate::log::add_dir(
                id,
                dir.clone(),
                config.log.level.unwrap_or(log::LevelFilter::Info),
            );
        }
        let http = Http::new(config.timeout);
        log::info!(
            "client {id} opened: base_url={} hospital_id={} timeout_ms={}",
            config.base_url,
            config.hospital_id,
            config.timeout.as_millis()
        );
        Client {
            id,
            http,
            session: Mutex::new(None),
            reminders: ReminderWorker::default(),
            outbox: OutboxService::default(),
            children: Mutex::new(Vec::new()),
            workstation: OnceLock::new(),
            config,
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

    pub fn doctor(&self) -> Option<Doctor> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    pub(crate) fn set_doctor(&self, doctor: Option<Doctor>) {
        if let Ok(mut s) = self.session.lock() {
            *s = doctor;
        }
    }

    /// The local address of the route to the front-end machine, and that interface's MAC.
    pub fn workstation(&self) -> Workstation {
        self.workstation
            .get_or_init(|| detect_workstation(&self.config.base_url))
            .clone()
    }

    /// Stop and join every worker; idempotent. In-flight HTTP calls are interrupted.
    pub fn close(&self) {
        self.outbox.signal_stop();
        self.reminders.signal_stop();
        // Interrupt what the workers may be sending, then wait for them.
        self.http.shutdown();
        self.reminders.join();
        self.outbox.join();
        if let Ok(mut children) = self.children.lock() {
            children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        }
        crate::dicom::progress::forget(self.id);
        crate::log::remove_dir(self.id);
        log::info!("client {} closed", self.id);
    }

    /// Forget plugin processes that have exited (so none stays a zombie).
    pub(crate) fn reap_children(&self) {
        if let Ok(mut children) = self.children.lock() {
            children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        }
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
