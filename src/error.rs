//! One error model for the whole library: the list of statuses (the one place a code, its C name
//! and its meaning are written), a typed [`Error`] carrying a [`Status`] and a message, and the
//! one place that says which status a library's error means. The C surface turns an error into
//! a negative status plus the thread-local `miic_last_error` text.
//!
//! Uses: nothing in the crate: it is the bottom layer. It knows the error types of ureq,
//! dicom-ul, rusqlite and std::io, to classify them.

use std::fmt;
use std::io;

// ---- The one list of statuses ----
// Each status is written once, here: its C name, its code (fixed by DESIGN.md: never renumber,
// never reuse) and its meaning. cbindgen copies these constants into include/miic.h; build.rs
// reads the same lines and generates the [`Status`] enum and its names from them.

/// Success.
pub const MIIC_OK: i32 = 0;
/// Accepted and stored durably; delivery is retried in the background.
pub const MIIC_QUEUED: i32 = 1;
/// A pointer was NULL, or a field is missing or invalid (the message names it).
pub const MIIC_E_ARGUMENT: i32 = -1;
/// Text is not valid in the client's encoding (UTF-8 or GBK).
pub const MIIC_E_ENCODING: i32 = -2;
/// The configuration is invalid or lacks what the call needs (the message names the key).
pub const MIIC_E_CONFIG: i32 = -3;
/// The call is not possible now, e.g. no doctor is logged in.
pub const MIIC_E_STATE: i32 = -4;
/// The front-end machine could not be reached (refused, unreachable, host not found).
pub const MIIC_E_NETWORK: i32 = -5;
/// No answer within `timeout_ms`.
pub const MIIC_E_TIMEOUT: i32 = -6;
/// The cloud answered with an error code; the message carries its code and message.
pub const MIIC_E_SERVER: i32 = -7;
/// The reply was not understood (HTTP error status, unknown charset, not JSON, too large).
pub const MIIC_E_PROTOCOL: i32 = -8;
/// SM2 encryption failed, or the key is unusable.
pub const MIIC_E_CRYPTO: i32 = -9;
/// A DICOM peer failed or refused.
pub const MIIC_E_DICOM: i32 = -10;
/// A local file or folder could not be read or written.
pub const MIIC_E_IO: i32 = -11;
/// A bug in miic; the message says what, please report it.
pub const MIIC_E_INTERNAL: i32 = -99;

// `pub enum Status` (one variant per constant above, same code and doc), `Status::ALL`,
// `code`, `from_code`, `name` and `c_name`.
include!(concat!(env!("OUT_DIR"), "/status.rs"));

/// A failed operation: which status the caller gets and a message naming the field or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Error {
            status,
            message: message.into(),
        }
    }
    pub fn argument(message: impl Into<String>) -> Self {
        Error::new(Status::Argument, message)
    }
    /// A required field is absent or empty.
    pub fn missing(field: &str) -> Self {
        Error::argument(format!("missing required field '{field}'"))
    }
    pub fn encoding(message: impl Into<String>) -> Self {
        Error::new(Status::Encoding, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(Status::Config, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Error::new(Status::State, message)
    }
    pub fn network(message: impl Into<String>) -> Self {
        Error::new(Status::Network, message)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::new(Status::Timeout, message)
    }
    pub fn server(message: impl Into<String>) -> Self {
        Error::new(Status::Server, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(Status::Protocol, message)
    }
    pub fn crypto(message: impl Into<String>) -> Self {
        Error::new(Status::Crypto, message)
    }
    pub fn dicom(message: impl Into<String>) -> Self {
        Error::new(Status::Dicom, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Error::new(Status::Io, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Status::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}

// ---- what the libraries' errors mean, decided by their types (never by their text) ----

/// A failed HTTP exchange (ureq): no answer in time is `Timeout`, no connection is `Network`,
/// anything else (reply too large, malformed, a redirect) is `Protocol`.
pub fn http_status(e: &ureq::Error) -> Status {
    match e {
        ureq::Error::Timeout(_) => Status::Timeout,
        ureq::Error::Io(io) => connection_status(io),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Status::Network,
        _ => Status::Protocol,
    }
}

/// A failed read or write on a connection: a timeout (the socket's own, or ureq's carried inside
/// the `io::Error` its body reader returns) is `Timeout`, anything else `Network`.
pub fn connection_status(e: &io::Error) -> Status {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return Status::Timeout;
    }
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
    {
        Some(ureq::Error::Timeout(_)) => Status::Timeout,
        _ => Status::Network,
    }
}

/// A failed DICOM association (dicom-ul): the peer's rejection or abort is `Dicom`; a socket
/// failure underneath is what [`connection_status`] says; a connection that could not be made or
/// was closed is `Network`; other upper-layer trouble is `Dicom`.
pub fn association_status(e: &dicom_ul::association::Error) -> Status {
    use dicom_ul::association::Error as Ul;
    match e {
        Ul::Rejected { .. } | Ul::NoAcceptedPresentationContexts { .. } | Ul::Aborted { .. } => {
            Status::Dicom
        }
        _ => match io_cause(e) {
            Some(io) => connection_status(io),
            None if matches!(
                e,
                Ul::Connect { .. } | Ul::ToAddress { .. } | Ul::ConnectionClosed { .. }
            ) =>
            {
                Status::Network
            }
            None => Status::Dicom,
        },
    }
}

/// A failed operation on the outbox file (rusqlite): a local file that cannot be used.
pub fn sqlite_status(_: &rusqlite::Error) -> Status {
    Status::Io
}

/// The first `io::Error` in `e`'s chain of causes.
pub fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = c.source();
    }
    None
}
