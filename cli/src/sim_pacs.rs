//! `miic-cli sim-pacs`: the simulator's PACS side (docs/simulator-pacs.md). It plays a hospital
//! PACS answering the cloud's 4.1.2 report query with generated records, conformant or (with
//! `--broken`) broken in every way the checker knows, and serves each record's `dcmPath`;
//! in UTF-8, or GBK / GB18030 and with a byte-order mark as older PACS answer (`--reply-*`).

use chrono::{Duration, Local, NaiveDateTime};
use miic::report::parse_datetime;
use miic::report::sample::{broken_record, valid_record, BROKEN};
use miic_cli::sim::reply::{ReplyArgs, ReplyEncoding};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration as StdDuration;

#[derive(clap::Args, Debug, Clone)]
pub struct SimPacsArgs {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Path of the 4.1.2 endpoint.
    #[arg(long, default_value = "/pacs/report")]
    pub path: String,
    /// Conformant records per window query.
    #[arg(long, default_value_t = 20)]
    pub records: usize,
    /// Add broken records: one per validator rule, one outside the window, a wrong patient in
    /// the name query, and one whose dcmPath is missing.
    #[arg(long)]
    pub broken: bool,
    /// The charset of the JSON replies (docs/simulator-pacs.md).
    #[command(flatten)]
    pub reply: ReplyArgs,
}

const MAX_BODY: usize = 1 << 20;

pub fn run(args: &SimPacsArgs) -> Result<(), String> {
    let listener =
        TcpListener::bind((args.host.as_str(), args.port)).map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("miic-sim-pacs listening on http://{addr}{}", args.path);
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let args = args.clone();
        std::thread::spawn(move || {
            let _ = serve(stream, &args);
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream, args: &SimPacsArgs) -> std::io::Result<()> {
    stream.set_read_timeout(Some(StdDuration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (method, path, body_start, length) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(at)) => {
                let length = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    })
                    .unwrap_or(0);
                break (
                    req.method.unwrap_or("").to_owned(),
                    req.path.unwrap_or("").to_owned(),
                    at,
                    length,
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < 64 * 1024 => continue,
            _ => return respond(&mut stream, 400, "text/plain", b"bad request"),
        }
    };
    if length > MAX_BODY {
        return respond(&mut stream, 413, "text/plain", b"body too large");
    }
    while buf.len() < body_start + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[body_start..(body_start + length).min(buf.len())];
    if method == "POST" && path == args.path {
        let encoding = ReplyEncoding::from_args(&args.reply);
        let reply = answer(body, args);
        return respond(
            &mut stream,
            200,
            &encoding.content_type(),
            &encoding.body(&reply),
        );
    }
    if method == "GET" && path.starts_with("/wado/") {
        // A stand-in for a DICOM file: the 128-byte preamble and the DICM magic.
        let mut file = vec![0u8; 128];
        file.extend_from_slice(b"DICM");
        return respond(&mut stream, 200, "application/dicom", &file);
    }
    respond(&mut stream, 404, "text/plain", b"not found")
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        413 => "Payload Too Large",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn refuse(message: &str) -> Value {
    json!({"code": 400, "message": message, "data": []})
}

/// The 4.1.2 reply to one request body (the three shapes of 4.1.2.4).
fn answer(body: &[u8], args: &SimPacsArgs) -> Value {
    let Ok(request) = serde_json::from_slice::<Map<String, Value>>(body) else {
        return refuse("body:不是JSON对象");
    };
    let kind = match request.get("type") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => return refuse("type:不能为空"),
    };
    if !(1..=4).contains(&kind) {
        return refuse("type:取值1-4");
    }
    if let Some(acc) = request.get("accessNumber").and_then(Value::as_str) {
        // Generated accession numbers are A + the record number.
        let Some(i) = acc.strip_prefix('A').and_then(|n| n.parse::<usize>().ok()) else {
            return json!({"code": 0, "message": "成功", "data": []});
        };
        let exam = Local::now().naive_local() - Duration::hours(2);
        return json!({"code": 0, "message": "成功", "data": [valid_record(i, exam)]});
    }
    let window = |key: &str| request.get(key).and_then(Value::as_str).map(parse_datetime);
    let (start, end) = match (window("startTime"), window("endTime")) {
        (Some(Ok(s)), Some(Ok(e))) if s <= e => (s, e),
        (None, _) | (_, None) => return refuse("startTime/endTime:不能为空"),
        _ => return refuse("startTime/endTime:格式yyyy-MM-dd HH:mm:ss"),
    };
    let mut data = window_records(start, end, kind, args);
    if let Some(name) = request.get("patientName").and_then(Value::as_str) {
        let mut other = None;
        data.retain(|r| {
            let same = r.get("psnName").and_then(Value::as_str) == Some(name);
            if !same && other.is_none() {
                other = Some(r.clone());
            }
            same
        });
        if args.broken {
            data.extend(other);
        }
    }
    json!({"code": 0, "message": "成功", "data": data})
}

/// Records whose type-`kind` time (exam, report, audit) falls inside the window.
fn window_records(
    start: NaiveDateTime,
    end: NaiveDateTime,
    kind: u64,
    args: &SimPacsArgs,
) -> Vec<Value> {
    // The generated record is reported 60 and audited 90 minutes after the exam.
    let shift = match kind {
        2 => Duration::minutes(60),
        3 => Duration::minutes(90),
        _ => Duration::zero(),
    };
    let broken = if args.broken { BROKEN.len() + 2 } else { 0 };
    let total = args.records + broken;
    let span = end - start;
    let at = |k: usize| start + span * (k as i32 + 1) / (total as i32 + 1) - shift;
    let mut out: Vec<Value> = (0..args.records)
        .map(|i| Value::Object(valid_record(i, at(i))))
        .collect();
    if args.broken {
        for (j, (rule, _)) in BROKEN.iter().enumerate() {
            let i = args.records + j;
            if let Some(r) = broken_record(rule, i, at(i)) {
                out.push(Value::Object(r));
            }
        }
        let i = args.records + BROKEN.len();
        out.push(Value::Object(valid_record(
            i,
            end + Duration::days(1) - shift,
        )));
        let mut missing = valid_record(i + 1, at(i + 1));
        missing.insert("dcmPath".into(), json!(format!("/missing/{}", (i + 1))));
        out.push(Value::Object(missing));
    }
    out
}
