//! The `config` check: the config read past its first problem. Every key given is listed, every
//! problem named with its file and key, and a config is built from the usable keys (problem keys
//! left at their defaults) so that the other checks still run on what is right.
//!
//! `sm2.public_key` is set aside unread: its value is the `sm2` check's to judge.
//!
//! Uses: config, error, diagnose::report.

use super::report::{text, Check, Text};
use crate::config::{Config, Source};
use crate::error::Error;
use serde_json::{Map, Value};

/// Stand-ins for required keys that are missing or unusable, so the config can be built; the
/// checks that use them say the key is unusable instead of probing the stand-in.
const STAND_INS: &[(&str, &str)] = &[
    ("base_url", "http://unusable.invalid"),
    ("hospital_id", "unusable"),
];

/// `sm2.public_key` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyText {
    Absent,
    Text(String),
    /// A number, table or list where text belongs.
    NotText,
}

/// What the config check hands the other checks.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Built from the usable keys; `None` when the text could not be read at all.
    pub config: Option<Config>,
    /// Required keys replaced by a stand-in.
    pub unusable: Vec<&'static str>,
    pub public_key: KeyText,
    /// The file, or "inline JSON".
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Missing,
    Invalid,
}

struct Problem {
    key: String,
    kind: Kind,
    why: String,
}

pub fn check(source: Result<&str, Error>) -> (Check, Setup) {
    let mut setup = Setup {
        config: None,
        unusable: Vec::new(),
        public_key: KeyText::Absent,
        label: "inline JSON".into(),
    };
    let check = Check::new("config");
    let source = match source.and_then(Source::read) {
        Ok(source) => source,
        Err(e) => return (unreadable(check, &e, None), setup),
    };
    if let Some(path) = &source.path {
        setup.label = path.display().to_string();
    }
    let mut tree = match source.tree() {
        Ok(Value::Object(tree)) => tree,
        Ok(_) => {
            let e = Error::config("config: not a JSON object");
            return (unreadable(check, &e, Some(&setup.label)), setup);
        }
        Err(e) => return (unreadable(check, &e, Some(&setup.label)), setup),
    };
    let keys = keys_of(&tree);
    setup.public_key = take_public_key(&mut tree);
    let mut problems: Vec<Problem> = Vec::new();
    // Each round sets one problem key aside; there are never more rounds than keys.
    for _ in 0..=keys.len() + STAND_INS.len() {
        let e = match Config::from_tree(Value::Object(tree.clone())) {
            Ok(config) => {
                setup.config = Some(config);
                break;
            }
            Err(e) => e,
        };
        let Some(key) = e.key else {
            return (unreadable(check, &e.error, Some(&setup.label)), setup);
        };
        let why = e
            .error
            .message
            .strip_prefix(&format!("config key '{key}'"))
            .map(|rest| rest.trim_start_matches([':', ' ']).to_owned())
            .unwrap_or(e.error.message.clone());
        let kind = if why.starts_with("unknown field") {
            Kind::Unknown
        } else if why.starts_with("is required") {
            Kind::Missing
        } else {
            Kind::Invalid
        };
        if !problems.iter().any(|p| p.key == key) {
            problems.push(Problem {
                key: key.clone(),
                kind,
                why: why.clone(),
            });
        }
        if !set_aside(&mut tree, &key, &mut setup.unusable) {
            break;
        }
    }
    let mut check = check;
    check
        .measure("source", setup.label.clone())
        .measure("format", if source.is_json { "json" } else { "toml" })
        .measure("keys", keys.clone());
    if setup.config.is_none() && problems.is_empty() {
        let e = Error::internal("config: the usable keys could not be told apart");
        return (unreadable(check, &e, Some(&setup.label)), setup);
    }
    let listed: Vec<Value> = problems
        .iter()
        .map(|p| {
            let mut o = Map::new();
            o.insert("key".into(), p.key.clone().into());
            o.insert("problem".into(), describe(p).en.into());
            Value::Object(o)
        })
        .collect();
    check.measure("problems", listed);
    let file = &setup.label;
    if problems.is_empty() {
        return (
            check.ok(text(
                format!("{file}：{} 个键，全部有效", keys.len()),
                format!("{file}: {} keys, all known and valid", keys.len()),
            )),
            setup,
        );
    }
    let zh: Vec<String> = problems.iter().map(|p| describe(p).zh).collect();
    let en: Vec<String> = problems.iter().map(|p| describe(p).en).collect();
    let fix_zh: Vec<String> = problems.iter().map(|p| fix_of(p).zh).collect();
    let fix_en: Vec<String> = problems.iter().map(|p| fix_of(p).en).collect();
    (
        check.failed(
            text(
                format!("{file}：{} 个问题：{}", problems.len(), zh.join("；")),
                format!("{file}: {} problem(s): {}", problems.len(), en.join("; ")),
            ),
            text(
                format!("在 {file} 中{}。", fix_zh.join("；")),
                format!("In {file}, {}.", fix_en.join("; ")),
            ),
        ),
        setup,
    )
}

fn unreadable(check: Check, e: &Error, file: Option<&str>) -> Check {
    let mut check = check;
    if let Some(file) = file {
        check.measure("source", file);
    }
    check.measure("problems", vec![Value::from(e.message.clone())]);
    let fix = match file {
        // The file was found: its text is wrong.
        Some(file) => text(
            format!(
                "改正 {file} 中指出位置的语法（TOML：键 = \"值\"，[节] 单独一行；JSON：双引号，末尾无逗号），可对照 examples/miic.toml。"
            ),
            format!(
                "Correct the syntax of {file} where the message points (TOML: key = \"value\", [section] on its own line; JSON: double quotes, no trailing comma); examples/miic.toml shows every key."
            ),
        ),
        None => text(
            "给出本用户可读的 .toml 或 .json 配置文件的路径（或以 { 开头的 JSON 文本），文件须为 UTF-8 编码。",
            "Give the path of a .toml or .json config file this user can read (or inline JSON starting with {), saved as UTF-8.",
        ),
    };
    check.failed(
        text(
            format!("无法读取配置：{}", e.message),
            format!("the config cannot be read: {}", e.message),
        ),
        fix,
    )
}

fn describe(p: &Problem) -> Text {
    let key = &p.key;
    match p.kind {
        Kind::Unknown => text(
            format!("'{key}' 是未知的键"),
            format!("'{key}' is not a known key"),
        ),
        Kind::Missing => text(
            format!("缺少必填的键 '{key}'"),
            format!("the required key '{key}' is missing"),
        ),
        Kind::Invalid => text(
            format!("'{key}' 的值无效（{}）", p.why),
            format!("'{key}' is invalid ({})", p.why),
        ),
    }
}

fn fix_of(p: &Problem) -> Text {
    let key = &p.key;
    match p.kind {
        Kind::Unknown => text(
            format!("删除或改正拼写错误的键 '{key}'（全部可用的键见 examples/miic.toml）"),
            format!(
                "remove or correct the misspelt key '{key}' (examples/miic.toml lists every key)"
            ),
        ),
        Kind::Missing => text(format!("添加 '{key}'"), format!("add '{key}'")),
        Kind::Invalid => text(
            format!("按提示改正 '{key}' 的值"),
            format!("correct the value of '{key}' as the message says"),
        ),
    }
}

/// Every key given, dotted (`sm2.mode`); a section given as something else is listed by name.
fn keys_of(tree: &Map<String, Value>) -> Vec<String> {
    let mut keys = Vec::new();
    for (name, value) in tree {
        match value {
            Value::Object(section) if !section.is_empty() => {
                keys.extend(section.keys().map(|k| format!("{name}.{k}")));
            }
            _ => keys.push(name.clone()),
        }
    }
    keys
}

fn take_public_key(tree: &mut Map<String, Value>) -> KeyText {
    let Some(Value::Object(sm2)) = tree.get_mut("sm2") else {
        return KeyText::Absent;
    };
    match sm2.remove("public_key") {
        None | Some(Value::Null) => KeyText::Absent,
        Some(Value::String(s)) if s.trim().is_empty() => KeyText::Absent,
        Some(Value::String(s)) => KeyText::Text(s),
        Some(_) => KeyText::NotText,
    }
}

/// Take `key` out of the tree so the next round reads on: a given key is removed; a missing
/// required key gets its stand-in; a key required by its section's other keys (`plugin.exe`
/// for `login_via = "exe"`) takes its section with it. False when nothing could change.
fn set_aside(tree: &mut Map<String, Value>, key: &str, unusable: &mut Vec<&'static str>) -> bool {
    let (section, name) = match key.split_once('.') {
        Some((section, name)) => (Some(section), name),
        None => (None, key),
    };
    match section {
        None => {
            if tree.remove(name).is_some() {
                return true;
            }
            match STAND_INS.iter().find(|(k, _)| *k == name) {
                Some((k, stand_in)) if !unusable.contains(k) => {
                    tree.insert(name.to_owned(), Value::from(*stand_in));
                    unusable.push(k);
                    true
                }
                _ => false,
            }
        }
        Some(section) => {
            if let Some(Value::Object(members)) = tree.get_mut(section) {
                if members.remove(name).is_some() {
                    return true;
                }
            }
            tree.remove(section).is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::report::Outcome;

    fn run(text: &str) -> (Check, Setup) {
        check(Ok(text))
    }

    #[test]
    fn every_problem_is_named_and_the_rest_still_builds_a_config() {
        let (c, setup) = run(
            r#"{"base_url":"http://10.0.0.5:8080","hospital_id":"H1","retries":3,
                "timeout_ms":0,"sm2":{"mdoe":"c1c2c3","public_key":"nonsense"},
                "dicom":{"port":70000,"host":"pacs"},"plugin":{"login_via":"exe"}}"#,
        );
        assert_eq!(c.outcome, Outcome::Failed);
        let problems = c.measured["problems"].as_array().unwrap();
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        for key in [
            "retries",
            "timeout_ms",
            "sm2.mdoe",
            "dicom.port",
            "plugin.exe",
        ] {
            assert!(keys.contains(&key), "{key} not in {keys:?}");
        }
        // The SM2 key is the sm2 check's business, not the config check's.
        assert!(!keys.contains(&"sm2.public_key"), "{keys:?}");
        assert_eq!(setup.public_key, KeyText::Text("nonsense".into()));
        let config = setup.config.unwrap();
        assert_eq!(config.base_url, "http://10.0.0.5:8080");
        assert_eq!(config.dicom.host.as_deref(), Some("pacs"));
        assert_eq!(config.timeout.as_millis(), 3000);
        assert!(setup.unusable.is_empty());
        let fix = c.fix.unwrap();
        assert!(
            fix.en.contains("inline JSON") && fix.en.contains("'retries'"),
            "{}",
            fix.en
        );
        assert!(fix.zh.contains("'retries'"), "{}", fix.zh);
    }

    #[test]
    fn a_bad_base_url_is_unusable_and_named_once() {
        let (c, setup) = run(r#"{"base_url":"ftp://x","timeout_ms":500}"#);
        let problems = c.measured["problems"].as_array().unwrap();
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["base_url", "hospital_id"]);
        assert_eq!(setup.unusable, ["base_url", "hospital_id"]);
        assert_eq!(setup.config.unwrap().timeout.as_millis(), 500);
    }

    #[test]
    fn a_good_config_is_ok_and_lists_its_keys() {
        let (c, setup) =
            run(r#"{"base_url":"http://a:1","hospital_id":"H","sm2":{"mode":"c1c2c3"}}"#);
        assert_eq!(c.outcome, Outcome::Ok, "{:?}", c.summary);
        assert_eq!(c.measured["keys"].as_array().unwrap().len(), 3);
        assert!(setup.config.is_some());
    }

    #[test]
    fn unreadable_text_and_missing_files_fail_without_a_config() {
        for source in ["{\"base_url\": ", "/nonexistent/miic.toml"] {
            let (c, setup) = run(source);
            assert_eq!(c.outcome, Outcome::Failed, "{source}");
            assert!(setup.config.is_none());
            assert!(c.fix.is_some());
        }
        let (c, _) = check(Err(Error::encoding("'config' is not valid GBK text")));
        assert_eq!(c.outcome, Outcome::Failed);
    }
}
