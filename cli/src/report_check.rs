//! `miic-cli report-check`: is a PACS's 4.1.2 endpoint (or a file of records) what the cloud
//! expects? Queries the endpoint the way the cloud does (the three request bodies of 4.1.2.4),
//! validates every reply through `miic_report_validate` (the C ABI, as any host calls it),
//! checks that the records answer the question asked (window, accession number, patient name),
//! optionally fetches each `dcmPath`, and prints a summary.
//! Exit status: 0 conformant, 1 not conformant, 2 could not check.

use chrono::{Duration, Local, NaiveDateTime};
use miic::report::{aliases, parse_datetime, MAX_INPUT_BYTES, RULES};
use miic::{decode_reply, mask_name, ReplyText};
use miic_cli::abi;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReportCheckArgs {
    /// The PACS 4.1.2 endpoint (HTTP POST, JSON), e.g. http://10.0.0.7:8080/pacs/report
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub url: Option<String>,
    /// A file holding one record, an array of records, or a 4.1.2 reply.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print the result as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Window start, yyyy-MM-dd HH:mm:ss (default: 24 hours before --end).
    #[arg(long)]
    pub start: Option<String>,
    /// Window end, yyyy-MM-dd HH:mm:ss (default: now).
    #[arg(long)]
    pub end: Option<String>,
    /// Accession number for request 2 (default: the first one the window queries return).
    #[arg(long)]
    pub access_number: Option<String>,
    /// Patient name for request 3 (default: the first one the window queries return).
    #[arg(long)]
    pub patient_name: Option<String>,
    /// Fetch every dcmPath entry (HTTP GET) and report the ones that fail.
    #[arg(long)]
    pub probe_dcm: bool,
    /// Base URL for relative dcmPath entries (default: the endpoint's scheme://host:port).
    #[arg(long)]
    pub dcm_base: Option<String>,
    /// At most this many dcmPath entries are fetched.
    #[arg(long, default_value_t = 50)]
    pub max_probes: usize,
    /// Whole-request deadline in milliseconds.
    #[arg(long, default_value_t = 15000)]
    pub timeout_ms: u64,
    /// How many of the worst records to list.
    #[arg(long, default_value_t = 5)]
    pub worst: usize,
}

/// The checker's rules beyond the validator's.
const CHECK_RULES: &[(&str, &str)] = &[
    ("http", "the endpoint answers HTTP 200 with a JSON body"),
    (
        "outside_window",
        "records of a window query fall in the requested window",
    ),
    (
        "wrong_record",
        "an accession/patient-name query answers only matching records",
    ),
    (
        "not_found",
        "an accession number seen in a window query is found by request 2",
    ),
    (
        "dcm_unreachable",
        "each dcmPath entry can be fetched over HTTP",
    ),
    (
        "charset",
        "replies are UTF-8 without a byte-order mark (warning: miic reads GBK, GB18030 and a BOM, other readers may not)",
    ),
];

/// One problem, from `miic_report_validate`'s JSON or from the checker itself.
struct Problem {
    record: Option<usize>,
    field: String,
    rule: String,
    error: bool,
    message: String,
}

impl Problem {
    fn from_json(p: &Value) -> Problem {
        let text = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
        Problem {
            record: p["record"].as_u64().map(|i| i as usize),
            field: text("field"),
            rule: text("rule"),
            error: p["severity"] == "error",
            message: text("message"),
        }
    }

    fn checker(record: Option<usize>, field: &str, rule: &str, message: String) -> Problem {
        Problem {
            record,
            field: field.into(),
            rule: rule.into(),
            error: true,
            message,
        }
    }

    /// The `charset` warning when `reply` was anything but plain UTF-8.
    fn charset(reply: &ReplyText) -> Option<Problem> {
        if reply.is_plain_utf8() {
            return None;
        }
        Some(Problem {
            record: None,
            field: "Content-Type".into(),
            rule: "charset".into(),
            error: false,
            message: format!(
                "the reply came in {}: miic reads it, but JSON between systems is UTF-8 without a \
                 byte-order mark (RFC 8259), and the cloud's reader may expect exactly that; answer \
                 with Content-Type: application/json;charset=UTF-8",
                reply.describe()
            ),
        })
    }

    fn to_json(&self) -> Value {
        let severity = if self.error { "error" } else { "warning" };
        json!({"record": self.record, "field": self.field, "rule": self.rule,
               "severity": severity, "message": self.message})
    }
}

/// One query and what came back.
struct Query {
    name: String,
    body: Value,
    http_status: Option<u16>,
    /// Why no report could be had at all (network, HTTP status, not JSON…).
    failure: Option<String>,
    /// `miic_report_validate`'s problems JSON for the reply.
    report: Value,
    /// The validator's problems, then the checker's own (window, matching, dcmPath).
    problems: Vec<Problem>,
    validator_problems: usize,
    records: Vec<Value>,
}

impl Query {
    fn new(name: String, body: Value) -> Query {
        Query {
            name,
            body,
            http_status: None,
            failure: None,
            report: Value::Null,
            problems: Vec::new(),
            validator_problems: 0,
            records: Vec::new(),
        }
    }

    /// Validate the reply's text through the C ABI, keep its records, and warn of its charset.
    fn validate_reply(&mut self, reply: &ReplyText) -> Result<(), String> {
        self.validate(&reply.text)?;
        self.problems.extend(Problem::charset(reply));
        Ok(())
    }

    /// Validate `text` through the C ABI and keep its records.
    fn validate(&mut self, text: &str) -> Result<(), String> {
        let out = abi::report_validate(text).map_err(|f| f.message)?;
        self.report = serde_json::from_str(&out).map_err(|e| format!("problems JSON: {e}"))?;
        self.problems = self.report["problems"]
            .as_array()
            .map(|a| a.iter().map(Problem::from_json).collect())
            .unwrap_or_default();
        self.validator_problems = self.problems.len();
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        self.records = records_of(&value);
        Ok(())
    }

    fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.error).count() + usize::from(self.failure.is_some())
    }
}

pub fn run(args: &ReportCheckArgs) -> ExitCode {
    let outcome = match (&args.url, &args.file) {
        (_, Some(file)) => check_file(file),
        (Some(url), None) => check_url(url, args),
        (None, None) => Err("give --url or --file".into()),
    };
    let queries = match outcome {
        Ok(q) => q,
        Err(e) => {
            eprintln!("miic-cli report-check: {e}");
            return ExitCode::from(2);
        }
    };
    let conformant = queries.iter().all(|q| q.errors() == 0);
    let unanswered = queries
        .iter()
        .filter(|q| q.failure.is_some() && q.http_status.is_none())
        .count();
    if args.json {
        let text = serde_json::to_string_pretty(&as_json(&queries, conformant)).unwrap_or_default();
        println!("{text}");
    } else {
        print_tables(&queries, conformant, unanswered, args.worst);
    }
    if unanswered > 0 {
        return ExitCode::from(2);
    }
    if conformant {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check_file(path: &PathBuf) -> Result<Vec<Query>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A file has no Content-Type: UTF-8, else GB18030, after any byte-order mark.
    let reply = decode_reply("file", None, &bytes)
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    let mut q = Query::new(format!("file {}", path.display()), Value::Null);
    q.validate_reply(&reply)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(vec![q])
}

fn records_of(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a.clone(),
        Value::Object(m) if m.contains_key("data") => match &m["data"] {
            Value::Array(a) => a.clone(),
            Value::Object(_) => vec![m["data"].clone()],
            _ => Vec::new(),
        },
        Value::Object(_) => vec![value.clone()],
        _ => Vec::new(),
    }
}

/// A record's value for a table field, under its own name or an alias.
fn field_of(record: &Value, field: &str) -> Option<String> {
    let map = record.as_object()?;
    let found = map.get(field).or_else(|| {
        aliases::ALIASES
            .iter()
            .filter(|(_, f, _)| *f == field)
            .find_map(|(a, _, _)| map.get(*a))
    });
    match found? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn check_url(url: &str, args: &ReportCheckArgs) -> Result<Vec<Query>, String> {
    let window = Window::from_args(args)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_millis(args.timeout_ms)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut queries = window_queries(&agent, url, &window);
    let seen = |queries: &[Query], field: &str| {
        queries
            .iter()
            .flat_map(|q| q.records.iter())
            .find_map(|r| field_of(r, field))
    };
    if let Some(acc) = args
        .access_number
        .clone()
        .or_else(|| seen(&queries, "accessionNo"))
    {
        queries.push(accession_query(&agent, url, &acc));
    }
    if let Some(name) = args
        .patient_name
        .clone()
        .or_else(|| seen(&queries, "psnName"))
    {
        queries.push(patient_query(&agent, url, &name, &window));
    }
    if args.probe_dcm {
        let base = args.dcm_base.clone().unwrap_or_else(|| origin(url));
        probe_dcm(&agent, &base, args.max_probes, &mut queries);
    }
    Ok(queries)
}

/// The time window asked for: `--start` .. `--end`, by default the last 24 hours.
struct Window {
    start: NaiveDateTime,
    end: NaiveDateTime,
    start_text: String,
    end_text: String,
}

impl Window {
    fn from_args(args: &ReportCheckArgs) -> Result<Window, String> {
        let end = match &args.end {
            Some(t) => parse_datetime(t).map_err(|why| format!("--end '{t}' {why}"))?,
            None => Local::now().naive_local(),
        };
        let start = match &args.start {
            Some(t) => parse_datetime(t).map_err(|why| format!("--start '{t}' {why}"))?,
            None => end - Duration::hours(24),
        };
        if start > end {
            return Err("--start is after --end".into());
        }
        let format = "%Y-%m-%d %H:%M:%S";
        Ok(Window {
            start,
            end,
            start_text: start.format(format).to_string(),
            end_text: end.format(format).to_string(),
        })
    }
}

/// Request 1: the window, for each type; records outside it are named. Type 2 follows the PS
/// line (report time); 4.1.2.1 calls it refund time, which no column holds. Type 4 (update time)
/// has no column either.
fn window_queries(agent: &ureq::Agent, url: &str, w: &Window) -> Vec<Query> {
    let (start_s, end_s) = (&w.start_text, &w.end_text);
    let mut queries = Vec::new();
    for (kind, field) in [
        (1, Some("examDate")),
        (2, Some("rptDate")),
        (3, Some("chkDate")),
        (4, None),
    ] {
        let body = json!({"startTime": start_s, "endTime": end_s, "type": kind});
        let mut q = query(agent, url, format!("window type={kind}"), body);
        if let Some(field) = field {
            let mut outside = Vec::new();
            for (i, record) in q.records.iter().enumerate() {
                let Some(t) = field_of(record, field).and_then(|t| parse_datetime(&t).ok()) else {
                    continue;
                };
                if t < w.start || t > w.end {
                    let message =
                        format!("'{field}' {t} is outside the requested window {start_s} .. {end_s} (type={kind})");
                    outside.push(Problem::checker(Some(i), field, "outside_window", message));
                }
            }
            q.problems.extend(outside);
        }
        queries.push(q);
    }
    queries
}

/// Request 2: one accession number, no window; each record must be that accession's.
fn accession_query(agent: &ureq::Agent, url: &str, acc: &str) -> Query {
    let body = json!({"accessNumber": acc, "type": 1});
    let mut q = query(agent, url, format!("accessNumber={acc}"), body);
    let mut wrong = Vec::new();
    for (i, record) in q.records.iter().enumerate() {
        let got = field_of(record, "accessionNo").unwrap_or_default();
        if got != acc {
            let message = format!("asked for accessNumber {acc}, got a record of '{got}'");
            wrong.push(Problem::checker(
                Some(i),
                "accessionNo",
                "wrong_record",
                message,
            ));
        }
    }
    if q.records.is_empty() && q.failure.is_none() {
        let message = format!("accessNumber {acc} returned no record");
        wrong.push(Problem::checker(None, "accessNumber", "not_found", message));
    }
    q.problems.extend(wrong);
    q
}

/// Request 3: patient name and window; each record must be that patient's.
fn patient_query(agent: &ureq::Agent, url: &str, name: &str, w: &Window) -> Query {
    let body =
        json!({"patientName": name, "startTime": w.start_text, "endTime": w.end_text, "type": 1});
    let mut q = query(
        agent,
        url,
        format!("patientName={} window", mask_name(name)),
        body,
    );
    let mut wrong = Vec::new();
    for (i, record) in q.records.iter().enumerate() {
        if field_of(record, "psnName").as_deref() != Some(name) {
            let message = format!(
                "asked for patient {}, got another patient's record",
                mask_name(name)
            );
            wrong.push(Problem::checker(
                Some(i),
                "psnName",
                "wrong_record",
                message,
            ));
        }
    }
    q.problems.extend(wrong);
    q
}

fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => url[..after_scheme + i].to_owned(),
        None => url.to_owned(),
    }
}

fn query(agent: &ureq::Agent, url: &str, name: String, body: Value) -> Query {
    let mut q = Query::new(name, body);
    let response = agent
        .post(url)
        .header("Content-Type", "application/json;charset=UTF-8")
        .send(q.body.to_string());
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            q.failure = Some(format!("request failed: {e}"));
            return q;
        }
    };
    q.http_status = Some(response.status().as_u16());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match response
        .into_body()
        .with_config()
        .limit(MAX_INPUT_BYTES as u64)
        .read_to_vec()
    {
        Ok(b) => b,
        Err(e) => {
            q.failure = Some(format!("reply body: {e}"));
            return q;
        }
    };
    if q.http_status != Some(200) {
        q.failure = Some(format!("HTTP {}", q.http_status.unwrap_or_default()));
        return q;
    }
    // Read as the cloud does: in the charset the reply names.
    let reply = match decode_reply("4.1.2", content_type.as_deref(), &bytes) {
        Ok(r) => r,
        Err(e) => {
            q.failure = Some(e.message);
            return q;
        }
    };
    // The validator's message says where and why (fullwidth punctuation, depth…).
    if let Err(why) = q.validate_reply(&reply) {
        q.failure = Some(why);
        return q;
    }
    if q.report["envelope"].is_null() {
        let message = "reply is not a {data, code, message} envelope".into();
        q.problems
            .push(Problem::checker(None, "data", "envelope", message));
    }
    q
}

fn probe_dcm(agent: &ureq::Agent, base: &str, max: usize, queries: &mut [Query]) {
    let mut probed: BTreeMap<String, Option<String>> = BTreeMap::new();
    for q in queries.iter_mut() {
        let mut found = Vec::new();
        for (i, record) in q.records.iter().enumerate() {
            let Some(paths) = record.get("dcmPath").and_then(Value::as_str) else {
                continue;
            };
            for path in paths.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let url = if path.starts_with("http://") || path.starts_with("https://") {
                    path.to_owned()
                } else {
                    let path = path.replace('\\', "/");
                    format!(
                        "{}/{}",
                        base.trim_end_matches('/'),
                        path.trim_start_matches('/')
                    )
                };
                if !probed.contains_key(&url) {
                    if probed.len() >= max {
                        continue;
                    }
                    let outcome = match agent.get(&url).call() {
                        Ok(r) if r.status().as_u16() == 200 => None,
                        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                        Err(e) => Some(e.to_string()),
                    };
                    probed.insert(url.clone(), outcome);
                }
                if let Some(Some(why)) = probed.get(&url) {
                    let message = format!("dcmPath entry {url}: {why}");
                    found.push(Problem::checker(
                        Some(i),
                        "dcmPath",
                        "dcm_unreachable",
                        message,
                    ));
                }
            }
        }
        q.problems.extend(found);
    }
}

fn rule_counts(queries: &[Query]) -> BTreeMap<&str, (usize, usize)> {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for p in queries.iter().flat_map(|q| q.problems.iter()) {
        let c = counts.entry(p.rule.as_str()).or_default();
        if p.error {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    counts
}

fn describe(rule: &str) -> &'static str {
    RULES
        .iter()
        .chain(CHECK_RULES.iter())
        .find(|(r, _)| *r == rule)
        .map(|(_, d)| *d)
        .unwrap_or("")
}

/// Records with the most errors: (query, record index, accessionNo, errors, first error).
fn worst(queries: &[Query], n: usize) -> Vec<(String, usize, String, usize, String)> {
    let mut rows = Vec::new();
    for q in queries {
        let mut per: BTreeMap<usize, (usize, String)> = BTreeMap::new();
        for p in q.problems.iter().filter(|p| p.error) {
            if let Some(i) = p.record {
                per.entry(i).or_insert((0, p.message.clone())).0 += 1;
            }
        }
        for (i, (count, first)) in per {
            let acc = q
                .records
                .get(i)
                .and_then(|r| field_of(r, "accessionNo"))
                .unwrap_or_else(|| "-".into());
            rows.push((q.name.clone(), i, acc, count, first));
        }
    }
    rows.sort_by(|a, b| b.3.cmp(&a.3).then(a.1.cmp(&b.1)));
    rows.truncate(n);
    rows
}

fn as_json(queries: &[Query], conformant: bool) -> Value {
    let rules: BTreeMap<&str, Value> = rule_counts(queries)
        .into_iter()
        .map(|(r, (e, w))| {
            (
                r,
                json!({"errors": e, "warnings": w, "checks": describe(r)}),
            )
        })
        .collect();
    let qs: Vec<Value> = queries
        .iter()
        .map(|q| {
            let checker: Vec<Value> = q.problems[q.validator_problems..]
                .iter()
                .map(Problem::to_json)
                .collect();
            // The patient-name request body holds a name: not echoed.
            let body = if q.name.starts_with("patientName") {
                json!("(patient name masked)")
            } else {
                q.body.clone()
            };
            json!({
                "query": q.name,
                "body": body,
                "http_status": q.http_status,
                "failure": q.failure,
                "records": q.records.len(),
                "errors": q.errors(),
                "validator": q.report,
                "checker_problems": checker,
            })
        })
        .collect();
    let worst: Vec<Value> = worst(queries, 20)
        .into_iter()
        .map(|(q, i, acc, n, first)| json!({"query": q, "record": i, "accessionNo": acc, "errors": n, "first": first}))
        .collect();
    json!({"conformant": conformant, "queries": qs, "rules": rules, "worst_records": worst})
}

fn print_tables(queries: &[Query], conformant: bool, unanswered: usize, n_worst: usize) {
    println!(
        "{:<34} {:>5} {:>7} {:>7} {:>8}  note",
        "query", "http", "records", "errors", "warnings"
    );
    for q in queries {
        let warnings = q.problems.iter().filter(|p| !p.error).count();
        let http = q
            .http_status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let mut note = q.failure.clone().unwrap_or_default();
        if q.report["truncated"] == true {
            note.push_str(" (validator listed its first 10000 problems)");
        }
        println!(
            "{:<34} {:>5} {:>7} {:>7} {:>8}  {}",
            q.name,
            http,
            q.records.len(),
            q.errors(),
            warnings,
            note
        );
    }
    let counts = rule_counts(queries);
    if !counts.is_empty() {
        println!();
        println!("{:<26} {:>7} {:>8}  checks", "rule", "errors", "warnings");
        for (rule, (e, w)) in &counts {
            println!("{:<26} {:>7} {:>8}  {}", rule, e, w, describe(rule));
        }
    }
    let charsets: std::collections::BTreeSet<&str> = queries
        .iter()
        .flat_map(|q| q.problems.iter())
        .filter(|p| p.rule == "charset")
        .map(|p| p.message.as_str())
        .collect();
    if !charsets.is_empty() {
        println!();
        for message in charsets {
            println!("charset: {message}");
        }
    }
    let mut aliases: BTreeMap<(String, String), u64> = BTreeMap::new();
    for a in queries
        .iter()
        .filter_map(|q| q.report["aliases"].as_array())
        .flatten()
    {
        let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
        *aliases.entry((text("alias"), text("field"))).or_insert(0) +=
            a["records"].as_u64().unwrap_or(0);
    }
    if !aliases.is_empty() {
        println!();
        println!(
            "aliases (names of the 4.1.2.4 sample, or misspellings, mapped to the 4.1 table):"
        );
        for ((alias, field), records) in &aliases {
            let meaning = miic::report::field(field).map(|f| f.meaning).unwrap_or("");
            println!("  {alias:<22} -> {field:<20} {meaning} ({records} records)");
        }
    }
    let rows = worst(queries, n_worst);
    if !rows.is_empty() {
        println!();
        println!("worst records:");
        for (q, i, acc, count, first) in rows {
            println!("  {q} #{i} accessionNo {acc}: {count} errors; first: {first}");
        }
    }
    let errors: usize = queries.iter().map(Query::errors).sum();
    let records: usize = queries.iter().map(|q| q.records.len()).sum();
    println!();
    if unanswered > 0 {
        // No verdict on the PACS: some of its answers were never seen.
        println!(
            "UNABLE TO CHECK: {unanswered} of {} queries got no HTTP answer",
            queries.len()
        );
    } else if conformant {
        println!("CONFORMANT: {records} records, no errors");
    } else {
        println!("NOT CONFORMANT: {errors} errors in {records} records");
    }
}
