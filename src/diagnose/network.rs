//! The network checks: the front-end machine (TCP connect time, an HTTP answer and what it looked
//! like), the clock against that answer's `Date` header, and the `dicom_http` image server. Each
//! probe is bounded by `timeout_ms` as a whole (connect and answer share it).
//!
//! The front-end probe is a GET of the QR-URL path without parameters: it changes nothing in the
//! cloud, and the cloud answers it with its JSON envelope ("parameters missing"), which tells the
//! cloud's service from any other web server on that address.
//!
//! Uses: config, http, text (reply charsets), error, diagnose::report.

use super::report::{ms, text, Check, Text};
use crate::config::Config;
use crate::error::{Error, Status};
use crate::http::{short, Answer, CloudReply, Http};
use crate::text::decode_reply;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

/// Skew up to this is fine (the `Date` header has whole seconds).
const CLOCK_OK: Duration = Duration::from_secs(60);
/// Skew beyond this fails: times in the cloud's records would be off by minutes.
const CLOCK_FAILED: Duration = Duration::from_secs(300);

/// What one probe of an HTTP server found.
pub struct Probe {
    /// `host:port` as the URL names it.
    pub address: String,
    pub path: String,
    pub resolved: Option<SocketAddr>,
    /// The TCP connect: its time, or why it failed (`None` when the name did not resolve).
    pub connect: Option<Result<Duration, std::io::Error>>,
    /// The HTTP answer, when the TCP connect succeeded.
    pub answer: Option<Result<Answer, Error>>,
    /// The wall clock when the request was sent and when its answer was read.
    pub sent_at: SystemTime,
    pub received_at: SystemTime,
    pub resolve_error: Option<String>,
}

fn probe(http: &Http, url: &str, timeout: Duration) -> Probe {
    let started = Instant::now();
    let (address, host, port) = authority(url);
    let path = url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .unwrap_or_else(|| "/".into());
    let mut probe = Probe {
        address,
        path,
        resolved: None,
        connect: None,
        answer: None,
        sent_at: SystemTime::now(),
        received_at: SystemTime::now(),
        resolve_error: None,
    };
    // An IP address is used as given; a name goes through the diagnosis's resolver, whose
    // lookup the HTTP request below then finds done (a hung DNS costs this probe its timeout_ms
    // once, and no thread outlives the diagnosis for long: see resolve.rs).
    let resolved = http
        .resolver()
        .resolve(&host, port, timeout)
        .map_err(|e| e.to_string())
        .and_then(|addrs| {
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
                .ok_or_else(|| "no address".to_owned())
        });
    let addr = match resolved {
        Ok(addr) => addr,
        Err(e) => {
            probe.resolve_error = Some(e);
            return probe;
        }
    };
    probe.resolved = Some(addr);
    let connect_started = Instant::now();
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => {
            probe.connect = Some(Ok(connect_started.elapsed()));
            drop(stream);
        }
        Err(e) => {
            probe.connect = Some(Err(e));
            return probe;
        }
    }
    let left = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    probe.sent_at = SystemTime::now();
    probe.answer = Some(http.get_answer_within(url, left));
    probe.received_at = SystemTime::now();
    probe
}

/// `host:port`, the host (without IPv6 brackets) and the port (80 by default).
fn authority(url: &str) -> (String, String, u16) {
    let uri: Option<ureq::http::Uri> = url.parse().ok();
    let host = uri
        .as_ref()
        .and_then(|u| u.host())
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.as_ref().and_then(|u| u.port_u16()).unwrap_or(80);
    let shown = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    (shown, host, port)
}

/// An answer's body as text, in the charset it names (lossy when it is not text in it).
fn body_text(answer: &Answer) -> String {
    match decode_reply("answer", answer.content_type.as_deref(), &answer.body) {
        Ok(reply) => reply.text,
        Err(_) => String::from_utf8_lossy(&answer.body).into_owned(),
    }
}

/// What an answer's body looked like.
fn body_kind(answer: &Answer) -> (&'static str, Option<CloudReply>) {
    let content_type = answer.content_type.as_deref();
    match body_text(answer).trim_start().chars().next() {
        None => ("empty", None),
        Some('{') => match CloudReply::parse("answer", content_type, &answer.body) {
            Ok(reply) => ("cloud JSON", Some(reply)),
            Err(_) => ("JSON without a code", None),
        },
        Some('<') => ("HTML", None),
        Some(_) => ("text", None),
    }
}

fn measure_probe(check: &mut Check, p: &Probe) {
    check.measure("address", p.address.clone());
    check.measure("path", p.path.clone());
    if let Some(addr) = p.resolved {
        check.measure("ip", addr.ip().to_string());
    }
    if let Some(Ok(d)) = &p.connect {
        check.measure("connect_ms", ms(*d));
    }
    if let Some(Ok(a)) = &p.answer {
        let (kind, reply) = body_kind(a);
        check
            .measure("http_status", a.status)
            .measure("answer_ms", ms(a.elapsed))
            .measure("content_type", a.content_type.clone())
            .measure("body_bytes", a.body.len())
            .measure("body_kind", kind)
            .measure("body_start", short(&body_text(a)));
        // How the body was read (`GBK (charset=GBK)`, `GB18030 (no charset, not UTF-8)`): support
        // sees at once a front-end that answers in another charset than the spec's UTF-8.
        if let Ok(text) = decode_reply("answer", a.content_type.as_deref(), &a.body) {
            check.measure("charset", text.describe());
        }
        if let Some(server) = &a.server {
            check.measure("server", server.clone());
        }
        if let Some(reply) = reply {
            check.measure("cloud_code", reply.code);
        }
    }
}

/// A probe that got no HTTP answer: the check fails saying where it stopped. `what` names the
/// server in both languages, `fix_down` is the advice when nothing listens or answers.
fn no_answer(mut check: Check, p: &Probe, timeout: Duration, server: &Text) -> Option<Check> {
    let t = timeout.as_millis();
    let addr = &p.address;
    if let Some(e) = &p.resolve_error {
        return Some(check.failed(
            text(
                format!("无法解析主机名 {addr}：{e}"),
                format!("the host name of {addr} does not resolve: {e}"),
            ),
            text(
                format!("检查{}地址中的主机名，或直接使用其 IP 地址。", server.zh),
                format!(
                    "Check the host name in the {}'s URL, or use its IP address.",
                    server.en
                ),
            ),
        ));
    }
    match &p.connect {
        Some(Err(e)) => {
            check.measure("connect_error", e.to_string());
            let refused = e.kind() == ErrorKind::ConnectionRefused;
            let timed_out = matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock);
            let summary = if refused {
                text(
                    format!("{addr} 拒绝连接（该端口无服务监听）"),
                    format!("{addr} refused the connection (nothing listens on that port)"),
                )
            } else if timed_out {
                text(
                    format!("{addr} 在 {t} ms 内没有响应 TCP 连接"),
                    format!("{addr} did not accept a TCP connection within {t} ms"),
                )
            } else {
                text(
                    format!("无法连接 {addr}：{e}"),
                    format!("cannot connect to {addr}: {e}"),
                )
            };
            let fix = if refused {
                text(
                    format!(
                        "{addr} 上没有服务在监听：确认地址中的 IP 和端口正确，并确认{}的服务已启动。",
                        server.zh
                    ),
                    format!(
                        "Nothing listens at {addr}: check the IP and port in the URL, and that the {}'s service is running.",
                        server.en
                    ),
                )
            } else {
                text(
                    format!(
                        "{addr} 不可达：确认 IP 正确、{}已开机，并确认防火墙放行本工作站到该端口的连接。",
                        server.zh
                    ),
                    format!(
                        "{addr} cannot be reached: check the IP, that the {} is switched on, and that no firewall blocks this workstation from that port.",
                        server.en
                    ),
                )
            };
            Some(check.failed(summary, fix))
        }
        Some(Ok(connected)) => match &p.answer {
            Some(Err(e)) => {
                let c = connected.as_millis();
                check.measure("http_error", e.message.clone());
                let (summary, fix) = match e.status {
                    Status::Timeout => (
                        text(
                            format!("TCP 连接成功（{c} ms），但 {t} ms 内没有 HTTP 应答"),
                            format!("TCP connected in {c} ms, but no HTTP answer came within {t} ms"),
                        ),
                        text(
                            format!(
                                "{}的服务接受连接但不应答（挂起或过载）：重启{}上的该服务；若仍如此，请联系其运维方。",
                                server.zh, server.zh
                            ),
                            format!(
                                "The {}'s service accepts connections but does not answer (hung or overloaded): restart that service on the {}; if it persists, call its operator.",
                                server.en, server.en
                            ),
                        ),
                    ),
                    Status::Network => (
                        text(
                            format!("TCP 连接成功（{c} ms），但连接在应答前被关闭：{}", e.message),
                            format!("TCP connected in {c} ms, but the connection closed before an answer: {}", e.message),
                        ),
                        text(
                            format!(
                                "{}的服务断开了请求：重启该服务，并检查中间是否有代理或安全设备拦截。",
                                server.zh
                            ),
                            format!(
                                "The {}'s service dropped the request: restart it, and check for a proxy or security device in between.",
                                server.en
                            ),
                        ),
                    ),
                    _ => (
                        text(
                            format!("TCP 连接成功（{c} ms），但应答不是 HTTP：{}", e.message),
                            format!("TCP connected in {c} ms, but the answer is not HTTP: {}", e.message),
                        ),
                        text(
                            format!(
                                "该端口上是别的程序，不是{}的 Web 服务：核对地址中的端口。",
                                server.zh
                            ),
                            format!(
                                "Another program listens on that port, not the {}'s web service: check the port in the URL.",
                                server.en
                            ),
                        ),
                    ),
                };
                Some(check.failed(summary, fix))
            }
            _ => None,
        },
        None => None,
    }
}

/// The `front_end` check, and its probe for the clock check.
pub fn front_end(config: &Config, http: &Http) -> (Check, Probe) {
    let url = config.url(&config.paths.qrurl);
    let p = probe(http, &url, config.timeout);
    let mut check = Check::new("front_end");
    measure_probe(&mut check, &p);
    let server = text("前置机", "front-end machine");
    let check = match no_answer(check.clone(), &p, config.timeout, &server) {
        Some(failed) => failed,
        None => judge_front_end(check, &p),
    };
    (check, p)
}

fn judge_front_end(check: Check, p: &Probe) -> Check {
    let Some(Ok(answer)) = &p.answer else {
        return check.failed(
            text("没有得到应答", "no answer"),
            text("检查 base_url。", "Check base_url."),
        );
    };
    let connect = match &p.connect {
        Some(Ok(d)) => d.as_millis(),
        _ => 0,
    };
    let (kind, reply) = body_kind(answer);
    let status = answer.status;
    let took = answer.elapsed.as_millis();
    let what_en = format!(
        "{}: TCP {connect} ms; GET {} answered HTTP {status} in {took} ms ({}, {} bytes)",
        p.address,
        p.path,
        answer.content_type.as_deref().unwrap_or("no Content-Type"),
        answer.body.len()
    );
    let what_zh = format!(
        "{}：TCP 连接 {connect} ms；GET {} 应答 HTTP {status}，{took} ms（{}，{} 字节）",
        p.address,
        p.path,
        answer.content_type.as_deref().unwrap_or("无 Content-Type"),
        answer.body.len()
    );
    if (200..300).contains(&status) {
        if let Some(reply) = reply {
            return check.ok(text(
                format!("{what_zh}，云平台 JSON 应答（code {}）", reply.code),
                format!("{what_en}, the cloud's JSON envelope (code {})", reply.code),
            ));
        }
        return check.failed(
            text(
                format!("{what_zh}，但内容是 {kind}，不是云平台的 JSON 应答"),
                format!("{what_en}, but the body is {kind}, not the cloud's JSON envelope"),
            ),
            text(
                "base_url 指向的 Web 服务器不是医保影像云前置机服务：向前置机运维方核对 IP、端口和路径前缀。",
                "base_url reaches a web server that is not the imaging cloud's front-end service: check the IP, port and any path prefix with the front-end's operator.",
            ),
        );
    }
    let (zh, en) = match status {
        500..=599 => (
            "前置机服务报告内部错误（HTTP 5xx）：重启前置机上的医保影像云服务；若仍如此，把其日志交给云平台运维方。",
            "The front-end service reports an internal error (HTTP 5xx): restart the imaging cloud service on the front-end machine; if it persists, give its log to the cloud's operator.",
        ),
        404 => (
            "该地址上的 Web 服务器没有云平台的接口路径：核对 base_url 的端口和路径前缀（若运维方改过路径，再核对 [paths]）。",
            "The web server at that address has none of the cloud's paths: check the port and any path prefix of base_url (and [paths], if the operator changed them).",
        ),
        401 | 403 => (
            "前置机拒绝本工作站：请前置机运维方把本工作站的 IP 加入允许列表。",
            "The front-end machine refuses this workstation: ask its operator to allow this workstation's IP address.",
        ),
        _ => (
            "该地址有应答，但不像医保影像云前置机：向前置机运维方核对 base_url。",
            "Something answers at that address, but not as the imaging cloud's front-end: check base_url with the front-end's operator.",
        ),
    };
    check.failed(
        text(
            format!("{what_zh}，内容为 {kind}"),
            format!("{what_en}, body {kind}"),
        ),
        text(zh, en),
    )
}

/// The `clock` check: this workstation's clock against the front-end's `Date` header.
pub fn clock(p: Option<&Probe>) -> Check {
    let mut check = Check::new("clock");
    let local = chrono::Local::now();
    check.measure("utc_offset", local.format("%:z").to_string());
    let Some(p) = p else {
        return check.skipped(text(
            "没有可用的前置机地址，未比较时钟",
            "no usable front-end address: clock not compared",
        ));
    };
    let Some(Ok(answer)) = &p.answer else {
        return check.skipped(text(
            "前置机没有应答（见 front_end），未比较时钟",
            "the front-end machine did not answer (see front_end): clock not compared",
        ));
    };
    let Some(date) = &answer.date else {
        return check.skipped(text(
            "前置机的应答没有 Date 头，无法比较时钟",
            "the front-end's answer has no Date header: clock not compared",
        ));
    };
    check.measure("front_end_date", date.clone());
    let Ok(server) = chrono::DateTime::parse_from_rfc2822(date) else {
        return check.skipped(text(
            format!("前置机的 Date 头无法识别：{date}"),
            format!("the front-end's Date header is not understood: {date}"),
        ));
    };
    // Date has whole seconds: the server's clock read somewhere in [date, date + 1 s), at a
    // moment between sending and receiving; compare the middles.
    let mid = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let local_mid = (mid(p.sent_at) + mid(p.received_at)) / 2.0;
    let server_mid = server.timestamp() as f64 + 0.5;
    let skew = local_mid - server_mid;
    let uncertainty = 0.5 + (mid(p.received_at) - mid(p.sent_at)) / 2.0;
    let skew_ms = (skew * 1000.0).round() as i64;
    check
        .measure("skew_ms", skew_ms)
        .measure("uncertainty_ms", (uncertainty * 1000.0).round() as i64);
    let secs = skew.abs().round() as u64;
    let (ahead_zh, ahead_en) = if skew > 0.0 {
        ("快", "ahead of")
    } else {
        ("慢", "behind")
    };
    let summary = if secs == 0 {
        text(
            format!("本机时钟与前置机一致（±{uncertainty:.1} 秒）"),
            format!("this workstation's clock agrees with the front-end machine's (±{uncertainty:.1} s)"),
        )
    } else {
        text(
            format!("本机时钟比前置机{ahead_zh} {secs} 秒（±{uncertainty:.1} 秒）"),
            format!("this workstation's clock is {secs} s {ahead_en} the front-end machine's (±{uncertainty:.1} s)"),
        )
    };
    let magnitude = Duration::from_secs_f64(skew.abs());
    if magnitude <= CLOCK_OK {
        return check.ok(summary);
    }
    let fix = text(
        format!("校准本工作站时钟（比前置机{ahead_zh} {secs} 秒）：开启自动对时（Windows：以管理员运行 w32tm /resync，或 设置 → 时间和语言 → 立即同步），或向信息科询问医院的 NTP 服务器。"),
        format!("Set this workstation's clock right (it is {secs} s {ahead_en} the front-end's): turn on time synchronisation (Windows: w32tm /resync as administrator, or Settings → Time & language → Sync now), or ask hospital IT for the hospital's NTP server."),
    );
    if magnitude <= CLOCK_FAILED {
        check.warning(summary, fix)
    } else {
        check.failed(summary, fix)
    }
}

/// The `dicom_http` check: the server `dcmPath` files are fetched from answers HTTP.
pub fn dicom_http(config: &Config, http: &Http) -> Check {
    let check = Check::new("dicom_http");
    let Some(base) = &config.dicom_http_base_url else {
        return check.skipped(text(
            "未配置 [dicom_http] base_url：不通过 HTTP 下载影像",
            "no [dicom_http] base_url: images are not fetched over HTTP",
        ));
    };
    let p = probe(http, &format!("{base}/"), config.timeout);
    let mut check = check;
    measure_probe(&mut check, &p);
    let server = text("影像 HTTP 服务器", "image HTTP server");
    if let Some(failed) = no_answer(check.clone(), &p, config.timeout, &server) {
        return failed;
    }
    let Some(Ok(answer)) = &p.answer else {
        return check.skipped(text("未探测", "not probed"));
    };
    let connect = match &p.connect {
        Some(Ok(d)) => d.as_millis(),
        _ => 0,
    };
    let summary = text(
        format!(
            "{}：TCP 连接 {connect} ms；GET {} 应答 HTTP {}，{} ms",
            p.address,
            p.path,
            answer.status,
            answer.elapsed.as_millis()
        ),
        format!(
            "{}: TCP {connect} ms; GET {} answered HTTP {} in {} ms",
            p.address,
            p.path,
            answer.status,
            answer.elapsed.as_millis()
        ),
    );
    if answer.status >= 500 {
        return check.warning(
            summary,
            text(
                "影像服务器报告内部错误（HTTP 5xx）：请 PACS 厂商检查其影像 Web 服务。",
                "The image server reports an internal error (HTTP 5xx): ask the PACS vendor to check its image web service.",
            ),
        );
    }
    check.ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_has_default_port_and_ipv6_brackets() {
        assert_eq!(authority("http://10.0.0.5:8080/x").0, "10.0.0.5:8080");
        assert_eq!(authority("http://pacs").0, "pacs:80");
        let (shown, host, port) = authority("http://[::1]:9/");
        assert_eq!((shown.as_str(), host.as_str(), port), ("[::1]:9", "::1", 9));
    }

    fn answer(date: Option<&str>) -> Probe {
        let now = SystemTime::now();
        Probe {
            address: "x:1".into(),
            path: "/".into(),
            resolved: None,
            connect: Some(Ok(Duration::from_millis(1))),
            answer: Some(Ok(Answer {
                status: 200,
                content_type: None,
                date: date.map(str::to_owned),
                server: None,
                body: b"{\"code\":202}".to_vec(),
                elapsed: Duration::from_millis(2),
            })),
            sent_at: now,
            received_at: now,
            resolve_error: None,
        }
    }

    fn date_off(secs: i64) -> String {
        (chrono::Utc::now() + chrono::Duration::seconds(secs))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    }

    #[test]
    fn clock_skew_is_judged_against_the_date_header() {
        use super::super::report::Outcome;
        assert_eq!(
            clock(Some(&answer(Some(&date_off(0))))).outcome,
            Outcome::Ok
        );
        let c = clock(Some(&answer(Some(&date_off(-120)))));
        assert_eq!(c.outcome, Outcome::Warning);
        assert!(c.summary.en.contains("ahead of"), "{}", c.summary.en);
        let c = clock(Some(&answer(Some(&date_off(3600)))));
        assert_eq!(c.outcome, Outcome::Failed);
        assert!(c.summary.en.contains("behind"), "{}", c.summary.en);
        let skew = c.measured["skew_ms"].as_i64().unwrap();
        assert!((-3_602_000..=-3_598_000).contains(&skew), "{skew}");
        assert_eq!(clock(Some(&answer(None))).outcome, Outcome::Skipped);
        assert_eq!(clock(None).outcome, Outcome::Skipped);
    }
}
