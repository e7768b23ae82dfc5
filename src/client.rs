//! A configured client, composed of its parts: the call context (config, HTTP, SM2), the
//! logged-in doctor, the plugin processes, the outbox and the background workers. It hands each
//! call the parts it uses; nothing below names the client.
//!
//! Uses: context, session, cloud::*, outbox::*, qr_image, params, config, log, dicom::progress,
//! resolve, error.

use crate::cloud::login::{self, Plugins};
use crate::cloud::reminder::{self, Reminder, ReminderWorker};
use crate::cloud::{delete, qr};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Result, Status};
use crate::outbox::delivery;
use crate::outbox::store::Store;
use crate::outbox::worker::Outbox;
use crate::params::Params;
use crate::session::Session;
use crate::text::TextEncoding;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

pub struct Client {
    id: u64,
    context: Arc<Context>,
    session: Session,
    plugins: Plugins,
    reminders: ReminderWorker,
    /// The delete notifications' durable outbox and its retry worker.
    outbox: Outbox,
}

impl Client {
    /// Open a client from a config (a `.toml`/`.json` path or inline JSON), as `miic_open` does:
    /// everything is validated now, and an unusable outbox file fails here (`MIIC_E_IO` naming
    /// it), not at the first deletion.
    pub fn open(source: &str) -> Result<Client> {
        let client = Client::with_config(Config::load(source)?);
        if let Err(e) = client.outbox_store() {
            // Said in the client's own log folder, which then goes with it: a host that retries
            // must not collect folders that write every later line again.
            log::error!("client {} cannot open: {}", client.id, e.message);
            client.close();
            return Err(e);
        }
        Ok(client)
    }

    /// A client on an already validated config; the outbox file is opened on first use.
    pub fn with_config(config: Config) -> Client {
        let id = NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed);
        crate::dicom::progress::register(id);
        if let Some(dir) = &config.log.dir {
            crate::log::add_dir(
                id,
                dir.clone(),
                config.log.level.unwrap_or(log::LevelFilter::Info),
            );
        }
        log::info!(
            "client {id} opened: base_url={} hospital_id={} timeout_ms={}",
            config.base_url,
            config.hospital_id,
            config.timeout.as_millis()
        );
        Client {
            id,
            context: Arc::new(Context::new(config)),
            session: Session::default(),
            plugins: Plugins::default(),
            reminders: ReminderWorker::default(),
            outbox: Outbox::default(),
        }
    }

    /// The host names this client has looked up: its other HTTP exchanges (the dcmPath
    /// downloads) share them and their one lookup thread.
    pub fn resolver(&self) -> &Arc<crate::resolve::Resolver> {
        self.context.http.resolver()
    }

    /// Which client this is (log folders and progress callbacks are kept per client).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn config(&self) -> &Config {
        &self.context.config
    }

    pub fn encoding(&self) -> TextEncoding {
        self.context.encoding()
    }

    /// SM2-encrypt with the configured key and format; `MIIC_E_CONFIG` when there is no key.
    pub fn encrypt(&self, plain: &str) -> Result<String> {
        self.context.encrypt(plain)
    }

    /// The outbox file (`[outbox] path` or the per-user default), opened on first use.
    pub fn outbox_store(&self) -> Result<Arc<Store>> {
        self.outbox.store(self.config().outbox_path.as_deref())
    }

    /// Start the retry worker if the outbox holds notifications left by an earlier run.
    pub fn resume_outbox(&self) -> Result<()> {
        let pending = self.outbox_store()?.pending()?;
        if pending > 0 {
            log::info!("outbox holds {pending} delete notification(s): resuming delivery");
            self.outbox.start(&self.context)?;
        }
        Ok(())
    }

    /// 4.4.3.1 login (type 1); the doctor is kept for later calls.
    pub fn login(&self, doctor: &Params) -> Result<()> {
        login::login(&self.context, &self.session, &self.plugins, doctor)
    }

    /// 4.4.3.1 logout (type 2) of the logged-in doctor.
    pub fn logout(&self) -> Result<()> {
        login::logout(&self.context, &self.session, &self.plugins)
    }

    /// 4.4.3.1 logout (type 2) of the doctor `doctor` describes, whoever the session holds.
    pub fn logout_doctor(&self, doctor: &Params) -> Result<()> {
        login::logout_doctor(&self.context, &self.plugins, doctor)
    }

    /// The `WYHT://` URL of a login or logout (`type`), for browser-based hosts.
    pub fn plugin_url(&self, doctor: &Params) -> Result<String> {
        login::plugin_url(&self.context, doctor)
    }

    /// 4.4.3.2 patient reminder, waiting for the cloud's answer.
    pub fn patient_reminder(&self, patient: &Params) -> Result<()> {
        reminder::remind(&self.context, &self.session, patient)
    }

    /// 4.4.3.2 patient reminder, checked now and sent by the client's reminder worker.
    pub fn patient_reminder_async(&self, patient: &Params) -> Result<()> {
        let prepared = Reminder::prepare(&self.context, &self.session, patient)?;
        self.reminders.submit(&self.context, prepared)
    }

    /// 4.3 the film URL for an exam's QR code.
    pub fn qr_url(&self, exam: &Params) -> Result<String> {
        qr::qr_url(&self.context, exam)
    }

    /// 4.3 the exam's QR code as a printable PNG at `path`.
    pub fn qr_image(&self, exam: &Params, path: &Path) -> Result<()> {
        crate::qr_image::qr_image(&self.context, exam, path)
    }

    /// 4.5 delete notification: `Ok` when the cloud took it, `Queued` when it waits durably.
    pub fn delete_notify(&self, deletion: &Params) -> Result<Status> {
        delete::delete_notify(&self.context, &self.session, &self.outbox, deletion)
    }

    /// Try every pending delete notification now, until the outbox is empty or `timeout`.
    pub fn outbox_flush(&self, timeout: Duration) -> Result<()> {
        let store = self.outbox_store()?;
        delivery::flush(&self.context, &store, timeout)
    }

    /// Stop and join every worker; idempotent. In-flight HTTP calls are interrupted.
    pub fn close(&self) {
        self.outbox.signal_stop();
        self.reminders.signal_stop();
        // Interrupt what the workers may be sending, then wait for them.
        self.context.http.shutdown();
        self.reminders.join();
        self.outbox.join();
        // Last: a worker may have waited for a name lookup until the shutdown woke it.
        self.context.http.join();
        self.plugins.reap();
        crate::dicom::progress::forget(self.id);
        crate::log::remove_dir(self.id);
        log::info!("client {} closed", self.id);
    }
}
