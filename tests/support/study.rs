//! Generated test studies (scripts/make_study.py: pydicom plus dcmtk's compressors) and the
//! checks made on what miic fetched of them: what dcmtk's own SCUs fetch from the same PACS,
//! compared data set by data set.
#![allow(dead_code)]

use super::pacs::{Pacs, Scratch};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// One generated object, as scripts/make_study.py lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Object {
    pub file: String,
    pub kind: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub transfer_syntax: String,
}

pub struct Study {
    pub dir: PathBuf,
    pub uid: String,
    pub objects: Vec<Object>,
}

impl Study {
    /// Generate study `uid` of `kind` (`realistic` or `many-classes`) into `dir`.
    pub fn generate(dir: &Path, uid: &str, kind: &str) -> Study {
        let python = std::env::var("MIIC_PYTHON").unwrap_or_else(|_| {
            let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
            assert!(
                Path::new(venv).exists(),
                "no Python venv with pydicom: run scripts/test.sh (it creates .venv), or set MIIC_PYTHON"
            );
            venv.into()
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/make_study.py");
        let output = Command::new(python)
            .arg(script)
            .arg(dir)
            .arg(uid)
            .arg(kind)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "make_study.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let objects: Vec<Object> = serde_json::from_slice(&output.stdout).unwrap();
        Study {
            dir: dir.to_path_buf(),
            uid: uid.to_owned(),
            objects,
        }
    }

    pub fn object(&self, sop_instance_uid: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.sop_instance_uid == sop_instance_uid)
    }

    pub fn compressed_syntaxes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for o in &self.objects {
            if ![EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED]
                .contains(&o.transfer_syntax.as_str())
                && !out.contains(&o.transfer_syntax)
            {
                out.push(o.transfer_syntax.clone());
            }
        }
        out
    }

    pub fn classes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for o in &self.objects {
            if !out.contains(&o.sop_class_uid) {
                out.push(o.sop_class_uid.clone());
            }
        }
        out
    }
}

/// dcmqrscp holding the files of a generated study (copied into its database). With
/// `profile`, dcmqrscp negotiates from an association profile (see [`write_profile`]) so that
/// it can serve compressed objects at all.
pub fn dcmqrscp_with(name: &str, study: &Study, profile: bool) -> Pacs {
    let scratch = Scratch::new(name);
    let db = scratch.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    let mut files = Vec::new();
    for o in &study.objects {
        let to = db.join(&o.file);
        std::fs::copy(study.dir.join(&o.file), &to).unwrap();
        files.push(to);
    }
    let profile = profile.then(|| {
        let path = scratch.path().join("assoc.cfg");
        write_profile(&path, study);
        path
    });
    Pacs::spawn(
        scratch,
        &files,
        Vec::new(),
        study.uid.clone(),
        &[],
        true,
        profile,
    )
}

/// A Part 10 file split into its transfer syntax and its data set bytes (after the meta group).
pub fn split_part10(path: &Path) -> (String, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[128..132], b"DICM", "{}", path.display());
    let mut at = 132;
    let mut ts = String::new();
    // Meta elements are explicit VR little endian, group 0002.
    while at + 8 <= bytes.len() && bytes[at..at + 2] == [2, 0] {
        let element = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
        let vr = &bytes[at + 4..at + 6];
        let (len, header) = if [b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC"]
            .iter()
            .any(|v| v[..] == *vr)
        {
            (
                u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize,
                12,
            )
        } else {
            (
                u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize,
                8,
            )
        };
        if element == 0x0010 {
            ts = String::from_utf8_lossy(&bytes[at + header..at + header + len])
                .trim_end_matches(['\0', ' '])
                .to_owned();
        }
        at += header + len;
    }
    (ts, bytes[at..].to_vec())
}

/// SOP Instance UID of a Part 10 file (from its meta group).
pub fn sop_instance_of(path: &Path) -> String {
    let object = dicom_object::OpenFileOptions::new()
        .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
        .open_file(path)
        .unwrap();
    object
        .meta()
        .media_storage_sop_instance_uid()
        .trim_end_matches(['\0', ' '])
        .to_owned()
}

/// Every file under `dir` (dcmtk's SCUs name files after modality and UID).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect()
}

/// (SOP Instance UID, transfer syntax) → data set bytes, over the files of several folders.
pub type Reference = HashMap<(String, String), Vec<u8>>;

pub fn index_files(dirs: &[PathBuf]) -> Reference {
    let mut out = Reference::new();
    for dir in dirs {
        for file in files_in(dir) {
            let uid = sop_instance_of(&file);
            let (ts, data) = split_part10(&file);
            out.insert((uid, ts), data);
        }
    }
    out
}

/// dcmtk's preference options, one per transfer syntax miic may receive in the study.
pub const DCMTK_PREFERENCES: &[&str] = &["", "+xs", "+xt", "+xu", "+xy", "+xr", "+xd"];

/// What dcmtk fetches from a PACS: one run per preference option (each run gets the objects
/// the PACS can send in that syntax), bit-preserving, into `work/<tool>-<n>`. The runs go in
/// parallel; movescu run `n` is AE `MOVESCU<n>` listening on `dcmtk_port + n`.
pub fn dcmtk_fetch(
    tool: &str,
    work: &Path,
    pacs_ae: &str,
    port: u16,
    dcmtk_port: u16,
    study_uid: &str,
) -> Reference {
    let dirs: Vec<PathBuf> = (0..DCMTK_PREFERENCES.len())
        .map(|n| work.join(format!("{tool}-{n}")))
        .collect();
    std::thread::scope(|scope| {
        for (n, (preference, dir)) in DCMTK_PREFERENCES.iter().zip(&dirs).enumerate() {
            scope.spawn(move || {
                std::fs::create_dir_all(dir).unwrap();
                let mut command = Command::new(format!("/usr/bin/{tool}"));
                command.current_dir(dir);
                if tool == "movescu" {
                    // movescu writes into the working folder in bit-preserving mode.
                    let ae = format!("MOVESCU{n}");
                    let port = (dcmtk_port + n as u16).to_string();
                    command.args(["-aet", &ae, "-aem", &ae, "--port", &port]);
                } else {
                    command.args(["-aet", "GETSCU", "-od"]).arg(dir);
                }
                if !preference.is_empty() {
                    command.arg(preference);
                }
                // dcmtk exits non-zero when some sub-operations failed: expected here (each
                // run only gets the objects held in its preferred syntax).
                let _ = command
                    .args([
                        "-S",
                        "+B",
                        "-aec",
                        pacs_ae,
                        "-k",
                        "QueryRetrieveLevel=STUDY",
                        "-k",
                    ])
                    .arg(format!("StudyInstanceUID={study_uid}"))
                    .args(["127.0.0.1", &port.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
            });
        }
    });
    index_files(&dirs)
}

/// Write a dcmqrscp association profile for `study`: incoming (C-GET, and getscu), every class
/// of the study with every syntax of the study, compressed ones preferred; outgoing (C-MOVE),
/// each class with one context of the uncompressed syntaxes plus one per compressed syntax of
/// the study.
pub fn write_profile(path: &Path, study: &Study) {
    let compressed = study.compressed_syntaxes();
    let mut out = String::from("[[TransferSyntaxes]]\n[Uncompressed]\n");
    out += &format!("TransferSyntax1 = {EXPLICIT_LE}\nTransferSyntax2 = {EXPLICIT_BE}\nTransferSyntax3 = {IMPLICIT_LE}\n");
    out += "[Any]\n";
    let mut all = compressed.clone();
    all.extend([EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE, DEFLATED].map(String::from));
    for (i, ts) in all.iter().enumerate() {
        out += &format!("TransferSyntax{} = {ts}\n", i + 1);
    }
    for (i, ts) in compressed.iter().enumerate() {
        out += &format!("[Single{}]\nTransferSyntax1 = {ts}\n", i + 1);
    }
    out += "[[PresentationContexts]]\n[In]\n";
    let mut n = 0;
    let mut line = |out: &mut String, abstract_syntax: &str, syntaxes: &str| {
        n += 1;
        *out += &format!("PresentationContext{n} = {abstract_syntax}\\{syntaxes}\n");
    };
    for class in study.classes() {
        line(&mut out, &class, "Any");
    }
    for service in [
        "1.2.840.10008.1.1",
        "1.2.840.10008.5.1.4.1.2.2.1",
        "1.2.840.10008.5.1.4.1.2.2.2",
        "1.2.840.10008.5.1.4.1.2.2.3",
    ] {
        line(&mut out, service, "Uncompressed");
    }
    out += "[Out]\n";
    let mut n = 0;
    let mut line = |out: &mut String, abstract_syntax: &str, syntaxes: &str| {
        n += 1;
        *out += &format!("PresentationContext{n} = {abstract_syntax}\\{syntaxes}\n");
    };
    for class in study.classes() {
        line(&mut out, &class, "Uncompressed");
        for (i, ts) in compressed.iter().enumerate() {
            if study
                .objects
                .iter()
                .any(|o| o.sop_class_uid == class && o.transfer_syntax == *ts)
            {
                line(&mut out, &class, &format!("Single{}", i + 1));
            }
        }
    }
    // C-GET: the requestor (miic, getscu) takes the storage SCP role.
    out += "[[SCPSCURoleSelection]]\n[Roles]\n";
    for (i, class) in study.classes().iter().enumerate() {
        out += &format!("Role{} = {class}\\SCP\n", i + 1);
    }
    out += "[[Profiles]]\n[In]\nPresentationContexts = In\nSCPSCURoleSelection = Roles\n\
            [Out]\nPresentationContexts = Out\n";
    std::fs::write(path, out).unwrap();
}
