//! A real PACS for tests: Debian's dcmqrscp on a free loopback port, with a generated study
//! (CT objects with a GB18030 Chinese patient name) registered by dcmqridx. Killed on drop.
#![allow(dead_code)]

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DCMQRSCP: &str = "/usr/bin/dcmqrscp";
pub const DCMQRIDX: &str = "/usr/bin/dcmqridx";
pub const PACS_AE: &str = "PACS";
pub const LOCAL_AE: &str = "MIIC";
pub const PATIENT_NAME: &str = "王小明";
pub const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// Free space of the disk holding `path`, in MiB (what miic's `min_free_mb` is checked against).
pub fn free_mb(path: &Path) -> u64 {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut stat) }, 0);
    (stat.f_bavail as u64 * stat.f_frsize as u64) >> 20
}

/// A fresh scratch folder under the target dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("miic-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One generated object: its UIDs and pixel bytes, to compare with what miic fetched.
#[derive(Debug, Clone)]
pub struct Original {
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub pixels: Vec<u8>,
    pub path: PathBuf,
}

/// Write `count` CT objects of `rows`×`rows` 16-bit pixels of study `study_uid` into `dir`.
pub fn make_study(dir: &Path, study_uid: &str, count: usize, rows: u16) -> Vec<Original> {
    std::fs::create_dir_all(dir).unwrap();
    let series_uid = format!("{study_uid}.1");
    (0..count)
        .map(|i| {
            let sop_uid = format!("{study_uid}.1.{}", i + 1);
            let pixels: Vec<u8> = (0..usize::from(rows) * usize::from(rows) * 2)
                .map(|k| ((k * 7 + i * 13) % 251) as u8)
                .collect();
            let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
            let object = InMemDicomObject::from_element_iter([
                text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "GB18030"),
                text(tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE),
                text(tags::SOP_INSTANCE_UID, VR::UI, &sop_uid),
                text(tags::STUDY_DATE, VR::DA, "20251126"),
                text(tags::ACCESSION_NUMBER, VR::SH, "ACC0001"),
                text(tags::MODALITY, VR::CS, "CT"),
                text(tags::PATIENT_NAME, VR::PN, PATIENT_NAME),
                text(tags::PATIENT_ID, VR::LO, "P0001"),
                text(tags::PATIENT_BIRTH_DATE, VR::DA, "19800101"),
                text(tags::PATIENT_SEX, VR::CS, "M"),
                text(tags::STUDY_INSTANCE_UID, VR::UI, study_uid),
                text(tags::SERIES_INSTANCE_UID, VR::UI, &series_uid),
                text(tags::STUDY_ID, VR::SH, "1"),
                text(tags::SERIES_NUMBER, VR::IS, "1"),
                text(tags::INSTANCE_NUMBER, VR::IS, &(i + 1).to_string()),
                text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
                DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
                DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(rows)),
                DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(rows)),
                DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
                DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
                DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
                DataElement::new(
                    tags::PIXEL_REPRESENTATION,
                    VR::US,
                    PrimitiveValue::from(0u16),
                ),
                DataElement::new(
                    tags::PIXEL_DATA,
                    VR::OW,
                    PrimitiveValue::from(pixels.clone()),
                ),
            ]);
            let file = object
                .with_meta(FileMetaTableBuilder::new().transfer_syntax(EXPLICIT_LE))
                .unwrap();
            let path = dir.join(format!("img{:04}.dcm", i + 1));
            file.write_to_file(&path).unwrap();
            Original {
                sop_instance_uid: sop_uid,
                study_uid: study_uid.to_owned(),
                pixels,
                path,
            }
        })
        .collect()
}

/// Pixel bytes and SOP Instance UID of a Part 10 file.
pub fn read_pixels(path: &Path) -> (String, Vec<u8>) {
    let object = dicom_object::open_file(path).unwrap();
    let uid = object
        .element(tags::SOP_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap();
    let pixels = object
        .element(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    (uid.trim_end_matches('\0').to_owned(), pixels)
}

pub fn patient_name_of(path: &Path) -> String {
    let object = dicom_object::open_file(path).unwrap();
    object
        .element(tags::PATIENT_NAME)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_owned()
}

/// dcmqrscp with its database; SIGKILLed on drop (also when the test fails).
pub struct Pacs {
    pub child: Child,
    pub port: u16,
    pub move_port: u16,
    pub scratch: Scratch,
    pub originals: Vec<Original>,
    pub study_uid: String,
}

impl Pacs {
    /// Start dcmqrscp (one process per association, in its own process group) with `count`
    /// generated CT objects.
    pub fn start(name: &str, count: usize, rows: u16) -> Pacs {
        Pacs::start_with(name, count, rows, &[], true)
    }

    /// As [`Pacs::start`], with extra environment for dcmqrscp (e.g. `TCP_NODELAY=1`), and
    /// `fork`: one process per association, as packaged. (dcmqrscp 3.6.7 in --single-process
    /// mode crashes after its first association, so single-process PACSes serve one call.)
    /// dcmqrscp runs in its own process group so that a signal reaches the child serving the
    /// transfer in flight too. The HostTable also lets dcmtk's movescu (AE `MOVESCU` on
    /// `move_port + 1`) and getscu (AE `GETSCU`) in.
    pub fn start_with(
        name: &str,
        count: usize,
        rows: u16,
        env: &[(&str, &str)],
        fork: bool,
    ) -> Pacs {
        Pacs::start_generated(name, count, rows, env, fork, false)
    }

    /// As [`Pacs::start`], with dcmqrscp's debug log (`-d`) in its scratch folder, for tests that
    /// check what the PACS saw ([`Pacs::debug_log`]).
    pub fn start_debug_logged(name: &str, count: usize, rows: u16) -> Pacs {
        Pacs::start_generated(name, count, rows, &[], true, true)
    }

    /// dcmqrscp's debug log so far (empty unless started by [`Pacs::start_debug_logged`]).
    pub fn debug_log(&self) -> String {
        // Lossy: the log dumps raw bytes of the PDUs too.
        std::fs::read(self.scratch.path().join("dcmqrscp-debug.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn start_generated(
        name: &str,
        count: usize,
        rows: u16,
        env: &[(&str, &str)],
        fork: bool,
        debug_log: bool,
    ) -> Pacs {
        let scratch = Scratch::new(name);
        let db = scratch.path().join("db");
        std::fs::create_dir_all(&db).unwrap();
        let study_uid = format!(
            "1.2.826.0.1.3680043.9.7433.{}.{}",
            std::process::id(),
            name.len() * 1000 + count
        );
        let originals = make_study(&db, &study_uid, count, rows);
        let files: Vec<PathBuf> = originals.iter().map(|o| o.path.clone()).collect();
        let log = debug_log.then(|| scratch.path().join("dcmqrscp-debug.log"));
        Pacs::launch(scratch, &files, originals, study_uid, env, fork, None, log)
    }

    /// Start dcmqrscp on a database holding `files` (indexed by dcmqridx), optionally with an
    /// association negotiation profile (`-xf profile In Out`).
    pub fn spawn(
        scratch: Scratch,
        files: &[PathBuf],
        originals: Vec<Original>,
        study_uid: String,
        env: &[(&str, &str)],
        fork: bool,
        profile: Option<PathBuf>,
    ) -> Pacs {
        Pacs::launch(
            scratch, files, originals, study_uid, env, fork, profile, None,
        )
    }

    /// [`Pacs::spawn`], with dcmqrscp's debug log written to `debug_log` when given.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        scratch: Scratch,
        files: &[PathBuf],
        originals: Vec<Original>,
        study_uid: String,
        env: &[(&str, &str)],
        fork: bool,
        profile: Option<PathBuf>,
        debug_log: Option<PathBuf>,
    ) -> Pacs {
        assert!(
            Path::new(DCMQRSCP).exists(),
            "{DCMQRSCP} missing: scripts/test.sh installs dcmtk"
        );
        let db = scratch.path().join("db");
        let status = Command::new(DCMQRIDX)
            .arg(&db)
            .args(files)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "dcmqridx failed");
        let port = free_port();
        let move_port = free_port();
        let dcmtk_port = move_port.wrapping_add(1);
        let config = scratch.path().join("dcmqrscp.cfg");
        std::fs::write(
            &config,
            format!(
                "NetworkTCPPort = {port}\nMaxPDUSize = 65536\nMaxAssociations = 16\n\
                 HostTable BEGIN\nmiic = ({LOCAL_AE}, localhost, {move_port}), (MOVESCU, localhost, {dcmtk_port}), (GETSCU, localhost, {dcmtk_port})\nHostTable END\n\
                 VendorTable BEGIN\nVendorTable END\n\
                 AETable BEGIN\n{PACS_AE} {} RW (1000, 1024mb) miic\nAETable END\n",
                db.display()
            ),
        )
        .unwrap();
        let mut command = Command::new(DCMQRSCP);
        command
            .envs(env.iter().copied())
            .process_group(0)
            .arg(if fork { "--fork" } else { "--single-process" })
            .args(
                (debug_log.is_some() || std::env::var("MIIC_DCMQRSCP_DEBUG").is_ok())
                    .then_some("-d"),
            );
        if let Some(profile) = &profile {
            command.arg("-xf").arg(profile).args(["In", "Out"]);
        }
        let name = scratch
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let child = command
            .arg("-c")
            .arg(&config)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(match (debug_log, std::env::var("MIIC_DCMQRSCP_DEBUG")) {
                (Some(path), _) => Stdio::from(std::fs::File::create(path).unwrap()),
                (None, Ok(dir)) => Stdio::from(
                    std::fs::File::create(format!("{dir}/dcmqrscp-{name}.log")).unwrap(),
                ),
                (None, Err(_)) => Stdio::null(),
            })
            .spawn()
            .unwrap();
        let pacs = Pacs {
            child,
            port,
            move_port,
            scratch,
            originals,
            study_uid,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dcmqrscp did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pacs
    }

    pub fn config(&self, retrieve: &str, local_ae: &str, timeout_ms: u32) -> String {
        serde_json::json!({
            "base_url": "http://127.0.0.1:9",
            "hospital_id": "H1",
            "timeout_ms": timeout_ms,
            // Not the per-user default outbox, which every test and run would share.
            "outbox": {"path": self.scratch.path().join("outbox.sqlite")},
            "dicom": {
                "local_ae": local_ae,
                "peer_ae": PACS_AE,
                "host": "127.0.0.1",
                "port": self.port,
                "retrieve": retrieve,
                "move_port": self.move_port,
            }
        })
        .to_string()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Signal dcmqrscp's process group (the listener and the children serving associations).
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(-self.pid(), sig) };
    }
}

impl Drop for Pacs {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }
}
