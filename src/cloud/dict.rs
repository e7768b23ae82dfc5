//! Dictionary checks the cloud calls need before sending (spec section 5).
//!
//! Uses: error.

use crate::error::{Error, Result};

/// 5.2 患者类型 patientType.
pub const PATIENT_TYPE: &[(&str, &str)] = &[
    ("1", "门诊"),
    ("2", "住院"),
    ("3", "体检"),
    ("4", "急诊"),
    ("9", "未说明"),
];
/// 5.2 性别 sex.
pub const SEX: &[(&str, &str)] = &[("0", "未知"), ("1", "男"), ("2", "女"), ("9", "未说明性别")];
/// 5.7 人员类型 doctorType.
pub const DOCTOR_TYPE: &[(&str, &str)] = &[("1", "医师"), ("2", "技师"), ("3", "护士")];

/// `value` must be one of the dictionary's codes; the error names the field and the codes.
pub fn check(field: &str, value: &str, dict: &[(&str, &str)]) -> Result<()> {
    if dict.iter().any(|(code, _)| *code == value) {
        return Ok(());
    }
    let codes: Vec<String> = dict.iter().map(|(c, n)| format!("{c}={n}")).collect();
    Err(Error::argument(format!(
        "'{field}' = '{value}' is not in its dictionary ({})",
        codes.join(", ")
    )))
}
