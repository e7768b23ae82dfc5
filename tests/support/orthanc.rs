//! Orthanc (Debian's `orthanc`) as a real PACS for tests: started by the test with a generated
//! configuration (loopback ports, its own storage and index folders, miic's AE and dcmtk's
//! registered for C-MOVE and C-GET), loaded through its REST API, stopped by its PID. The
//! Debian service instance, if any, is never used.
#![allow(dead_code)]

use super::pacs::{free_port, Scratch, LOCAL_AE};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ORTHANC: &str = "/usr/sbin/Orthanc";
pub const ORTHANC_AE: &str = "ORTHANC";

/// `n` consecutive free loopback ports; the first is returned.
fn free_ports(n: usize) -> u16 {
    loop {
        let first = free_port();
        if (0..n as u16).all(|i| {
            first
                .checked_add(i)
                .is_some_and(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        }) {
            return first;
        }
    }
}

pub struct Orthanc {
    pub child: Child,
    pub dicom_port: u16,
    pub http_port: u16,
    /// miic's C-MOVE destination port.
    pub move_port: u16,
    /// dcmtk's movescu destination ports: `dcmtk_port + n` for AE `MOVESCU<n>`.
    pub dcmtk_port: u16,
    pub scratch: Scratch,
}

impl Orthanc {
    pub fn start(name: &str) -> Orthanc {
        assert!(
            Path::new(ORTHANC).exists(),
            "{ORTHANC} missing: scripts/test.sh installs orthanc"
        );
        let scratch = Scratch::new(&format!("orthanc-{name}"));
        let (dicom_port, http_port, move_port) = (free_port(), free_port(), free_port());
        let dcmtk_port = free_ports(super::study::DCMTK_PREFERENCES.len());
        let config = serde_json::json!({
            "Name": format!("miic-test-{name}"),
            "StorageDirectory": scratch.path().join("storage"),
            "IndexDirectory": scratch.path().join("index"),
            "HttpPort": http_port,
            "DicomPort": dicom_port,
            "DicomAet": ORTHANC_AE,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            "Plugins": [],
            "LuaScripts": [],
            "SaveJobs": false,
            // No in-memory copy of stored files: a test that removes one sees Orthanc miss it.
            "MaximumStorageCacheSize": 0,
            "HttpThreadsCount": 4,
            "DicomThreadsCount": 2,
        });
        let mut modalities = serde_json::json!({
            "miic": [LOCAL_AE, "127.0.0.1", move_port],
            "getscu": ["GETSCU", "127.0.0.1", dcmtk_port],
        });
        for n in 0..super::study::DCMTK_PREFERENCES.len() as u16 {
            modalities[format!("movescu{n}")] =
                serde_json::json!([format!("MOVESCU{n}"), "127.0.0.1", dcmtk_port + n]);
        }
        let mut config = config;
        config["DicomModalities"] = modalities;
        let config_path = scratch.path().join("orthanc.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = std::fs::File::create(scratch.path().join("orthanc.log")).unwrap();
        let child = Command::new(ORTHANC)
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let orthanc = Orthanc {
            child,
            dicom_port,
            http_port,
            move_port,
            dcmtk_port,
            scratch,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", dicom_port)).is_err()
            || ureq::get(&orthanc.url("/system")).call().is_err()
        {
            assert!(
                Instant::now() < deadline,
                "Orthanc did not start: {}",
                orthanc.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        orthanc
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.path().join("orthanc.log")).unwrap_or_default()
    }

    /// Store a Part 10 file through the REST API (POST /instances), as given.
    pub fn upload(&self, path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        let reply = ureq::post(&self.url("/instances"))
            .header("Content-Type", "application/dicom")
            .send(&bytes[..]);
        assert!(
            reply.is_ok(),
            "upload of {} failed: {reply:?}",
            path.display()
        );
    }

    /// Orthanc's id of the instance with this SOP Instance UID.
    pub fn instance_id(&self, sop_instance_uid: &str) -> String {
        let mut reply = ureq::post(&self.url("/tools/lookup"))
            .send(sop_instance_uid)
            .unwrap();
        let found: serde_json::Value =
            serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
        found[0]["ID"].as_str().unwrap().to_owned()
    }

    /// Remove the stored file of an instance (its index entry stays): the PACS then lists the
    /// object but cannot send it.
    pub fn lose_file(&self, sop_instance_uid: &str) -> PathBuf {
        let id = self.instance_id(sop_instance_uid);
        let mut reply = ureq::get(&self.url(&format!("/instances/{id}/attachments/dicom/info")))
            .call()
            .unwrap();
        let info: serde_json::Value =
            serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
        let uuid = info["Uuid"].as_str().unwrap();
        let path = self
            .scratch
            .path()
            .join("storage")
            .join(&uuid[0..2])
            .join(&uuid[2..4])
            .join(uuid);
        std::fs::remove_file(&path).unwrap();
        path
    }

    pub fn config(&self, retrieve: &str, timeout_ms: u32) -> String {
        serde_json::json!({
            "base_url": "http://127.0.0.1:9",
            "hospital_id": "H1",
            "timeout_ms": timeout_ms,
            // Not the per-user default outbox, which every test and run would share.
            "outbox": {"path": self.scratch.path().join("outbox.sqlite")},
            "dicom": {
                "local_ae": LOCAL_AE,
                "peer_ae": ORTHANC_AE,
                "host": "127.0.0.1",
                "port": self.dicom_port,
                "retrieve": retrieve,
                "move_port": self.move_port,
            }
        })
        .to_string()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
