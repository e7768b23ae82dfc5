//! Cross-field rules of a 4.1 record: times in order, age and birth date agreeing, the resident
//! ID's check digit, birth date and sex matching the record.
//!
//! Uses: validate::{record, types, parse}.

use super::parse::{parse_date, parse_decimal};
use super::record::{datetime_of, shown, text_of, Ctx};
use super::types::Severity;
use chrono::{Datelike, NaiveDate, NaiveDateTime};

/// Certificate types meaning "resident ID card": GA/T 2000.156 `111` (the spec's standard) and
/// the national medical-insurance psn_cert_type `01` that many HIS systems send instead.
pub const RESIDENT_ID_TYPES: &[&str] = &["111", "01"];

pub fn cross_field(ctx: &mut Ctx) {
    let exam = datetime_of(&ctx.slots, "examDate");
    let before = |ctx: &mut Ctx,
                  later: &str,
                  earlier_time: Option<NaiveDateTime>,
                  rule,
                  severity,
                  what: &str| {
        if let (Some(t), Some(e)) = (datetime_of(&ctx.slots, later), earlier_time) {
            if t < e {
                ctx.push(
                    later,
                    rule,
                    severity,
                    format!("'{later}' {t} is before {what} {e}"),
                );
            }
        }
    };
    before(
        ctx,
        "executeEndTime",
        exam,
        "exam_end_before_start",
        Severity::Error,
        "examDate",
    );
    before(
        ctx,
        "chkDate",
        exam,
        "audit_before_exam",
        Severity::Error,
        "examDate",
    );
    before(
        ctx,
        "rptDate",
        exam,
        "report_before_exam",
        Severity::Warning,
        "examDate",
    );
    let symptom_start = datetime_of(&ctx.slots, "sympBegndate");
    before(
        ctx,
        "sympEnddate",
        symptom_start,
        "symptom_end_before_start",
        Severity::Warning,
        "sympBegndate",
    );
    if let (Some(order), Some(e)) = (datetime_of(&ctx.slots, "studyOrderTime"), exam) {
        if order > e {
            ctx.push(
                "studyOrderTime",
                "order_after_exam",
                Severity::Warning,
                format!("'studyOrderTime' {order} is after examDate {e}"),
            );
        }
    }
    let birth = text_of(&ctx.slots, "brdy").and_then(|t| parse_date(&t).ok());
    if let (Some(b), Some(e)) = (birth, exam) {
        if b > e.date() {
            ctx.push(
                "brdy",
                "birth_after_exam",
                Severity::Error,
                format!("'brdy' {b} is after examDate {e}"),
            );
        } else if let Some(age) = text_of(&ctx.slots, "age").and_then(|a| parse_decimal(&a)) {
            let years = full_years(b, e.date());
            if (age - f64::from(years)).abs() > 1.0 {
                ctx.push(
                    "age",
                    "age_mismatch",
                    Severity::Error,
                    format!(
                        "'age' {age} disagrees with brdy {b}: {years} full years at examDate {}",
                        e.date()
                    ),
                );
            }
        }
    }
    certno(ctx, birth);
}

fn full_years(birth: NaiveDate, at: NaiveDate) -> i32 {
    let mut years = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

fn certno(ctx: &mut Ctx, birth: Option<NaiveDate>) {
    let cert_type = text_of(&ctx.slots, "psnCertType");
    if !cert_type
        .as_deref()
        .is_some_and(|t| RESIDENT_ID_TYPES.contains(&t))
    {
        return;
    }
    let Some(id) = text_of(&ctx.slots, "certno") else {
        return;
    };
    let shown_id = shown("certno", &id);
    let b = id.as_bytes();
    if b.len() == 15 && b.iter().all(u8::is_ascii_digit) {
        ctx.push("certno", "certno_format", Severity::Warning, format!("'certno' {shown_id} is a 15-digit first-generation ID (retired); send the 18-digit number"));
        return;
    }
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
    {
        ctx.push("certno", "certno_format", Severity::Error, format!("'certno' {shown_id} is not an 18-character resident ID (17 digits and a digit or X), yet psnCertType says resident ID"));
        return;
    }
    if !resident_id_checksum_ok(&id) {
        ctx.push(
            "certno",
            "certno_checksum",
            Severity::Error,
            format!("'certno' {shown_id} fails the resident-ID check digit (GB 11643)"),
        );
        return;
    }
    let id_birth = parse_date(&format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14])).ok();
    match (id_birth, birth) {
        (None, _) => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Error,
            format!("'certno' {shown_id} holds no valid birth date"),
        ),
        (Some(a), Some(b)) if a != b => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Warning,
            "'certno' birth date disagrees with 'brdy'".into(),
        ),
        _ => {}
    }
    let male = (b[16] - b'0') % 2 == 1;
    match text_of(&ctx.slots, "gend").as_deref() {
        Some("1") if !male => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Warning,
            "'certno' sex digit says female, 'gend' says 1=男".into(),
        ),
        Some("2") if male => ctx.push(
            "certno",
            "certno_mismatch",
            Severity::Warning,
            "'certno' sex digit says male, 'gend' says 2=女".into(),
        ),
        _ => {}
    }
}

/// GB 11643-1999 check digit (ISO 7064 MOD 11-2) of an 18-character resident ID.
pub fn resident_id_checksum_ok(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_check_digit_follows_gb11643() {
        assert!(resident_id_checksum_ok("11010519491231002X"));
        assert!(!resident_id_checksum_ok("110105194912310021"));
    }
}
