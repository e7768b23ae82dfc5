//! The diagnosis report: one entry per check (id, result, what was measured, and on failure one
//! sentence in Chinese and English saying how to fix it), and its JSON form.
//!
//! Uses: log (masking).

use serde_json::{json, Map, Value};
use std::time::Duration;

/// Version of the report's JSON layout; a field is only ever added.
pub const FORMAT: u32 = 1;

/// A check's result, mildest first (a report's result is its worst check's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Skipped,
    Warning,
    Failed,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Skipped => "skipped",
            Outcome::Warning => "warning",
            Outcome::Failed => "failed",
        }
    }
}

/// A sentence in both languages of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

pub fn text(zh: impl Into<String>, en: impl Into<String>) -> Text {
    Text {
        zh: zh.into(),
        en: en.into(),
    }
}

impl Text {
    fn to_json(&self) -> Value {
        json!({"zh": self.zh, "en": self.en})
    }
}

/// The checks in report order, with their titles.
pub const CHECKS: &[(&str, &str, &str)] = &[
    ("library", "程序库", "library"),
    ("config", "配置", "configuration"),
    ("front_end", "前置机", "front-end machine"),
    ("clock", "时钟", "clock"),
    ("sm2", "SM2 公钥", "SM2 public key"),
    ("outbox", "删除通知队列", "outbox"),
    ("log", "日志目录", "log folder"),
    ("dicom_echo", "PACS（C-ECHO）", "PACS (C-ECHO)"),
    ("dicom_move_port", "C-MOVE 接收端口", "C-MOVE port"),
    ("dicom_http", "影像 HTTP 服务器", "image HTTP server"),
];

/// One check's finding.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: &'static str,
    pub outcome: Outcome,
    /// What was measured, in one line.
    pub summary: Text,
    pub measured: Map<String, Value>,
    /// How to fix it: set for failures and warnings.
    pub fix: Option<Text>,
    pub elapsed: Duration,
}

impl Check {
    pub fn new(id: &'static str) -> Check {
        debug_assert!(
            CHECKS.iter().any(|(c, _, _)| *c == id),
            "unknown check {id}"
        );
        Check {
            id,
            outcome: Outcome::Ok,
            summary: text("", ""),
            measured: Map::new(),
            fix: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Record a measured value.
    pub fn measure(&mut self, key: &str, value: impl Into<Value>) -> &mut Check {
        self.measured.insert(key.to_owned(), value.into());
        self
    }

    pub fn ok(mut self, summary: Text) -> Check {
        self.outcome = Outcome::Ok;
        self.summary = summary;
        self
    }

    pub fn skipped(mut self, summary: Text) -> Check {
        self.outcome = Outcome::Skipped;
        self.summary = summary;
        self
    }

    pub fn warning(mut self, summary: Text, fix: Text) -> Check {
        self.outcome = Outcome::Warning;
        self.summary = summary;
        self.fix = Some(fix);
        self
    }

    pub fn failed(mut self, summary: Text, fix: Text) -> Check {
        self.outcome = Outcome::Failed;
        self.summary = summary;
        self.fix = Some(fix);
        self
    }

    fn to_json(&self) -> Value {
        let (_, zh, en) = CHECKS
            .iter()
            .find(|(id, _, _)| *id == self.id)
            .copied()
            .unwrap_or((self.id, self.id, self.id));
        json!({
            "id": self.id,
            "title": {"zh": zh, "en": en},
            "result": self.outcome.name(),
            "summary": self.summary.to_json(),
            "measured": self.measured,
            "fix": self.fix.as_ref().map(Text::to_json),
            "elapsed_ms": ms(self.elapsed),
        })
    }
}

/// A whole diagnosis.
#[derive(Debug, Clone)]
pub struct Report {
    /// The config as named to the diagnosis: its file, or "inline JSON".
    pub config: String,
    pub timeout: Duration,
    /// Local time the diagnosis started, `yyyy-MM-dd HH:mm:ss±hh:mm`.
    pub started_at: String,
    pub elapsed: Duration,
    pub checks: Vec<Check>,
}

impl Report {
    /// The worst result of any check; a check that did not apply leaves the result ok.
    pub fn outcome(&self) -> Outcome {
        self.checks
            .iter()
            .map(|c| match c.outcome {
                Outcome::Skipped => Outcome::Ok,
                other => other,
            })
            .max()
            .unwrap_or(Outcome::Ok)
    }

    /// The report as JSON. Every text in it passes through the log mask, so an ID-card or
    /// phone number that reached a message (a pasted config value, say) is never shown.
    pub fn to_json(&self) -> Value {
        let mut counts = Map::new();
        for outcome in [
            Outcome::Ok,
            Outcome::Warning,
            Outcome::Failed,
            Outcome::Skipped,
        ] {
            let n = self.checks.iter().filter(|c| c.outcome == outcome).count();
            counts.insert(outcome.name().to_owned(), n.into());
        }
        let mut report = json!({
            "format": FORMAT,
            "result": self.outcome().name(),
            "counts": counts,
            "config": self.config,
            "timeout_ms": ms(self.timeout),
            "started_at": self.started_at,
            "elapsed_ms": ms(self.elapsed),
            "checks": self.checks.iter().map(Check::to_json).collect::<Vec<_>>(),
        });
        mask(&mut report);
        report
    }
}

pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn mask(value: &mut Value) {
    match value {
        Value::String(s) => *s = crate::log::mask_line(s),
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::Object(members) => members.values_mut().for_each(mask),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_result_wins_and_texts_are_masked() {
        let mut measured = Check::new("config");
        measured.measure("note", "id 11010119900307777X");
        let report = Report {
            config: "inline JSON".into(),
            timeout: Duration::from_millis(3000),
            started_at: "2026-01-01 08:00:00+08:00".into(),
            elapsed: Duration::from_millis(12),
            checks: vec![
                Check::new("library").ok(text("好", "fine")),
                measured.failed(text("坏", "bad"), text("修", "fix it")),
                Check::new("log").skipped(text("无", "none")),
            ],
        };
        assert_eq!(report.outcome(), Outcome::Failed);
        let only_skipped = Report {
            checks: vec![
                Check::new("library").ok(text("好", "fine")),
                Check::new("log").skipped(text("无", "none")),
            ],
            ..report.clone()
        };
        assert_eq!(only_skipped.outcome(), Outcome::Ok);
        let json = report.to_json();
        assert_eq!(json["result"], "failed");
        assert_eq!(json["counts"]["failed"], 1);
        assert_eq!(json["counts"]["skipped"], 1);
        assert_eq!(json["checks"][1]["fix"]["en"], "fix it");
        assert_eq!(json["checks"][1]["title"]["zh"], "配置");
        assert_eq!(json["checks"][0]["fix"], Value::Null);
        assert_eq!(
            json["checks"][1]["measured"]["note"],
            "id 110*************7X"
        );
    }
}
