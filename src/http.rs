//! The one HTTP client of a miic client: a keep-alive ureq agent, a whole-call deadline,
//! a cap on reply size, and the cloud's `{code, message, data}` envelope, read in the charset
//! the reply names.
//!
//! Uses: resolve, text (reply charsets), error.

use crate::error::{connection_status, http_status, Error, Result, Status};
use crate::resolve::{LookupError, Resolver};
use crate::text::decode_reply;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

/// Replies larger than this are refused: the cloud's answers are a few hundred bytes, and a
/// QR picture as base64 stays well under it.
pub const MAX_REPLY_BYTES: u64 = 4 << 20;

#[derive(Debug)]
pub struct Http {
    agent: ureq::Agent,
    resolver: Arc<Resolver>,
    timeout: Duration,
    closed: AtomicBool,
}

/// How much of an answer's body [`Http::get_answer_within`] keeps.
pub const ANSWER_PREVIEW_BYTES: u64 = 64 << 10;

/// An HTTP answer as it arrived, for reporting what answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `Date` header, as sent.
    pub date: Option<String>,
    pub server: Option<String>,
    /// The first [`ANSWER_PREVIEW_BYTES`] of the body.
    pub body: Vec<u8>,
    /// From sending the request to the end of the kept body.
    pub elapsed: Duration,
}

/// A 2xx reply as it arrived: the body, and the `Content-Type` that names its charset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The cloud's envelope, read in the charset the reply names.
    pub fn envelope(&self, what: &str) -> Result<CloudReply> {
        CloudReply::parse(what, self.content_type.as_deref(), &self.body)
    }
}

/// The cloud's reply envelope, `code == 200` meaning success.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudReply {
    pub code: i64,
    pub message: String,
    pub data: serde_json::Value,
}

/// ureq's view of the client's [`Resolver`]: the host of the URI, its port, and the call's
/// remaining deadline as the longest wait for a lookup.
#[derive(Debug)]
struct ClientResolver(Arc<Resolver>);

impl ureq::unversioned::resolver::Resolver for ClientResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let authority = uri
            .authority()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri}: no host")))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let mut addrs = self.empty();
        self.0
            .resolve_each(host, port, *timeout.after, &mut |a| {
                let _ = addrs.try_push(a);
            })
            .map_err(|e| match e {
                LookupError::TimedOut => ureq::Error::Timeout(ureq::Timeout::Resolve),
                e => ureq::Error::Io(std::io::Error::other(
                    e.into_error(host, *timeout.after).message,
                )),
            })?;
        Ok(addrs)
    }
}

/// A ureq agent on `config` whose host names go through `resolver`, and whose connections
/// send each request in one piece ([`OneWrite`]).
pub fn agent(config: ureq::config::Config, resolver: &Arc<Resolver>) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default().chain(OneWrite),
        ClientResolver(Arc::clone(resolver)),
    )
}

/// Wraps ureq's TCP transport so that a request costs the network what it must and no more:
/// - ureq hands over the head of a POST and its body separately, and the TCP transport sends each
///   at once (two segments, and the server wakes twice). Here what is handed over waits until
///   the reply is awaited (or [`ONE_WRITE_MAX`] is held), then goes out in one write.
/// - ureq probes a kept-alive connection twice per call (three system calls each): when it goes
///   back to the pool after a reply, and when it is taken out for the next request. The first
///   probe after a reply is skipped: the one at checkout, just before the connection is used
///   again, still catches a peer that closed it or sent bytes nobody asked for.
#[derive(Debug)]
struct OneWrite;

/// Bytes held back before they are sent anyway (larger bodies stream as they come).
const ONE_WRITE_MAX: usize = 64 << 10;

type Transported<T> = std::result::Result<T, ureq::Error>;

impl Connector<Box<dyn Transport>> for OneWrite {
    type Out = OneWriteTransport;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Transported<Option<OneWriteTransport>> {
        Ok(chained.map(|inner| OneWriteTransport {
            inner,
            held: Vec::new(),
            replied: false,
        }))
    }
}

#[derive(Debug)]
struct OneWriteTransport {
    inner: Box<dyn Transport>,
    /// Output handed over and not yet sent.
    held: Vec<u8>,
    /// Input was read since the last probe.
    replied: bool,
}

impl OneWriteTransport {
    fn send_held(&mut self, timeout: NextTimeout) -> Transported<()> {
        let mut sent = 0;
        while sent < self.held.len() {
            let output = self.inner.buffers().output();
            let n = output.len().min(self.held.len() - sent);
            output[..n].copy_from_slice(&self.held[sent..sent + n]);
            self.inner.transmit_output(n, timeout)?;
            sent += n;
        }
        self.held.clear();
        Ok(())
    }
}

impl Transport for OneWriteTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Transported<()> {
        let output = &self.inner.buffers().output()[..amount];
        self.held.extend_from_slice(output);
        if self.held.len() >= ONE_WRITE_MAX {
            self.send_held(timeout)?;
        }
        Ok(())
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Transported<bool> {
        self.send_held(timeout)?;
        if self.inner.buffers().can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Transported<bool> {
        self.send_held(timeout)?;
        self.replied = true;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        if std::mem::take(&mut self.replied) && self.held.is_empty() {
            // Back to the pool after a reply: probed at checkout instead (see [`OneWrite`]).
            return true;
        }
        self.inner.is_open()
    }
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            // The front-end is on the hospital LAN: HTTP_PROXY/ALL_PROXY set for a browser must
            // not route patient data through a proxy.
            .proxy(None)
            .user_agent(concat!("miic/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(4)
            .build();
        let resolver = Arc::new(Resolver::default());
        Http {
            agent: agent(config, &resolver),
            resolver,
            timeout,
            closed: AtomicBool::new(false),
        }
    }

    /// The host names this client looked up (shared with its other HTTP agents).
    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    /// Interrupt every call in flight on this agent and refuse new ones (used by `miic_close`).
    pub fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.resolver.shutdown();
        self.agent.clone().shutdown();
    }

    /// After [`Self::shutdown`]: join the lookup thread, unless it hangs (then `false`: see
    /// [`Resolver::join`]).
    pub fn join(&self) -> bool {
        self.resolver.join()
    }

    /// GET `url` and return the reply, within the whole-call deadline.
    pub fn get(&self, url: &str) -> Result<Reply> {
        let started = Instant::now();
        let result = self.agent.get(url).call();
        self.finish(url, started, result)
    }

    /// POST an already serialised JSON body, waiting at most `limit` (a caller's remaining
    /// budget, never more than the client's timeout).
    pub fn post_json_text_within(&self, url: &str, body: &str, limit: Duration) -> Result<Reply> {
        let started = Instant::now();
        let request = self.agent.post(url);
        // The whole timeout is the agent's own: only a shorter budget needs a config of its own
        // (cloned per request by ureq).
        let request = if limit < self.timeout {
            request.config().timeout_global(Some(limit)).build()
        } else {
            request
        };
        let result = request
            .header("Content-Type", "application/json;charset=UTF-8")
            .send(body);
        self.finish(url, started, result)
    }

    /// GET `url` within `limit` and return the answer as it came, whatever its HTTP status:
    /// for the diagnosis, which reports what answered (status, type, `Date`, the first bytes).
    pub fn get_answer_within(&self, url: &str, limit: Duration) -> Result<Answer> {
        let started = Instant::now();
        let path = path_of(url);
        let response = self
            .agent
            .get(url)
            .config()
            .timeout_global(Some(limit.min(self.timeout)))
            .build()
            .call()
            .map_err(|e| self.map_error(url, e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let (content_type, date, server) =
            (header("content-type"), header("date"), header("server"));
        let mut body = Vec::new();
        response
            .into_body()
            .as_reader()
            .take(ANSWER_PREVIEW_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| Error::new(connection_status(&e), format!("{path}: {e}")))?;
        Ok(Answer {
            status,
            content_type,
            date,
            server,
            body,
            elapsed: started.elapsed(),
        })
    }

    fn finish(
        &self,
        url: &str,
        started: Instant,
        result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply> {
        let path = path_of(url);
        let response = result.map_err(|e| self.map_error(url, e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(|e| self.map_error(url, e))?;
        log::debug!(
            "{path}: HTTP {status}, {} bytes in {} ms",
            body.len(),
            started.elapsed().as_millis()
        );
        if !(200..300).contains(&status) {
            let said = error_body_summary(content_type.as_deref(), &body)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            return Err(Error::protocol(format!(
                "{path}: front-end machine answered HTTP {status}{said}"
            )));
        }
        Ok(Reply { content_type, body })
    }

    fn map_error(&self, url: &str, e: ureq::Error) -> Error {
        let path = path_of(url);
        if self.closed.load(Ordering::SeqCst) {
            return Error::state(format!("{path}: the client was closed during the call"));
        }
        let message = match (&e, http_status(&e)) {
            (ureq::Error::Timeout(ureq::Timeout::Resolve), _) => format!(
                "{path}: {} was not resolved within timeout_ms = {} (the DNS server does not answer)",
                host_of(url),
                self.timeout.as_millis()
            ),
            (_, Status::Timeout) => format!(
                "{path}: no answer within timeout_ms = {}",
                self.timeout.as_millis()
            ),
            (ureq::Error::Io(io), _) => format!("{path}: {io}"),
            (ureq::Error::HostNotFound, _) => format!("{path}: host not found"),
            (ureq::Error::ConnectionFailed, _) => format!("{path}: connection failed"),
            (ureq::Error::BodyExceedsLimit(limit), _) => {
                format!("{path}: reply larger than {limit} bytes")
            }
            (other, _) => format!("{path}: {other}"),
        };
        Error::new(http_status(&e), message)
    }
}

/// The host of `url` as written (for messages).
fn host_of(url: &str) -> &str {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = without_scheme.split(['/', '?']).next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => host,
        _ => authority,
    }
}

fn path_of(url: &str) -> &str {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = without_scheme
        .find('/')
        .map_or("/", |i| &without_scheme[i..]);
    path.split('?').next().unwrap_or(path)
}

impl CloudReply {
    /// Parse the envelope of a reply `body` in the charset its `content_type` names; `code`
    /// may come as a number or a string (`"200"`).
    pub fn parse(what: &str, content_type: Option<&str>, body: &[u8]) -> Result<CloudReply> {
        let reply = decode_reply(what, content_type, body)?;
        let value: serde_json::Value = serde_json::from_str(&reply.text).map_err(|_| {
            Error::protocol(format!("{what}: reply is not JSON: {}", short(&reply.text)))
        })?;
        let object = value
            .as_object()
            .ok_or_else(|| Error::protocol(format!("{what}: reply is not a JSON object")))?;
        let code = match object.get("code") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| Error::protocol(format!("{what}: reply has no numeric 'code'")))?;
        let message = match object.get("message").or_else(|| object.get("msg")) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        log::debug!(
            "{what}: code {code}, message '{}', in {}",
            short(&message),
            reply.describe()
        );
        Ok(CloudReply {
            code,
            message,
            data: object
                .get("data")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        })
    }

    /// `code == 200`, or `MIIC_E_SERVER` carrying the cloud's code and message.
    pub fn into_success(self, what: &str) -> Result<CloudReply> {
        if self.code == 200 {
            Ok(self)
        } else {
            Err(Error::server(format!(
                "{what}: cloud answered code {}: {}",
                self.code, self.message
            )))
        }
    }
}

/// At most 80 characters of `text`, without control characters, for error messages.
pub fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// Characters of an error reply quoted in a message: enough for a servlet's or gateway's reason.
const ERROR_BODY_SHOWN_CHARS: usize = 160;

/// What an HTTP error reply says, for the message support reads: the `code` and `message` of a
/// JSON body, or the words of an HTML/text page (a gateway's "502 Bad Gateway", Tomcat's
/// exception line), in the reply's charset. `None` when the body says nothing readable.
fn error_body_summary(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    let text = decode_reply("error reply", content_type, body).ok()?.text;
    let clip = |s: &str| {
        let mut shown: String = s.chars().take(ERROR_BODY_SHOWN_CHARS).collect();
        if s.chars().nth(ERROR_BODY_SHOWN_CHARS).is_some() {
            shown.push('…');
        }
        shown
    };
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text.trim()) {
        let message = ["message", "msg", "error"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .map(str::trim)
            .filter(|m| !m.is_empty());
        let code = map.get("code").map(|c| match c {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        match (code, message) {
            (Some(code), Some(m)) => return Some(format!("code {code}, message '{}'", clip(m))),
            (None, Some(m)) => return Some(format!("'{}'", clip(m))),
            _ => {}
        }
    }
    let mut words = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                words.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => words.push(if c.is_control() { ' ' } else { c }),
            _ => {}
        }
    }
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    (!words.is_empty()).then(|| format!("'{}'", clip(&words)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn envelope_accepts_string_codes_and_reports_failures() {
        let r = CloudReply::parse(
            "qrurl",
            None,
            br#"{"code":"200","data":"u","message":"ok"}"#,
        )
        .unwrap();
        assert_eq!(r.code, 200);
        let e = CloudReply::parse(
            "qrurl",
            None,
            "{\"code\":202,\"message\":\"少传参数\"}".as_bytes(),
        )
        .unwrap()
        .into_success("qrurl")
        .unwrap_err();
        assert_eq!(e.status, Status::Server);
        assert!(e.message.contains("202") && e.message.contains("少传参数"));
        assert_eq!(
            CloudReply::parse("x", None, b"<html>").unwrap_err().status,
            Status::Protocol
        );
        assert_eq!(
            CloudReply::parse("x", None, b"{\"data\":1}")
                .unwrap_err()
                .status,
            Status::Protocol
        );
    }

    #[test]
    fn uri_hosts_reach_the_resolver_with_their_port_and_without_brackets() {
        use ureq::unversioned::resolver::Resolver as _;
        let config = ureq::config::Config::default();
        // A deadline already spent: only what needs no lookup can answer.
        let spent = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::Exact(Duration::ZERO),
            ..Default::default()
        };
        let resolver = ClientResolver(Arc::new(Resolver::default()));
        let resolve = |url: &str| {
            resolver
                .resolve(&url.parse().unwrap(), &config, spent)
                .map(|addrs| addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            resolve("http://10.0.0.5:8080/x").unwrap(),
            ["10.0.0.5:8080"]
        );
        assert_eq!(resolve("http://10.0.0.5/").unwrap(), ["10.0.0.5:80"]);
        assert_eq!(resolve("http://[::1]:9/").unwrap(), ["[::1]:9"]);
        assert!(matches!(
            resolve("http://front-end.invalid/"),
            Err(ureq::Error::Timeout(_))
        ));
    }

    #[test]
    fn path_of_strips_host_and_query() {
        assert_eq!(path_of("http://10.0.0.5:8080/hrball/?a=1"), "/hrball/");
        assert_eq!(path_of("http://h"), "/");
    }

    #[test]
    fn host_of_drops_scheme_port_and_path() {
        assert_eq!(
            host_of("http://front-end.test:8080/hrball/?a=1"),
            "front-end.test"
        );
        assert_eq!(host_of("http://10.0.0.5/x"), "10.0.0.5");
        assert_eq!(host_of("http://[::1]:9/x"), "[::1]");
        assert_eq!(host_of("http://[::1]/x"), "[::1]");
    }
    #[test]
    fn error_replies_are_summarised_from_json_html_and_gbk() {
        let json = br#"{"code": 500, "message": " \u6570\u636e\u5e93\u8fde\u63a5\u5931\u8d25 "}"#;
        assert_eq!(
            error_body_summary(Some("application/json"), json).as_deref(),
            Some("code 500, message '数据库连接失败'")
        );
        let spring = br#"{"timestamp":"2026-12-01","status":500,"error":"Internal Server Error","path":"/x"}"#;
        assert_eq!(
            error_body_summary(None, spring).as_deref(),
            Some("'Internal Server Error'")
        );
        let html =
            b"<html><head><title>502</title></head><body><h1>502 Bad\nGateway</h1></body></html>";
        assert_eq!(
            error_body_summary(Some("text/html"), html).as_deref(),
            Some("'502 502 Bad Gateway'")
        );
        let (gbk, _, _) = encoding_rs::GBK.encode(r#"{"code":"E1","msg":"参数错误"}"#);
        assert_eq!(
            error_body_summary(Some("application/json; charset=GBK"), &gbk).as_deref(),
            Some("code E1, message '参数错误'")
        );
        assert_eq!(error_body_summary(None, b"  \r\n "), None);
        let long = "x".repeat(500);
        let shown = error_body_summary(None, long.as_bytes()).unwrap();
        assert_eq!(shown.chars().count(), ERROR_BODY_SHOWN_CHARS + 3);
    }
}
