//! `miic-cli report-check`: is a PACS's 4.1.2 endpoint (or a file of records) what the cloud
//! expects? Queries the endpoint the way the cloud does (the three request bodies of 4.1.2.4),
//! validates every reply and record with miic's validator, checks that the records answer the
//! question asked (window, accession number, patient name), optionally fetches each `dcmPath`,
//! and prints a summary. Exit status: 0 conformant, 1 not conformant, 2 could not check.

use chrono::{Duration, Local};
use miic::log::mask_name;
use miic::report::validate::{
    parse_datetime, validate_value, Problem, Report, Severity, MAX_INPUT_BYTES,
};
use miic::report::{aliases, schema};
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

/// Checker findings beyond the validator's, with their rule names.
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
];

/// One query and what came back.
struct Query {
    name: String,
    body: Value,
    http_status: Option<u16>,
    /// Failure to get a report at all (network, not JSON…).
    failure: Option<String>,
    report: Report,
    records: Vec<Value>,
    /// The checker's own problems (window, matching, dcmPath).
    extra: Vec<Problem>,
}

impl Query {
    fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.report.problems.iter().chain(self.extra.iter())
    }

    fn errors(&self) -> usize {
        self.problems()
            .filter(|p| p.severity == Severity::Error)
            .count()
            + usize::from(self.failure.is_some())
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
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&as_json(&queries, conformant)).unwrap_or_default()
        );
    } else {
        print_tables(&queries, conformant, args.worst);
    }
    if queries
        .iter()
        .any(|q| q.failure.is_some() && q.http_status.is_none())
    {
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
    let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))?;
    let report = miic::report::validate_json(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(vec![Query {
        name: format!("file {}", path.display()),
        body: Value::Null,
        http_status: None,
        failure: None,
        records: records_of(&value),
        report,
        extra: Vec::new(),
    }])
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
    let mut found = map.get(field);
    if found.is_none() {
        found = aliases::ALIASES
            .iter()
            .filter(|(_, f, _)| *f == field)
            .find_map(|(a, _, _)| map.get(*a));
    }
    match found? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn check_url(url: &str, args: &ReportCheckArgs) -> Result<Vec<Query>, String> {
    let format = "%Y-%m-%d %H:%M:%S";
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_millis(args.timeout_ms)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let (start_s, end_s) = (
        start.format(format).to_string(),
        end.format(format).to_string(),
    );
    let mut queries = Vec::new();
    // Request 1: the window, for each type. Type 2 follows the PS line (report time); 4.1.2.1
    // calls it refund time, which no column holds. Type 4 (update time) has no column either.
    for (kind, field) in [
        (1, Some("examDate")),
        (2, Some("rptDate")),
        (3, Some("chkDate")),
        (4, None),
    ] {
        let body = json!({"startTime": start_s, "endTime": end_s, "type": kind});
        let mut q = query(&agent, url, format!("window type={kind}"), body);
        if let Some(field) = field {
            for (i, record) in q.records.iter().enumerate() {
                let Some(t) = field_of(record, field).and_then(|t| parse_datetime(&t).ok()) else {
                    continue;
                };
                if t < start || t > end {
                    q.extra.push(problem(i, field, "outside_window", format!("'{field}' {t} is outside the requested window {start_s} .. {end_s} (type={kind})")));
                }
            }
        }
        queries.push(q);
    }
    let seen = |queries: &[Query], field: &str| {
        queries
            .iter()
            .flat_map(|q| q.records.iter())
            .find_map(|r| field_of(r, field))
    };
    // Request 2: one accession number, no window.
    let accession = args
        .access_number
        .clone()
        .or_else(|| seen(&queries, "accessionNo"));
    if let Some(acc) = accession {
        let mut q = query(
            &agent,
            url,
            format!("accessNumber={acc}"),
            json!({"accessNumber": acc, "type": 1}),
        );
        for (i, record) in q.records.iter().enumerate() {
            let got = field_of(record, "accessionNo").unwrap_or_default();
            if got != acc {
                q.extra.push(problem(
                    i,
                    "accessionNo",
                    "wrong_record",
                    format!("asked for accessNumber {acc}, got a record of '{got}'"),
                ));
            }
        }
        if q.records.is_empty() && q.failure.is_none() {
            q.extra.push(Problem {
                record: None,
                field: "accessNumber".into(),
                rule: "not_found",
                severity: Severity::Error,
                message: format!("accessNumber {acc} returned no record"),
            });
        }
        queries.push(q);
    }
    // Request 3: patient name and window.
    let name = args
        .patient_name
        .clone()
        .or_else(|| seen(&queries, "psnName"));
    if let Some(name) = name {
        let body = json!({"patientName": name, "startTime": start_s, "endTime": end_s, "type": 1});
        let mut q = query(
            &agent,
            url,
            format!("patientName={} window", mask_name(&name)),
            body,
        );
        for (i, record) in q.records.iter().enumerate() {
            if field_of(record, "psnName").as_deref() != Some(name.as_str()) {
                q.extra.push(problem(
                    i,
                    "psnName",
                    "wrong_record",
                    format!(
                        "asked for patient {}, got another patient's record",
                        mask_name(&name)
                    ),
                ));
            }
        }
        queries.push(q);
    }
    if args.probe_dcm {
        let base = args.dcm_base.clone().unwrap_or_else(|| origin(url));
        probe_dcm(&agent, &base, args.max_probes, &mut queries);
    }
    Ok(queries)
}

fn problem(record: usize, field: &str, rule: &'static str, message: String) -> Problem {
    Problem {
        record: Some(record),
        field: field.into(),
        rule,
        severity: Severity::Error,
        message,
    }
}

fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => url[..after_scheme + i].to_owned(),
        None => url.to_owned(),
    }
}

fn query(agent: &ureq::Agent, url: &str, name: String, body: Value) -> Query {
    let mut q = Query {
        name,
        body,
        http_status: None,
        failure: None,
        report: Report::default(),
        records: Vec::new(),
        extra: Vec::new(),
    };
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
    let text = match response
        .into_body()
        .with_config()
        .limit(MAX_INPUT_BYTES as u64)
        .read_to_string()
    {
        Ok(t) => t,
        Err(e) => {
            q.failure = Some(format!("reply body: {e}"));
            return q;
        }
    };
    if q.http_status != Some(200) {
        q.failure = Some(format!("HTTP {}", q.http_status.unwrap_or_default()));
        return q;
    }
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => {
            // The validator's message says where and why (fullwidth punctuation, depth…).
            let why = miic::report::validate_json(&text)
                .err()
                .map(|e| e.message)
                .unwrap_or_default();
            q.failure = Some(why);
            return q;
        }
    };
    if !value.as_object().is_some_and(|m| m.contains_key("data")) {
        q.extra.push(Problem {
            record: None,
            field: "data".into(),
            rule: "envelope",
            severity: Severity::Error,
            message: "reply is not a {data, code, message} envelope".into(),
        });
    }
    match validate_value(&value) {
        Ok(report) => q.report = report,
        Err(e) => q.failure = Some(e.message),
    }
    q.records = records_of(&value);
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
                    found.push(problem(
                        i,
                        "dcmPath",
                        "dcm_unreachable",
                        format!("dcmPath entry {url}: {why}"),
                    ));
                }
            }
        }
        q.extra.extend(found);
    }
}

fn rule_counts(queries: &[Query]) -> BTreeMap<&'static str, (usize, usize)> {
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for p in queries.iter().flat_map(|q| q.problems()) {
        let c = counts.entry(p.rule).or_default();
        if p.severity == Severity::Error {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    counts
}

fn describe(rule: &str) -> &'static str {
    miic::report::validate::RULES
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
        for p in q.problems().filter(|p| p.severity == Severity::Error) {
            if let Some(i) = p.record {
                let e = per.entry(i).or_insert((0, p.message.clone()));
                e.0 += 1;
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
            let mut report = q.report.to_json();
            let extra: Vec<Value> = q
                .extra
                .iter()
                .map(|p| json!({"record": p.record, "field": p.field, "rule": p.rule, "severity": p.severity.as_str(), "message": p.message}))
                .collect();
            report["checker_problems"] = Value::Array(extra);
            json!({
                "query": q.name,
                "body": if q.name.starts_with("patientName") { json!("(patient name masked)") } else { q.body.clone() },
                "http_status": q.http_status,
                "failure": q.failure,
                "records": q.records.len(),
                "errors": q.errors(),
                "report": report,
            })
        })
        .collect();
    let worst: Vec<Value> = worst(queries, 20)
        .into_iter()
        .map(|(q, i, acc, n, first)| json!({"query": q, "record": i, "accessionNo": acc, "errors": n, "first": first}))
        .collect();
    json!({"conformant": conformant, "queries": qs, "rules": rules, "worst_records": worst, "fields_modelled": miic::report::tables::FIELDS.len()})
}

fn print_tables(queries: &[Query], conformant: bool, n_worst: usize) {
    println!(
        "{:<34} {:>5} {:>7} {:>7} {:>8}  note",
        "query", "http", "records", "errors", "warnings"
    );
    for q in queries {
        let warnings = q
            .problems()
            .filter(|p| p.severity == Severity::Warning)
            .count();
        let http = q
            .http_status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let note = q.failure.clone().unwrap_or_default();
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
    let aliases: BTreeMap<(String, &str), usize> = queries
        .iter()
        .flat_map(|q| q.report.aliases.iter())
        .fold(BTreeMap::new(), |mut m, a| {
            *m.entry((a.alias.clone(), a.field)).or_insert(0) += a.records;
            m
        });
    if !aliases.is_empty() {
        println!();
        println!("aliases (sample-reply or misspelt names mapped to the 4.1 table):");
        for ((alias, field), records) in &aliases {
            let meaning = schema::field(field).map(|f| f.meaning).unwrap_or("");
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
    if conformant {
        println!("CONFORMANT: {records} records, no errors");
    } else {
        println!("NOT CONFORMANT: {errors} errors in {records} records");
    }
}
