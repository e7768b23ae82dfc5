//! `miic-cli sim`: the imaging cloud's front-end machine as the spec describes it, for vendors
//! who develop without one and for miic's own tests. The contract is docs/simulator.md.

pub mod crypto;
pub mod endpoints;
mod png;
pub mod reply;
mod server;
pub mod state;

use crypto::{CipherEncoding, CipherMode, Decrypter, TEST_PRIVATE_KEY};
use state::State;
use std::io::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Connections served at once; beyond this a new connection is closed at once, so a flood
/// cannot exhaust the machine's threads.
const MAX_CONNECTIONS: usize = 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (loopback by default; use 0.0.0.0 to serve the hospital's LAN).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port; 0 picks a free one (printed on the startup line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// SM2 private key, 64 hex digits. Default: the built-in TEST key (never for production).
    #[arg(long)]
    pub private_key: Option<String>,
    /// Order of the ciphertext parts the clients send.
    #[arg(long, value_enum, default_value = "c1c3c2")]
    pub mode: CipherMode,
    /// Text form of the ciphertexts.
    #[arg(long, value_enum, default_value = "hex")]
    pub cipher_encoding: CipherEncoding,
    /// Ciphertexts come without the 04 byte before C1 (sm-crypto/gmssl style).
    #[arg(long)]
    pub no_prefix_04: bool,
    /// Only this hospitalId is accepted (default: any).
    #[arg(long)]
    pub hospital_id: Option<String>,
    /// Seconds the simulated machine's clock (its `Date` header) is off real time; negative
    /// is behind (to try a workstation's clock check).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub clock_offset: i64,
    /// The charset of the cloud's JSON replies (docs/simulator.md, "Reply charset").
    #[command(flatten)]
    pub reply: reply::ReplyArgs,
}

impl Default for SimArgs {
    fn default() -> Self {
        SimArgs {
            host: "127.0.0.1".into(),
            port: 0,
            private_key: None,
            mode: CipherMode::C1c3c2,
            cipher_encoding: CipherEncoding::Hex,
            no_prefix_04: false,
            hospital_id: None,
            clock_offset: 0,
            reply: reply::ReplyArgs::default(),
        }
    }
}

/// What every connection thread shares.
pub struct Shared {
    pub state: State,
    pub decrypter: Decrypter,
    pub hospital_id: Option<String>,
    /// `--clock-offset`, seconds.
    pub clock_offset_s: i64,
}

/// A running simulator. Dropping it stops it.
pub struct Sim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Sim {
    pub fn start(args: &SimArgs) -> Result<Sim, String> {
        let decrypter = Decrypter::new(
            args.private_key.as_deref().unwrap_or(TEST_PRIVATE_KEY),
            args.mode,
            args.cipher_encoding,
            !args.no_prefix_04,
        )?;
        let listener = TcpListener::bind((args.host.as_str(), args.port))
            .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            state: State::answering(reply::ReplyEncoding::from_args(&args.reply)),
            decrypter,
            hospital_id: args.hospital_id.clone(),
            clock_offset_s: args.clock_offset,
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("miic-sim-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .map_err(|e| e.to_string())?;
        Ok(Sim {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn public_key_hex(&self) -> String {
        self.shared.decrypter.public_key_hex()
    }

    /// The startup line of docs/simulator.md.
    pub fn startup_line(&self) -> String {
        format!(
            "miic-sim listening on {} public_key={}",
            self.base_url(),
            self.public_key_hex()
        )
    }

    /// The requests received so far (the objects of `GET /__sim/requests`).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.shared.state.records()
    }

    /// Inject a fault, as `POST /__sim/fault` does.
    pub fn set_fault(&self, fault: state::Fault) {
        self.shared.state.set_fault(fault);
    }

    /// Answer the cloud endpoints in `encoding` from now on, as `POST /__sim/encoding` does.
    pub fn set_reply_encoding(&self, encoding: reply::ReplyEncoding) {
        self.shared.state.set_reply_encoding(encoding);
    }

    /// Clear records and faults and release hung requests, as `POST /__sim/reset` does.
    pub fn reset(&self) {
        self.shared.state.reset();
    }

    /// Stop accepting and release hung requests (also done on drop).
    pub fn stop(&mut self) {
        self.shared.state.stop();
        // Wake the accept loop so it sees the flag (0.0.0.0 is not connectable everywhere).
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                Ipv4Addr::LOCALHOST.into()
            } else {
                Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, std::time::Duration::from_secs(1));
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let live = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if shared.state.stopping() {
            return;
        }
        let Ok(stream) = stream else { continue };
        if live.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        live.fetch_add(1, Ordering::SeqCst);
        let (conn_shared, conn_live) = (Arc::clone(&shared), Arc::clone(&live));
        let spawned = std::thread::Builder::new()
            .name("miic-sim-conn".into())
            .spawn(move || {
                server::serve_connection(stream, conn_shared);
                conn_live.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // Thread not started: its closure (and the count it would release) is gone with it.
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// `miic-cli sim`: start, print the startup line, serve until killed.
pub fn run(args: &SimArgs) -> Result<(), String> {
    let sim = Sim::start(args)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", sim.startup_line()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    eprintln!(
        "cloud endpoints: {}; control: GET /__sim/requests, POST /__sim/reset, POST /__sim/fault, POST /__sim/encoding; ciphertexts: {}; replies: {}",
        endpoints::ENDPOINTS.iter().map(|e| format!("{} {}", e.method, e.path)).collect::<Vec<_>>().join(", "),
        sim.shared.decrypter.describe(),
        sim.shared.state.reply_encoding().describe()
    );
    if args.private_key.is_none() {
        eprintln!("warning: using the built-in TEST key pair; never use it in production");
    }
    loop {
        std::thread::park();
    }
}
