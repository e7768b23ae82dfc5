#!/usr/bin/env python3
"""Generate src/report/tables.rs from the interface spec (a DOCX converted to text).

The spec's tables come out one cell per line, each cell line starting with a tab, rows separated
by blank lines; a cell that wrapped continues on a line without the tab. This script reads:
  - 4.1.1.3 / 4.1.2.3: the report record table (both copies, which must agree),
  - 4.1.2.4: the three request samples and the reply sample, verbatim,
  - 5.1: the exam technique codes (WS/T 364.8-2023), as printed, defects included,
  - 5.2-5.7: the small dictionaries.

  python3 scripts/gen_report_tables.py            # rewrite src/report/tables.rs and
                                                  # docs/View_Pacs_Text_Info.sql
  python3 scripts/gen_report_tables.py --check    # exit 1 when the committed file is stale
Spec: $MIIC_SPEC, else docs/spec/imaging-cloud-interface.txt (a verbatim copy of the shared spec).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "report", "tables.rs")
DDL_OUT = os.path.join(ROOT, "docs", "View_Pacs_Text_Info.sql")
SPEC_CANDIDATES = [
    os.environ.get("MIIC_SPEC", ""),
    os.path.join(ROOT, "docs", "spec", "imaging-cloud-interface.txt"),
]


def fail(msg):
    sys.stderr.write("gen_report_tables: " + msg + "\n")
    sys.exit(2)


def spec_path():
    for p in SPEC_CANDIDATES:
        if p and os.path.isfile(p):
            return p
    fail("spec text not found (set MIIC_SPEC)")


def find(lines, pred, start=0, what="line"):
    for i in range(start, len(lines)):
        if pred(lines[i]):
            return i
    fail("cannot find " + what)


def table_rows(lines, start):
    """Rows of the table whose first cell line is at or after `start`, until a non-cell line
    follows a blank line. Returns [(first_line_number, [cells])]."""
    rows, row, row_line, prev_blank, prev_cell = [], [], None, False, False
    i = start
    while i < len(lines):
        line = lines[i]
        if line.startswith("\t"):
            if not row:
                row_line = i + 1
            row.append(line[1:])
            prev_cell, prev_blank = True, False
        elif line.strip() == "":
            if row:
                rows.append((row_line, row))
                row = []
            prev_cell, prev_blank = False, True
        elif prev_cell and row:
            row[-1] += "\n" + line  # a wrapped cell
        else:
            break
        i += 1
    if row:
        rows.append((row_line, row))
    return rows, i


def record_table(lines, header_at):
    rows, end = table_rows(lines, header_at)
    header = [c.strip() for c in rows[0][1]]
    if header != ["参数名", "说明", "类型", "必选", "备注"]:
        fail("unexpected 4.1 table header at line %d: %r" % (rows[0][0], header))
    fields = []
    for line_no, cells in rows[1:]:
        if len(cells) != 5:
            fail("4.1 table row at line %d has %d cells" % (line_no, len(cells)))
        raw_name, meaning, typ, req, remark = cells
        if req.strip() not in ("是", "否"):
            fail("4.1 table row at line %d: required flag %r" % (line_no, req))
        fields.append(
            dict(
                raw_name=raw_name,
                name=raw_name.strip(),
                meaning=meaning.strip(),
                spec_type=typ.strip(),
                required=req.strip() == "是",
                remark=remark.strip(),
                line=line_no,
            )
        )
    return fields, end


KIND = {"string": "Text", "text": "LongText", "datetime": "DateTime", "date": "Date", "bigdecimal": "Decimal"}


def domain_of(f):
    r = f["remark"]
    if "【患者类型patientType】" in r:
        return "Domain::Dict(&PATIENT_TYPE)"
    if "img_exam_type" in r:
        return "Domain::DictList(&IMG_EXAM_TYPE)"
    if "【职业prfs】" in r:
        return "Domain::Dict(&PRFS)"
    if "chargeType" in r:
        return "Domain::Dict(&CHARGE_TYPE)"
    if "WS/T 364.8-2023" in r:
        return "Domain::ExamCode"
    if re.fullmatch(r"0：否，1：是", r):
        return "Domain::Dict(&FLAG)"
    if f["name"] == "examWay":
        return "Domain::DictList(&EXAM_WAY)"
    if f["name"] == "examRsltCode":
        return "Domain::Dict(&EXAM_RSLT_CODE)"
    return "Domain::Free"


def inline_dict(remark, pattern):
    return [(m.group(1), m.group(2).strip()) for m in re.finditer(pattern, remark)]


def pairs_dictionary(lines, title_at, what):
    rows, _ = table_rows(lines, title_at + 1)
    cells = [c.strip() for _, row in rows for c in row]
    cells = [c for c in cells if c not in ("代码值", "代码名称", "代码", "名称")]
    out = []
    for k in range(0, len(cells) - 1, 2):
        code, name = cells[k], cells[k + 1]
        if code == "" and name == "":
            continue
        if code == "" or name == "":
            fail("%s: half-empty pair %r/%r" % (what, code, name))
        out.append((code, name))
    return out


def exam_codes(lines, start, end):
    cells = []
    for i in range(start, end):
        if lines[i].startswith("\t"):
            c = lines[i][1:].strip()
            if c not in ("代码", "名称"):
                cells.append((i + 1, c))
    cells = [c for c in cells if c[1] != ""]
    out, k = [], 0
    while k < len(cells):
        line_no, code = cells[k]
        if not re.fullmatch(r"[A-Z0-9]+", code) or k + 1 >= len(cells):
            fail("5.1: expected a code at line %d, got %r" % (line_no, code))
        name = cells[k + 1][1]
        if re.fullmatch(r"[A-Z0-9]+", name):
            fail("5.1: code %r at line %d has no name" % (code, line_no))
        out.append((code, name, line_no))
        k += 2
    return out


def rs(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def raw(s):
    hashes = "#"
    while ('"' + hashes) in s:
        hashes += "#"
    return "r" + hashes + '"' + s + '"' + hashes


SQL_TYPES = {
    # kind: (SQL Server, Oracle, MySQL)
    "Text": ("NVARCHAR(200)", "VARCHAR2(200 CHAR)", "VARCHAR(200)"),
    "LongText": ("NVARCHAR(MAX)", "CLOB", "TEXT"),
    "DateTime": ("DATETIME", "DATE", "DATETIME"),
    "Date": ("DATE", "DATE", "DATE"),
    "Decimal": ("DECIMAL(12,2)", "NUMBER(12,2)", "DECIMAL(12,2)"),
}


def ddl(fields):
    o = []
    w = o.append
    w("-- @generated by scripts/gen_report_tables.py from spec 4.1.1.3 (检查文字视图 View_Pacs_Text_Info).")
    w("-- A template per dialect: replace each NULL by your column or expression and add FROM/JOINs.")
    w("-- Every column of the spec is listed, in the spec's order, with the spec's exact (case-sensitive)")
    w("-- name. '必选' marks the columns the spec requires; the remark carries the spec's format or")
    w("-- dictionary. DATETIME columns must hold yyyy-MM-dd HH:mm:ss values (if your reader needs")
    w("-- text: SQL Server CONVERT(VARCHAR(19), x, 120), Oracle TO_CHAR(x, 'YYYY-MM-DD HH24:MI:SS'),")
    w("-- MySQL DATE_FORMAT(x, '%Y-%m-%d %H:%i:%s')). Check the result with:")
    w("--   miic-cli report-check --file rows.json   (rows exported as a JSON array)")
    dialects = [
        ("SQL Server", 0, "CREATE OR ALTER VIEW [View_Pacs_Text_Info] AS\nSELECT", "[%s]", "", "GO"),
        ("Oracle", 1, 'CREATE OR REPLACE VIEW "View_Pacs_Text_Info" AS\nSELECT', '"%s"', "\nFROM DUAL", ""),
        ("MySQL", 2, "CREATE OR REPLACE VIEW `View_Pacs_Text_Info` AS\nSELECT", "`%s`", "", ""),
    ]
    for title, col, head, quote, tail, end in dialects:
        w("")
        w("-- ==== %s ====" % title)
        w(head)
        for n, f in enumerate(fields):
            sql = SQL_TYPES[KIND[f["spec_type"].lower()]][col]
            comma = "," if n + 1 < len(fields) else ""
            note = f["meaning"] + ("（必选）" if f["required"] else "")
            if f["remark"]:
                note += " " + f["remark"].replace("\n", " ")
            w("    CAST(NULL AS %s) AS %s%s -- %s" % (sql, quote % f["name"], comma, note))
        w(tail.lstrip("\n") + ";" if tail else ";")
        if end:
            w(end)
    return "\n".join(o) + "\n"


def generate(path):
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    view_at = find(lines, lambda l: l.startswith("检查文字视图（View_Pacs_Text_Info）"), what="4.1.1.3 table")
    fields, end1 = record_table(lines, view_at + 1)
    http_at = find(lines, lambda l: l.startswith("4.1.2.3"), end1, "4.1.2.3")
    fields2, _ = record_table(lines, http_at + 1)
    strip = lambda fs: [{k: v for k, v in f.items() if k != "line"} for f in fs]
    if strip(fields) != strip(fields2):
        fail("the 4.1.1.3 and 4.1.2.3 tables differ; decide which is normative")
    names = [f["name"] for f in fields]
    if len(set(names)) != len(names):
        fail("duplicate field name in 4.1 table")
    for f in fields:
        if f["spec_type"].lower() not in KIND:
            fail("unknown type %r of %s" % (f["spec_type"], f["name"]))

    ex_way = next(f for f in fields if f["name"] == "examWay")["remark"]
    exam_way = inline_dict(ex_way, r"(\d)-([^；。]+)")
    rslt = next(f for f in fields if f["name"] == "examRsltCode")["remark"]
    exam_rslt_inline = inline_dict(rslt, r"(\d)-([^;)]+)")
    flag_remarks = {f["remark"] for f in fields if re.fullmatch(r"0：否，1：是", f["remark"])}
    if not flag_remarks or not exam_way or not exam_rslt_inline:
        fail("inline dictionaries not found")

    # 4.1.2.4 samples
    s1 = find(lines, lambda l: l.startswith("入参参考1"), http_at, "request sample 1")
    s2 = find(lines, lambda l: l.startswith("入参参考2"), s1, "request sample 2")
    s3 = find(lines, lambda l: l.startswith("入参参考3"), s2, "request sample 3")
    ps = find(lines, lambda l: l.startswith("PS:"), s3, "PS line")
    rep = find(lines, lambda l: l.startswith("出参参考"), ps, "reply sample")
    rep_end = find(lines, lambda l: "4.2 影像文件获取" in l, rep, "section 4.2")
    req = ["\n".join(lines[a + 1 : b]) for a, b in ((s1, s2), (s2, s3), (s3, ps))]
    reply = "\n".join(lines[rep + 1 : rep_end])
    reply_keys = []
    for l in lines[rep + 1 : rep_end]:
        m = re.match(r'\s*"([^"]+)"\s*[:：]', l)
        if m and m.group(1) not in reply_keys:
            reply_keys.append(m.group(1))

    # section 5
    c51 = find(lines, lambda l: "5.1检查部位" in l, rep_end, "5.1")
    c51_end = find(lines, lambda l: l.startswith("注：以上编码"), c51, "end of 5.1")
    codes = exam_codes(lines, c51 + 1, c51_end)
    dicts = {}
    for const, marker in [
        ("PATIENT_TYPE", "患者类型（patientType）"),
        ("SEX", "性别（sex）"),
        ("EXAM_RSLT_CODE", "检查检验结果代码（examRsltCode）"),
        ("IMG_EXAM_TYPE", "影像检查类型（imgExamType）"),
        ("PRFS", "职业（prfs）"),
        ("CHARGE_TYPE", "费用类型（chargeType）"),
        ("DOCTOR_TYPE", "人员类型（doctorType）"),
    ]:
        at = find(lines, lambda l, m=marker: l.startswith("[bookmark") and m in l, c51_end, marker)
        title = re.sub(r"^(\[bookmark: [^\]]*\])+", "", lines[at]).strip()
        entries = pairs_dictionary(lines, at, marker)
        entries.sort(key=lambda e: (len(e[0]), e[0]))
        dicts[const] = (title, at + 1, entries)
    if [c for c, _ in exam_rslt_inline] != [c for c, _ in dicts["EXAM_RSLT_CODE"][2]]:
        fail("examRsltCode remark and 5.3 disagree")

    o = []
    w = o.append
    w("// @generated by scripts/gen_report_tables.py from the interface spec text. Do not edit:")
    w("// change the script (or the spec) and run it again; `report_tables_are_current` checks.")
    w("//! The report record of spec 4.1 and the dictionaries of spec section 5, as printed.")
    w("//!")
    w("//! Uses: report::schema (the shapes of the rows).")
    w("")
    w("use super::schema::{Dict, Domain, ExamCode, FieldSpec, Kind};")
    w("")
    w("/// Every column of `View_Pacs_Text_Info` (4.1.1.3), identical to the JSON fields of 4.1.2.3.")
    w("pub const FIELDS: &[FieldSpec] = &[")
    for f in fields:
        w(
            "    FieldSpec { name: %s, spec_name: %s, meaning: %s, spec_type: %s, kind: Kind::%s, required: %s, remark: %s, domain: %s, line: %d },"
            % (
                rs(f["name"]),
                rs(f["raw_name"]),
                rs(f["meaning"]),
                rs(f["spec_type"]),
                KIND[f["spec_type"].lower()],
                "true" if f["required"] else "false",
                rs(f["remark"]),
                domain_of(f),
                f["line"],
            )
        )
    w("];")
    w("")
    for const, (title, line_no, entries) in dicts.items():
        w("/// %s (spec line %d)." % (title, line_no))
        w("pub static %s: Dict = Dict { name: %s, title: %s, entries: &[" % (const, rs(const), rs(title)))
        for c, n in entries:
            w("    (%s, %s)," % (rs(c), rs(n)))
        w("] };")
        w("")
    w("/// 4.1 examWay remark: %s" % ex_way)
    w('pub static EXAM_WAY: Dict = Dict { name: "EXAM_WAY", title: "检查方式（examWay）", entries: &[')
    for c, n in exam_way:
        w("    (%s, %s)," % (rs(c), rs(n)))
    w("] };")
    w("")
    w("/// 4.1 remark `0：否，1：是` of criticalValue, infectionName, deleteFlag.")
    w('pub static FLAG: Dict = Dict { name: "FLAG", title: "是否（0/1）", entries: &[("0", "否"), ("1", "是")] };')
    w("")
    w("/// 5.1 exam technique codes (WS/T 364.8-2023) in spec order, as printed: %d entries." % len(codes))
    w("pub const EXAM_CODES: &[ExamCode] = &[")
    for c, n, l in codes:
        w("    ExamCode { code: %s, name: %s, line: %d }," % (rs(c), rs(n), l))
    w("];")
    w("")
    for k, r in enumerate(req, 1):
        w("/// 4.1.2.4 request sample %d, verbatim." % k)
        w("pub const SAMPLE_REQUEST_%d: &str = %s;" % (k, raw(r)))
    w("/// 4.1.2.4 reply sample, verbatim (fullwidth colon and bare backslashes included).")
    w("pub const SAMPLE_REPLY: &str = %s;" % raw(reply))
    w("/// Keys of the reply sample's records, in order of first appearance.")
    w("pub const SAMPLE_REPLY_KEYS: &[&str] = &[")
    for k in reply_keys:
        if k in ("data", "code", "message"):
            continue
        w("    %s," % rs(k))
    w("];")
    return "\n".join(o) + "\n", ddl(fields)


def main():
    out, sql = generate(spec_path())
    if "--check" in sys.argv[1:]:
        for path, text in ((OUT, out), (DDL_OUT, sql)):
            current = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
            if current != text:
                sys.stderr.write("%s is stale: run python3 scripts/gen_report_tables.py\n" % os.path.relpath(path, ROOT))
                sys.exit(1)
        return
    if "--stdout" in sys.argv[1:]:
        sys.stdout.write(out)
        return
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(out)
    with open(DDL_OUT, "w", encoding="utf-8") as fh:
        fh.write(sql)


if __name__ == "__main__":
    main()
