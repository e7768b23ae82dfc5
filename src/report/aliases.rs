//! Names a PACS may send instead of the 4.1 table's (DESIGN.md: the table is normative; the
//! 4.1.2.4 sample reply's names are recognised as aliases, mapped, and reported).
//!
//! The sample reply shares few names with the table; the mapping below is our reading of each
//! sample name's meaning (the spec gives none). Where two sample names could feed one field,
//! both map and a record carrying different values for them is reported.
//!
//! Uses: nothing in the crate.

/// Why a name was accepted in place of a table name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasKind {
    /// A name of the 4.1.2.4 sample reply.
    Sample,
    /// The table's misspelt name, spelt right (`reportStatus` for `reportSTatus`).
    Corrected,
}

/// (alias, table name, kind).
pub const ALIASES: &[(&str, &str, AliasKind)] = &[
    ("accessNumber", "accessionNo", AliasKind::Sample),
    ("examMethod", "examWay", AliasKind::Sample),
    ("patientId", "patnId", AliasKind::Sample),
    ("uname", "psnName", AliasKind::Sample),
    ("sex", "gend", AliasKind::Sample),
    ("birthday", "brdy", AliasKind::Sample),
    ("phoneNumber", "tel", AliasKind::Sample),
    ("applyOffice", "appyDeptName", AliasKind::Sample),
    ("applyDoctor", "bilgDrName", AliasKind::Sample),
    ("applyDoctorID", "bilgDrCode", AliasKind::Sample),
    ("modalityType", "examDevType", AliasKind::Sample),
    ("modality", "imgExamType", AliasKind::Sample),
    ("examItemName", "imgExamItem", AliasKind::Sample),
    ("married", "mrgStas", AliasKind::Sample),
    ("idCardNo", "certno", AliasKind::Sample),
    ("homeAddress", "fmAddr", AliasKind::Sample),
    ("procedureOffice", "examDeptName", AliasKind::Sample),
    ("procedureRoom", "devRoom", AliasKind::Sample),
    ("procedureDoctor", "examDrName", AliasKind::Sample),
    ("patientArea", "wardareaName", AliasKind::Sample),
    ("checkSee", "imgDscr", AliasKind::Sample),
    ("imageDescription", "imgDscr", AliasKind::Sample),
    ("conclusion", "diagRslt", AliasKind::Sample),
    ("positive", "examRsltCode", AliasKind::Sample),
    ("studyInstanceUId", "studyInstanceUid", AliasKind::Sample),
    ("locationCode", "examPart", AliasKind::Sample),
    ("checkTime", "examDate", AliasKind::Sample),
    ("arrivedTime", "regTime", AliasKind::Sample),
    ("reportDoctor", "rpotDrName", AliasKind::Sample),
    ("reportTime", "rptDate", AliasKind::Sample),
    ("examineDoctor", "chkDrName", AliasKind::Sample),
    ("auditDatetime", "chkDate", AliasKind::Sample),
    ("healthCardNo", "elecHlCardNo", AliasKind::Sample),
    ("hospitalizedNo", "iptNo", AliasKind::Sample),
    ("briefHistory", "illhis", AliasKind::Sample),
    ("diagnosis", "clncDiag", AliasKind::Sample),
    ("equipmentTitle", "devName", AliasKind::Sample),
    ("pePatientNo", "pepatientNo", AliasKind::Sample),
    ("printTime", "rpotPubDate", AliasKind::Sample),
    ("reportStatus", "reportSTatus", AliasKind::Corrected),
    ("nationality", "nationnality", AliasKind::Corrected),
    (
        "criticalNotifyDoctor",
        "riticalNotiryDoctor",
        AliasKind::Corrected,
    ),
];

/// Names of the sample reply with no column in the table: known, carried, not checked.
/// `dcmPath` is the image path of 4.2 method 2 (comma-separated paths, fetched over HTTP).
pub const SAMPLE_ONLY: &[&str] = &[
    "insuranceId",
    "procedureName",
    "checkResult",
    "visitType",
    "locationName",
    "highLocation",
    "uploadReason",
    "createDoctorName",
    "dcmPath",
];

/// The table name an alias stands for.
pub fn resolve(name: &str) -> Option<(&'static str, AliasKind)> {
    ALIASES
        .iter()
        .find(|(alias, _, _)| *alias == name)
        .map(|(_, field, kind)| (*field, *kind))
}
