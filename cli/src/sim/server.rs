//! A small HTTP/1.1 server on std sockets: a thread per connection (keep-alive, many clients at
//! once), so a hung request holds only its own connection, and faults control the raw socket.

use super::endpoints::{self, Ctx, Outcome, ENDPOINTS};
use super::reply::ReplyEncoding;
use super::state::{Fault, FaultMode, MAX_HOLD};
use super::Shared;
use serde_json::{json, Value};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Limits on what a client may send.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// An idle keep-alive connection is closed after this.
const IDLE: Duration = Duration::from_secs(60);
/// Size of the `oversized` fault's body.
pub const OVERSIZED: usize = 16 * 1024 * 1024;

struct Request {
    method: String,
    target: String,
    content_type: Option<String>,
    body: Vec<u8>,
    keep_alive: bool,
}

enum ReadError {
    /// The peer closed (or went idle) between requests: not an error.
    Closed,
    /// A malformed request: answer 4xx with this status and message, then close.
    Bad(u16, String),
}

pub fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_write_timeout(Some(IDLE));
    let mut buf = Vec::new();
    loop {
        if shared.state.stopping() {
            return;
        }
        let request = match read_request(&mut stream, &mut buf) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, message)) => {
                shared.state.record(json!({
                    "method": "", "path": "", "query": null, "endpoint": null, "params": null,
                    "decrypted": {}, "problems": [format!("malformed HTTP request: {message}")],
                    "code": null, "http_status": status, "fault": null, "reply": null,
                }));
                let _ = write_response(
                    &mut stream,
                    &shared,
                    status,
                    "text/plain; charset=utf-8",
                    message.as_bytes(),
                    false,
                );
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        };
        let keep_alive = request.keep_alive;
        match handle(&mut stream, &shared, request) {
            Ok(true) if keep_alive => continue,
            _ => {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Request, ReadError> {
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or("").to_string();
                let target = req.path.unwrap_or("").to_string();
                let version = req.version.unwrap_or(1);
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                };
                let connection = header("connection").map(|c| c.to_ascii_lowercase());
                let keep_alive = match version {
                    0 => connection.as_deref() == Some("keep-alive"),
                    _ => connection.as_deref() != Some("close"),
                };
                if header("transfer-encoding").is_some() {
                    return Err(ReadError::Bad(
                        411,
                        "chunked request bodies are not supported; send Content-Length".into(),
                    ));
                }
                let content_type = header("content-type");
                let expect_continue =
                    header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
                let length = match header("content-length") {
                    None => 0,
                    Some(v) => v
                        .parse::<usize>()
                        .map_err(|_| ReadError::Bad(400, format!("bad Content-Length '{v}'")))?,
                };
                if length > MAX_BODY {
                    return Err(ReadError::Bad(
                        413,
                        format!("body of {length} bytes is over the {MAX_BODY}-byte limit"),
                    ));
                }
                buf.drain(..head_len);
                if length > buf.len() && expect_continue {
                    // .NET's HttpWebRequest waits for this before sending a POST body.
                    stream
                        .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                        .map_err(|_| ReadError::Closed)?;
                }
                while buf.len() < length {
                    let n = stream.read(&mut chunk).map_err(|_| ReadError::Closed)?;
                    if n == 0 {
                        return Err(ReadError::Closed);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body: Vec<u8> = buf.drain(..length).collect();
                return Ok(Request {
                    method,
                    target,
                    content_type,
                    body,
                    keep_alive,
                });
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(ReadError::Bad(431, "request head over 64 KiB".into()));
                }
            }
            Err(e) => {
                let hint = if buf.contains(&b' ') {
                    " (a space in the URL?)"
                } else {
                    ""
                };
                return Err(ReadError::Bad(400, format!("{e}{hint}")));
            }
        }
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(_) => return Err(ReadError::Closed),
        };
        if n == 0 {
            return Err(ReadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Answer one request; `Ok(true)` when the connection may carry another.
fn handle(stream: &mut TcpStream, shared: &Shared, req: Request) -> io::Result<bool> {
    let (path, query) = match req.target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (req.target.clone(), None),
    };
    if path == "/__sim" || path.starts_with("/__sim/") || path == "/" {
        let (status, body) = control(shared, &req.method, &path, &req.body);
        let utf8 = ReplyEncoding::default();
        write_json(stream, shared, status, &body, &utf8, req.keep_alive)?;
        return Ok(true);
    }

    let fault = shared.state.take_fault(&path);
    let ctx = Ctx {
        decrypter: &shared.decrypter,
        hospital_id: shared.hospital_id.as_deref(),
    };
    // Every request is decoded and checked, faulted or not, so the record shows what arrived.
    let mut outcome = endpoints::handle(
        &ctx,
        &req.method,
        &path,
        query.as_deref(),
        req.content_type.as_deref(),
        &req.body,
    );
    let encoding = shared.state.reply_encoding();
    let exchange = Exchange {
        shared,
        req: &req,
        path: &path,
        query: query.as_deref(),
        fault: fault.as_ref(),
        encoding: &encoding,
    };
    if let Some(keep_alive) = answer_fault(stream, &exchange, &mut outcome)? {
        return Ok(keep_alive);
    }
    exchange.record(&outcome, Some(outcome.http_status), Some(&outcome.reply));
    write_json(
        stream,
        shared,
        outcome.http_status,
        &outcome.reply,
        &encoding,
        req.keep_alive,
    )?;
    Ok(true)
}

/// One request to a cloud endpoint, and the fault (if any) it meets.
struct Exchange<'a> {
    shared: &'a Shared,
    req: &'a Request,
    path: &'a str,
    query: Option<&'a str>,
    fault: Option<&'a Fault>,
    /// The charset the JSON reply is written in.
    encoding: &'a ReplyEncoding,
}

impl Exchange<'_> {
    fn mode(&self) -> FaultMode {
        self.fault.map_or(FaultMode::None, |f| f.mode)
    }

    /// Add the request, what the endpoint made of it, and the answer to the record.
    fn record(&self, outcome: &Outcome, http_status: Option<u16>, reply: Option<&Value>) {
        let shown_reply = match reply {
            // The base64 picture is large; record its size, not the picture.
            Some(r) if outcome.endpoint == Some("qrcode") && r["code"] == 200 => json!({
                "code": 200, "message": r["message"],
                "data_bytes": r["data"].as_str().map_or(0, str::len),
            }),
            Some(r) => r.clone(),
            None => Value::Null,
        };
        self.shared.state.record(json!({
            "method": self.req.method, "path": self.path, "query": self.query,
            "endpoint": outcome.endpoint, "params": outcome.params,
            "decrypted": outcome.decrypted, "problems": outcome.problems,
            "code": reply.and_then(|r| r.get("code").cloned()),
            "http_status": http_status,
            "fault": self.fault.map(|f| f.mode.name()), "reply": shown_reply,
            "reply_encoding": reply.map(|_| self.encoding.to_json()),
        }));
    }
}

/// Play the exchange's fault: `Some(keep_alive)` when the fault answered instead of the endpoint,
/// `None` when the endpoint's reply (perhaps changed or delayed here) is still to be sent.
fn answer_fault(
    stream: &mut TcpStream,
    x: &Exchange,
    outcome: &mut Outcome,
) -> io::Result<Option<bool>> {
    let keep_alive = x.req.keep_alive;
    match x.mode() {
        FaultMode::Reset => {
            x.record(outcome, None, None);
            return Ok(Some(false));
        }
        FaultMode::Hang => {
            x.record(outcome, None, None);
            x.shared.state.hold(MAX_HOLD);
            return Ok(Some(false));
        }
        mode @ (FaultMode::Http500 | FaultMode::Garbage) => {
            let (status, body) = if mode == FaultMode::Http500 {
                (
                    500,
                    "<html><body><h1>500 Internal Server Error</h1></body></html>",
                )
            } else {
                (200, "<html><body>upstream gateway error</body></html>")
            };
            x.record(outcome, Some(status), None);
            write_response(
                stream,
                x.shared,
                status,
                "text/html; charset=utf-8",
                body.as_bytes(),
                keep_alive,
            )?;
            return Ok(Some(true));
        }
        FaultMode::Oversized => {
            x.record(outcome, Some(200), None);
            write_oversized(stream, x.shared, keep_alive)?;
            return Ok(Some(true));
        }
        FaultMode::Slow => {
            let delay = x.fault.map_or(0, |f| f.delay_ms);
            x.shared.state.hold(Duration::from_millis(delay));
        }
        FaultMode::Code500 => {
            outcome.reply = json!({"code": 500, "message": "服务异常"});
            outcome.http_status = 200;
        }
        FaultMode::Code400 => {
            outcome.reply = json!({"code": 400, "message": "sim:模拟的业务错误 (fault code400)"});
            outcome.http_status = 200;
        }
        FaultMode::Code202 => {
            outcome.reply = json!({"code": 202, "message": "传参数不规范（少传参数）"});
            outcome.http_status = 200;
        }
        FaultMode::None => {}
    }
    Ok(None)
}

/// The control endpoints under `/__sim/` (never faulted, never recorded).
fn control(shared: &Shared, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    match (method, path) {
        ("GET", "/" | "/__sim" | "/__sim/") => (200, listing(shared)),
        ("GET", "/__sim/requests") => (200, Value::Array(shared.state.records())),
        ("POST", "/__sim/reset") => {
            shared.state.reset();
            (200, json!({"ok": true}))
        }
        ("GET", "/__sim/fault") => (200, shared.state.fault().to_json()),
        ("GET", "/__sim/encoding") => (200, shared.state.reply_encoding().to_json()),
        ("POST", "/__sim/encoding") => match ReplyEncoding::from_json(body) {
            Ok(encoding) => {
                let shown = encoding.to_json();
                shared.state.set_reply_encoding(encoding);
                (200, json!({"ok": true, "encoding": shown}))
            }
            Err(e) => (400, json!({"ok": false, "error": e})),
        },
        ("POST", "/__sim/fault") => match Fault::from_json(body) {
            Ok(fault) => {
                let shown = fault.to_json();
                shared.state.set_fault(fault);
                (200, json!({"ok": true, "fault": shown}))
            }
            Err(e) => (400, json!({"ok": false, "error": e})),
        },
        _ => (
            404,
            json!({"ok": false, "error": format!("no control endpoint {method} {path}; GET /__sim lists them")}),
        ),
    }
}

fn listing(shared: &Shared) -> Value {
    json!({
        "simulator": "miic-sim",
        "public_key": shared.decrypter.public_key_hex(),
        "cipher": shared.decrypter.describe(),
        "hospital_id": shared.hospital_id,
        "endpoints": ENDPOINTS.iter().map(|e| json!({"method": e.method, "path": e.path, "name": e.name, "spec": e.spec})).collect::<Vec<_>>(),
        "control": [
            {"method": "GET", "path": "/__sim/requests", "what": "requests received, oldest first"},
            {"method": "POST", "path": "/__sim/reset", "what": "clear requests and faults, restore the reply charset, release hung requests"},
            {"method": "GET", "path": "/__sim/fault", "what": "the active fault"},
            {"method": "POST", "path": "/__sim/fault", "what": "{\"mode\":none|reset|hang|slow|http500|code500|code400|code202|garbage|oversized, \"delay_ms\", \"count\", \"path\"}"},
            {"method": "GET", "path": "/__sim/encoding", "what": "the charset of the cloud endpoints' replies"},
            {"method": "POST", "path": "/__sim/encoding", "what": "{\"encoding\":utf-8|gbk|gb18030, \"bom\":bool, \"charset\":LABEL|null}"},
        ],
    })
}

fn write_json(
    stream: &mut TcpStream,
    shared: &Shared,
    status: u16,
    body: &Value,
    encoding: &ReplyEncoding,
    keep_alive: bool,
) -> io::Result<()> {
    write_response(
        stream,
        shared,
        status,
        &encoding.content_type(),
        &encoding.body(body),
        keep_alive,
    )
}

/// The status line and headers; `Date` is the simulator's clock (`--clock-offset` from real time).
fn head(
    shared: &Shared,
    status: u16,
    content_type: &str,
    length: usize,
    keep_alive: bool,
) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let date = (chrono::Utc::now() + chrono::Duration::seconds(shared.clock_offset_s))
        .format("%a, %d %b %Y %H:%M:%S GMT");
    format!("HTTP/1.1 {status} {reason}\r\nDate: {date}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: {connection}\r\n\r\n")
}

fn write_response(
    stream: &mut TcpStream,
    shared: &Shared,
    status: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = head(shared, status, content_type, body.len(), keep_alive).into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}

/// `{"code":200,"message":"xxxx…"}` of exactly `OVERSIZED` bytes, streamed.
fn write_oversized(stream: &mut TcpStream, shared: &Shared, keep_alive: bool) -> io::Result<()> {
    let (open, close) = (
        br#"{"code":200,"message":""#.as_slice(),
        br#""}"#.as_slice(),
    );
    stream.write_all(
        head(
            shared,
            200,
            "application/json;charset=UTF-8",
            OVERSIZED,
            keep_alive,
        )
        .as_bytes(),
    )?;
    stream.write_all(open)?;
    let filler = vec![b'x'; 64 * 1024];
    let mut left = OVERSIZED - open.len() - close.len();
    while left > 0 {
        let n = left.min(filler.len());
        stream.write_all(&filler[..n])?;
        left -= n;
    }
    stream.write_all(close)?;
    stream.flush()
}
