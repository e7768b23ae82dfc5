//! Parsers of the 4.1 table's value formats: dates, date-times, decimals, DICOM UIDs.
//!
//! Uses: chrono.

use chrono::{NaiveDate, NaiveDateTime};

pub fn is_dicom_uid(uid: &str) -> bool {
    uid.len() <= 64
        && uid.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'))
        })
}

pub fn parse_decimal(text: &str) -> Option<f64> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    let ok = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if ok {
        text.parse().ok()
    } else {
        None
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `yyyy-MM-dd`, zero-padded, a real date.
pub fn parse_date(text: &str) -> std::result::Result<NaiveDate, &'static str> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(if text.len() == 19 {
            "has a time part"
        } else {
            "is not shaped yyyy-MM-dd"
        });
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    else {
        return Err("is not shaped yyyy-MM-dd");
    };
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or("is not a calendar date")
}

/// `yyyy-MM-dd HH:mm:ss`, zero-padded, a real time.
pub fn parse_datetime(text: &str) -> std::result::Result<NaiveDateTime, &'static str> {
    let b = text.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return Err(if b.len() == 10 {
            "has no time part"
        } else {
            "is not shaped yyyy-MM-dd HH:mm:ss"
        });
    }
    let date = parse_date(&text[..10])?;
    let (Some(h), Some(mi), Some(s)) = (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]))
    else {
        return Err("is not shaped yyyy-MM-dd HH:mm:ss");
    };
    date.and_hms_opt(h, mi, s).ok_or("is not a clock time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_zero_padded_calendar_dates() {
        assert!(parse_date("2023-02-28").is_ok());
        assert_eq!(parse_date("2023-02-30"), Err("is not a calendar date"));
        assert!(parse_date("2023-2-3").is_err());
        assert!(parse_datetime("2024-02-29 23:59:59").is_ok());
        assert!(parse_datetime("2023-02-29 00:00:00").is_err());
        assert!(parse_datetime("2023-01-01T00:00:00").is_err());
        assert!(parse_datetime("2023-01-01 24:00:00").is_err());
    }
}
