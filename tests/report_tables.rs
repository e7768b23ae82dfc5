//! The generated tables against the spec text: current, and complete (checked by a scan of the
//! spec written independently of the generator).

use miic::report::tables::*;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spec() -> String {
    let path = std::env::var("MIIC_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("docs/spec/imaging-cloud-interface.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("spec text {}: {e}", path.display()))
}

fn section<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("{from} not in spec"));
    let end = start
        + text[start..]
            .find(to)
            .unwrap_or_else(|| panic!("{to} not after {from}"));
    &text[start..end]
}

#[test]
fn report_tables_are_current() {
    let python = std::env::var("MIIC_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(root().join("scripts/gen_report_tables.py"))
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "src/report/tables.rs is stale or the generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_field_of_the_4_1_table_is_modelled_with_its_type_and_flag() {
    let text = spec();
    for table in [
        section(
            &text,
            "检查文字视图（View_Pacs_Text_Info）",
            "4.1.2、对接方式二",
        ),
        section(&text, "4.1.2.3 接口内容", "4.1.2.4"),
    ] {
        let cells: Vec<&str> = table.lines().filter_map(|l| l.strip_prefix('\t')).collect();
        let mut seen = 0;
        for (i, cell) in cells.iter().enumerate() {
            let name = cell.trim();
            let is_name = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric())
                && name.as_bytes()[0].is_ascii_lowercase()
                && cells
                    .get(i + 3)
                    .is_some_and(|c| matches!(c.trim(), "是" | "否"));
            if !is_name {
                continue;
            }
            let field = FIELDS
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{name} not modelled"));
            assert_eq!(field.meaning, cells[i + 1].trim(), "{name} meaning");
            assert_eq!(field.spec_type, cells[i + 2].trim(), "{name} type");
            assert_eq!(
                field.required,
                cells[i + 3].trim() == "是",
                "{name} required flag"
            );
            seen += 1;
        }
        assert_eq!(seen, FIELDS.len());
    }
    assert_eq!(FIELDS.len(), 107);
    assert_eq!(FIELDS.iter().filter(|f| f.required).count(), 39);
}

#[test]
fn every_exam_code_of_5_1_is_modelled_in_order() {
    let text = spec();
    let table = section(&text, "5.1检查部位", "注：以上编码");
    let printed: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix('\t'))
        .map(str::trim)
        .filter(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
        .collect();
    let modelled: Vec<&str> = EXAM_CODES.iter().map(|e| e.code).collect();
    assert_eq!(printed, modelled);
    assert_eq!(modelled.len(), 481);
    for entry in EXAM_CODES {
        let line = text.lines().nth(entry.line as usize - 1).unwrap();
        assert_eq!(line.trim(), entry.code, "line number of {}", entry.code);
        let name_line = text.lines().nth(entry.line as usize).unwrap();
        assert_eq!(name_line.trim(), entry.name);
    }
}

#[test]
fn every_section_5_dictionary_is_modelled() {
    let text = spec();
    let dicts = [
        ("患者类型（patientType）", &PATIENT_TYPE),
        ("性别（sex）", &SEX),
        ("检查检验结果代码（examRsltCode）", &EXAM_RSLT_CODE),
        ("影像检查类型（imgExamType）", &IMG_EXAM_TYPE),
        ("职业（prfs）", &PRFS),
        ("费用类型（chargeType）", &CHARGE_TYPE),
        ("人员类型（doctorType）", &DOCTOR_TYPE),
    ];
    for (title, dict) in dicts {
        let start = text.find(title).unwrap();
        let rest = &text[start + title.len()..];
        let body = &rest[..rest.find("[bookmark").unwrap_or(rest.len())];
        let cells: Vec<&str> = body
            .lines()
            .filter_map(|l| l.strip_prefix('\t'))
            .map(str::trim)
            .collect();
        let mut pairs = Vec::new();
        for pair in cells.chunks(2) {
            if let [code, name] = pair {
                if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
                    pairs.push((*code, *name));
                }
            }
        }
        pairs.sort();
        let mut modelled: Vec<(&str, &str)> = dict.entries.to_vec();
        modelled.sort();
        assert_eq!(pairs, modelled, "{title}");
    }
    let codes: Vec<&str> = EXAM_WAY.entries.iter().map(|e| e.0).collect();
    assert_eq!(codes, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
}

#[test]
fn spec_samples_are_carried_verbatim() {
    let text = spec();
    for sample in [
        SAMPLE_REQUEST_1,
        SAMPLE_REQUEST_2,
        SAMPLE_REQUEST_3,
        SAMPLE_REPLY,
    ] {
        assert!(text.contains(sample));
    }
    assert!(SAMPLE_REPLY_KEYS.contains(&"uname") && SAMPLE_REPLY_KEYS.contains(&"dcmPath"));
    assert_eq!(SAMPLE_REPLY_KEYS.len(), 63);
}

#[test]
fn ddl_templates_list_every_column_for_each_dialect() {
    let sql = std::fs::read_to_string(root().join("docs/View_Pacs_Text_Info.sql")).unwrap();
    let sections: Vec<&str> = sql.split("-- ==== ").skip(1).collect();
    let names: Vec<&str> = sections.iter().map(|s| s.lines().next().unwrap()).collect();
    assert_eq!(names, ["SQL Server ====", "Oracle ====", "MySQL ===="]);
    for (section, (open, close)) in sections.iter().zip([("[", "]"), ("\"", "\""), ("`", "`")]) {
        let columns: Vec<&str> = section
            .lines()
            .filter_map(|l| l.split(" AS ").nth(2))
            .filter_map(|rest| rest.strip_prefix(open)?.split(close).next())
            .collect();
        let expected: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(columns, expected);
        for f in FIELDS {
            let line = section
                .lines()
                .find(|l| l.contains(&format!("{open}{}{close}", f.name)))
                .unwrap();
            assert_eq!(line.contains("（必选）"), f.required, "{line}");
        }
    }
}

#[test]
fn every_validator_rule_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/report.md")).unwrap();
    for (rule, checks) in miic::report::RULES {
        let row = format!("| {rule} | {} |", checks.replace('|', "\\|"));
        assert!(doc.contains(&row), "docs/report.md lacks the row {row}");
    }
}
