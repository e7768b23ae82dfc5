//! One error model for the whole library: a typed [`Error`] carrying a [`Status`] and a message.
//! The C surface turns it into a negative status plus the thread-local `miic_last_error` text.

use std::fmt;

/// Status codes of the C ABI. Numbers are fixed by DESIGN.md: never renumber, never reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    Queued = 1,
    Argument = -1,
    Encoding = -2,
    Config = -3,
    State = -4,
    Network = -5,
    Timeout = -6,
    Server = -7,
    Protocol = -8,
    Crypto = -9,
    Dicom = -10,
    Io = -11,
    Internal = -99,
}

impl Status {
    pub const ALL: [Status; 14] = [
        Status::Ok,
        Status::Queued,
        Status::Argument,
        Status::Encoding,
        Status::Config,
        Status::State,
        Status::Network,
        Status::Timeout,
        Status::Server,
        Status::Protocol,
        Status::Crypto,
        Status::Dicom,
        Status::Io,
        Status::Internal,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.code() == code)
    }

    /// The C macro name, e.g. `MIIC_E_ARGUMENT`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "MIIC_OK",
            Status::Queued => "MIIC_QUEUED",
            Status::Argument => "MIIC_E_ARGUMENT",
            Status::Encoding => "MIIC_E_ENCODING",
            Status::Config => "MIIC_E_CONFIG",
            Status::State => "MIIC_E_STATE",
            Status::Network => "MIIC_E_NETWORK",
            Status::Timeout => "MIIC_E_TIMEOUT",
            Status::Server => "MIIC_E_SERVER",
            Status::Protocol => "MIIC_E_PROTOCOL",
            Status::Crypto => "MIIC_E_CRYPTO",
            Status::Dicom => "MIIC_E_DICOM",
            Status::Io => "MIIC_E_IO",
            Status::Internal => "MIIC_E_INTERNAL",
        }
    }
}

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
