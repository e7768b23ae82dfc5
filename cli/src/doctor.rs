//! `miic-cli doctor`: the library's diagnosis of this workstation's set-up (`miic_diagnose`,
//! through the C ABI like any host), printed for hospital IT in the system's language (Chinese
//! or English; `--lang` chooses), or as the library's JSON with `--json`.
//!
//! Exit status: 0 when no check failed (warnings allowed), 1 when one did, 2 when no report
//! could be made.

use miic_cli::abi;
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// The client config (path to .toml/.json, or inline JSON), as for the DLL.
    #[arg(long, short, default_value = "miic.toml")]
    pub config: String,
    /// Print the report as the library's JSON (both languages) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Language of the text: zh or en (default: the system locale's, English unless Chinese).
    #[arg(long, value_parser = ["zh", "en"])]
    pub lang: Option<String>,
}

pub fn run(args: &DoctorArgs) -> ExitCode {
    let json = match abi::diagnose(&args.config) {
        Ok(json) => json,
        Err(f) => {
            eprintln!("miic-cli doctor: {f}");
            return ExitCode::from(2);
        }
    };
    let report: Value = match serde_json::from_str(&json) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("miic-cli doctor: the library's report is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!("{json}");
    } else {
        let lang = args.lang.clone().unwrap_or_else(system_language);
        print!("{}", render(&report, &lang));
    }
    if report["result"] == "failed" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `zh` when the system's locale is Chinese, else `en`.
fn system_language() -> String {
    let locale = sys_locale::get_locale().unwrap_or_default();
    if locale.to_ascii_lowercase().starts_with("zh") {
        "zh".into()
    } else {
        "en".into()
    }
}

/// The report as lines for a terminal, in `lang`.
pub fn render(report: &Value, lang: &str) -> String {
    let zh = lang == "zh";
    let pick = |v: &Value| v[lang].as_str().unwrap_or("").to_owned();
    let mut out = String::new();
    let (head, took, fix_label) = if zh {
        ("miic 诊断", "用时", "修复")
    } else {
        ("miic doctor", "took", "fix")
    };
    out.push_str(&format!(
        "{head}: {}  ({took} {} ms, timeout_ms {})\n",
        report["config"].as_str().unwrap_or(""),
        report["elapsed_ms"],
        report["timeout_ms"]
    ));
    for check in report["checks"].as_array().into_iter().flatten() {
        let result = check["result"].as_str().unwrap_or("");
        let label = match (result, zh) {
            ("ok", true) => "正常",
            ("warning", true) => "警告",
            ("failed", true) => "失败",
            ("skipped", true) => "跳过",
            ("ok", false) => "ok",
            ("warning", false) => "WARN",
            ("failed", false) => "FAIL",
            _ => "skip",
        };
        out.push_str(&format!(
            "[{label:^4}] {:<16} {}: {}\n",
            check["id"].as_str().unwrap_or(""),
            pick(&check["title"]),
            pick(&check["summary"])
        ));
        if !check["fix"].is_null() {
            out.push_str(&format!("       {fix_label}: {}\n", pick(&check["fix"])));
        }
    }
    let count = |k: &str| report["counts"][k].as_u64().unwrap_or(0);
    if zh {
        out.push_str(&format!(
            "结果：{} 项失败，{} 项警告，{} 项正常，{} 项跳过\n",
            count("failed"),
            count("warning"),
            count("ok"),
            count("skipped")
        ));
    } else {
        out.push_str(&format!(
            "result: {} failed, {} warning, {} ok, {} skipped\n",
            count("failed"),
            count("warning"),
            count("ok"),
            count("skipped")
        ));
    }
    out
}
