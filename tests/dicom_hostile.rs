//! The C-MOVE receiver and the retrieve's bounds against hostile or broken peers on a flat
//! hospital LAN, through the C export: dcmtk's dcmqrscp is the genuine PACS, reaching miic's
//! `move_port` through a forwarder that makes it slow to start and to send (so the attacks
//! land while the retrieve runs); the attackers are raw sockets speaking just enough DICOM
//! upper layer, bound to 127.0.0.2 when they play "another host" (Linux routes all of
//! 127.0.0.0/8 to the loopback device).

mod common;
mod support;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::pdu::{
    read_pdu, write_pdu, AssociationAC, AssociationRQ, PDataValue, PDataValueType, Pdu,
    PresentationContextProposed, PresentationContextResult, PresentationContextResultReason,
    UserVariableItem,
};
use miic::ffi::{miic_dicom_find, miic_dicom_retrieve};
use std::ffi::c_char;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::ffi::{cstr, last_error, take_string, ClientHandle};
use support::pacs::{
    free_mb, free_port, read_pixels, Pacs, Scratch, CT_IMAGE_STORAGE, EXPLICIT_LE, LOCAL_AE,
    PACS_AE,
};

const MIIC_OK: i32 = 0;
const MIIC_E_DICOM: i32 = -10;
const MIIC_E_IO: i32 = -11;
const OTHER_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const PACS_HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn retrieve(client: &ClientHandle, study: &str, dest: &Path) -> (i32, String, serde_json::Value) {
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe {
        miic_dicom_retrieve(
            client.0,
            cstr(study).as_ptr(),
            cstr(dest.to_str().unwrap()).as_ptr(),
            &mut out,
        )
    };
    let error = last_error();
    let manifest = take_string(out)
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or_default();
    (status, error, manifest)
}

/// A C-MOVE config whose `move_port` is miic's own; dcmqrscp sends to `pacs.move_port`,
/// where a [`SlowLink`] listens.
fn move_config(pacs: &Pacs, miic_port: u16, timeout_ms: u32) -> serde_json::Value {
    let mut config: serde_json::Value =
        serde_json::from_str(&pacs.config("move", LOCAL_AE, timeout_ms)).unwrap();
    config["dicom"]["move_port"] = miic_port.into();
    config
}

/// Between dcmqrscp and miic: accepts where dcmqrscp's HostTable sends, waits `delay`, then
/// connects to miic (from 127.0.0.1, like the PACS) and copies both ways, the PACS's side at
/// most `rate` bytes per second.
struct SlowLink {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowLink {
    fn start(listen: u16, to: u16, delay: Duration, rate: Option<usize>) -> SlowLink {
        let listener = TcpListener::bind(("127.0.0.1", listen)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok((from_pacs, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                std::thread::spawn(move || {
                    let _ = from_pacs.set_nonblocking(false);
                    std::thread::sleep(delay);
                    let Ok(to_miic) = TcpStream::connect(("127.0.0.1", to)) else {
                        return;
                    };
                    for s in [&from_pacs, &to_miic] {
                        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                    }
                    let (mut pacs_r, mut miic_w) =
                        (from_pacs.try_clone().unwrap(), to_miic.try_clone().unwrap());
                    let up = std::thread::spawn(move || copy(&mut pacs_r, &mut miic_w, rate));
                    let (mut miic_r, mut pacs_w) = (to_miic, from_pacs);
                    copy(&mut miic_r, &mut pacs_w, None);
                    let _ = up.join();
                });
            }
        });
        SlowLink {
            stop,
            thread: Some(thread),
        }
    }
}

fn copy(from: &mut TcpStream, to: &mut TcpStream, rate: Option<usize>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(rate) = rate {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---- a raw DICOM peer ----

/// A TCP connection to 127.0.0.1:`port` from `source` (0 = any port).
fn connect_from(source: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    fn addr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
        libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(ip).to_be(),
            },
            sin_zero: [0; 8],
        }
    }
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let stream = TcpStream::from_raw_fd(fd);
        let local = addr(source, 0);
        if libc::bind(fd, &local as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = addr(Ipv4Addr::LOCALHOST, port);
        if libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Connect from `source` as soon as miic listens on `port` (it does only while a retrieve runs).
fn connect_when_listening(source: Ipv4Addr, port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = connect_from(source, port) {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            return s;
        }
        assert!(Instant::now() < deadline, "miic never listened on {port}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn send_pdu(stream: &mut TcpStream, pdu: &Pdu) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    write_pdu(&mut bytes, pdu).unwrap();
    stream.write_all(&bytes)
}

fn receive_pdu(stream: &mut TcpStream) -> Option<Pdu> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some(pdu)) = read_pdu(&buf[..], 1 << 20, false) {
            return Some(pdu);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn association_rq(calling_ae: &str) -> Pdu {
    Pdu::AssociationRQ(AssociationRQ {
        protocol_version: 1,
        calling_ae_title: calling_ae.into(),
        called_ae_title: LOCAL_AE.into(),
        application_context_name: "1.2.840.10008.3.1.1.1".into(),
        presentation_contexts: vec![PresentationContextProposed {
            id: 1,
            abstract_syntax: CT_IMAGE_STORAGE.into(),
            transfer_syntaxes: vec![EXPLICIT_LE.into()],
        }],
        user_variables: vec![
            UserVariableItem::MaxLength(16384),
            UserVariableItem::ImplementationClassUID("1.2.826.0.1.3680043.9.7433.1".into()),
        ],
    })
}

/// A-ASSOCIATE as `calling_ae`: `Ok(())` when miic accepted the CT storage context.
fn associate(stream: &mut TcpStream, calling_ae: &str) -> Result<(), String> {
    send_pdu(stream, &association_rq(calling_ae)).map_err(|e| format!("send: {e}"))?;
    match receive_pdu(stream) {
        Some(Pdu::AssociationAC(ac)) => ac
            .presentation_contexts
            .iter()
            .any(|pc| pc.id == 1 && pc.reason == PresentationContextResultReason::Acceptance)
            .then_some(())
            .ok_or_else(|| "context rejected".into()),
        Some(Pdu::AssociationRJ(rj)) => Err(format!("rejected: {:?}", rj.source)),
        Some(other) => Err(format!("answered {}", other.short_description())),
        None => Err("closed without an answer".into()),
    }
}

fn implicit(object: InMemDicomObject) -> Vec<u8> {
    let ts = TransferSyntaxRegistry.get("1.2.840.10008.1.2").unwrap();
    let mut body = Vec::new();
    object.write_dataset_with_ts(&mut body, ts).unwrap();
    let mut out = vec![0, 0, 0, 0, 4, 0, 0, 0];
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn even_uid(uid: &str) -> String {
    if uid.len() % 2 == 1 {
        format!("{uid}\0")
    } else {
        uid.to_owned()
    }
}

/// C-STORE `dataset` (explicit VR LE bytes) as `sop_uid`; the status miic answered.
fn c_store(stream: &mut TcpStream, sop_uid: &str, dataset: &[u8]) -> Result<u16, String> {
    let command = implicit(InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(even_uid(CT_IMAGE_STORAGE)),
        ),
        DataElement::new(tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(tags::MESSAGE_ID, VR::US, PrimitiveValue::from(7u16)),
        DataElement::new(tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(
            tags::AFFECTED_SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(even_uid(sop_uid)),
        ),
    ]));
    let pdv = |value_type, is_last, data: &[u8]| Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: 1,
            value_type,
            is_last,
            data: data.to_vec(),
        }],
    };
    let io = |e: std::io::Error| format!("send: {e}");
    send_pdu(stream, &pdv(PDataValueType::Command, true, &command)).map_err(io)?;
    let chunks: Vec<&[u8]> = dataset.chunks(16000).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        send_pdu(
            stream,
            &pdv(PDataValueType::Data, i + 1 == chunks.len(), chunk),
        )
        .map_err(io)?;
    }
    match receive_pdu(stream) {
        Some(Pdu::PData { data }) => {
            let ts = TransferSyntaxRegistry.get("1.2.840.10008.1.2").unwrap();
            let rsp = InMemDicomObject::read_dataset_with_ts(&data[0].data[..], ts).unwrap();
            Ok(rsp.element(tags::STATUS).unwrap().to_int::<u16>().unwrap())
        }
        Some(other) => Err(format!("answered {}", other.short_description())),
        None => Err("closed without an answer".into()),
    }
}

/// The data set of `file` (explicit VR LE), with its pixels overwritten and optionally other
/// SOP Instance / Study Instance UIDs: a forgery.
fn forged(file: &Path, sop_uid: Option<&str>, study_uid: Option<&str>) -> Vec<u8> {
    let mut object = dicom_object::open_file(file).unwrap().into_inner();
    let pixels = object
        .element(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .len();
    object.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::from(vec![0xAAu8; pixels]),
    ));
    if let Some(uid) = sop_uid {
        object.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(uid),
        ));
    }
    if let Some(uid) = study_uid {
        object.put(DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(uid),
        ));
    }
    let ts = TransferSyntaxRegistry.get(EXPLICIT_LE).unwrap();
    let mut out = Vec::new();
    object.write_dataset_with_ts(&mut out, ts).unwrap();
    out
}

fn refusals(manifest: &serde_json::Value) -> Vec<String> {
    manifest["refused"]
        .as_array()
        .map(|a| a.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_second_hosts_store_during_a_move_is_refused_and_the_genuine_file_stays() {
    let pacs = Pacs::start("hostile-other", 1, 64);
    let dest = Scratch::new("hostile-other-dest");
    let miic_port = free_port();
    let _link = SlowLink::start(pacs.move_port, miic_port, Duration::from_secs(2), None);
    let genuine = pacs.originals[0].clone();
    let attacker = std::thread::spawn(move || {
        let forgery = forged(&genuine.path, None, None);
        let mut outcomes = Vec::new();
        for (source, ae) in [(OTHER_HOST, "EVIL"), (PACS_HOST, "EVIL")] {
            let mut s = connect_when_listening(source, miic_port);
            let outcome = associate(&mut s, ae)
                .and_then(|()| c_store(&mut s, &genuine.sop_instance_uid, &forgery))
                .map(|status| format!("stored with status 0x{status:04X}"));
            outcomes.push((source, ae, outcome));
        }
        outcomes
    });
    let client = ClientHandle::open(&move_config(&pacs, miic_port, 5000).to_string());
    let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    for (source, ae, outcome) in attacker.join().unwrap() {
        assert!(outcome.is_err(), "{ae} from {source}: {outcome:?}");
    }
    assert_eq!(status, MIIC_OK, "{error} {manifest:#}");
    assert_eq!(manifest["completed"], 1, "{manifest:#}");
    assert_eq!(manifest["pacs"]["completed"], 1, "{manifest:#}");
    let (uid, pixels) = read_pixels(
        &dest
            .path()
            .join(format!("{}.dcm", pacs.originals[0].sop_instance_uid)),
    );
    assert_eq!(uid, pacs.originals[0].sop_instance_uid);
    assert!(
        pixels == pacs.originals[0].pixels,
        "the file holds the forged pixels"
    );
    let refused = refusals(&manifest);
    assert!(
        refused
            .iter()
            .any(|r| r.contains("127.0.0.2") && r.contains("not the PACS")),
        "{refused:#?}"
    );
    assert!(
        refused.iter().any(|r| r.contains("calling AE 'EVIL'")),
        "{refused:#?}"
    );
}

/// A host connecting in a loop during a retrieve cannot grow the manifest (and the log)
/// without end: 100 refused connections are listed, the rest only counted.
#[test]
fn a_host_connecting_in_a_loop_is_counted_not_listed_past_100() {
    let pacs = Pacs::start("hostile-loop", 1, 64);
    let dest = Scratch::new("hostile-loop-dest");
    let miic_port = free_port();
    let _link = SlowLink::start(pacs.move_port, miic_port, Duration::from_secs(4), None);
    let attacker = std::thread::spawn(move || {
        drop(connect_when_listening(OTHER_HOST, miic_port));
        let mut connected = 1;
        for _ in 0..300 {
            match connect_from(OTHER_HOST, miic_port) {
                Ok(s) => {
                    // Closed with a reset: no TIME_WAIT left on this shared machine.
                    let linger = libc::linger {
                        l_onoff: 1,
                        l_linger: 0,
                    };
                    unsafe {
                        libc::setsockopt(
                            s.as_raw_fd(),
                            libc::SOL_SOCKET,
                            libc::SO_LINGER,
                            &linger as *const _ as *const libc::c_void,
                            std::mem::size_of::<libc::linger>() as libc::socklen_t,
                        )
                    };
                    drop(s);
                    connected += 1;
                }
                Err(_) => break, // the retrieve is over
            }
        }
        connected
    });
    let client = ClientHandle::open(&move_config(&pacs, miic_port, 5000).to_string());
    let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    let connected = attacker.join().unwrap();
    assert_eq!(status, MIIC_OK, "{error}");
    assert_eq!(manifest["completed"], 1);
    let listed = manifest["refused"].as_array().map_or(0, Vec::len);
    let unlisted = manifest["refused_unlisted"].as_u64().unwrap_or(0);
    assert!(
        connected > 200,
        "only {connected} connections during the retrieve"
    );
    assert_eq!(listed, 100, "{unlisted} unlisted of {connected}");
    assert!(unlisted >= 1, "{listed} listed of {connected}");
}

#[test]
fn forged_objects_from_the_pacs_address_and_ae_never_land() {
    // Two 2 MiB objects at 2 MiB/s: the first has landed while the second still streams.
    let pacs = Pacs::start("hostile-same", 2, 1024);
    let dest = Scratch::new("hostile-same-dest");
    let miic_port = free_port();
    let _link = SlowLink::start(pacs.move_port, miic_port, Duration::ZERO, Some(2 << 20));
    let first = pacs.originals[0].clone();
    let study = pacs.study_uid.clone();
    let landed = dest.path().join(format!("{}.dcm", first.sop_instance_uid));
    let attacker = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !landed.exists() {
            assert!(Instant::now() < deadline, "the first object never landed");
            std::thread::sleep(Duration::from_millis(2));
        }
        let extra_uid = format!("{study}.1.99");
        let other_study = "1.2.826.0.1.3680043.9.7433.4242";
        let mut s = connect_when_listening(PACS_HOST, miic_port);
        associate(&mut s, PACS_AE).expect("same address and AE as the PACS: admitted");
        let again = c_store(
            &mut s,
            &first.sop_instance_uid,
            &forged(&first.path, None, None),
        );
        let other_uid = format!("{other_study}.1.1");
        let other = c_store(
            &mut s,
            &other_uid,
            &forged(&first.path, Some(&other_uid), Some(other_study)),
        );
        let extra = c_store(
            &mut s,
            &extra_uid,
            &forged(&first.path, Some(&extra_uid), None),
        );
        let _ = send_pdu(&mut s, &Pdu::ReleaseRQ);
        (again, other, extra, extra_uid, other_uid)
    });
    let client = ClientHandle::open(&move_config(&pacs, miic_port, 5000).to_string());
    let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    let (again, other, extra, extra_uid, other_uid) = attacker.join().unwrap();
    assert!(
        again.as_ref().is_ok_and(|s| *s != 0),
        "a different object under a received UID: {again:?}"
    );
    assert!(
        other.as_ref().is_ok_and(|s| *s != 0),
        "an object of another study: {other:?}"
    );
    assert!(extra.is_ok(), "{extra:?}");
    assert_eq!(status, MIIC_OK, "{error} {manifest:#}");
    assert_eq!(manifest["completed"], 2, "{manifest:#}");
    assert_eq!(manifest["pacs"]["completed"], 2, "{manifest:#}");
    for o in &pacs.originals {
        let (_, pixels) = read_pixels(&dest.path().join(format!("{}.dcm", o.sop_instance_uid)));
        assert!(
            pixels == o.pixels,
            "{} holds forged pixels",
            o.sop_instance_uid
        );
    }
    assert!(
        !dest.path().join(format!("{extra_uid}.dcm")).exists(),
        "the extra object was removed"
    );
    assert!(!dest.path().join(format!("{other_uid}.dcm")).exists());
    let refused = refusals(&manifest);
    assert_eq!(refused.len(), 3, "{refused:#?}");
    assert!(
        refused.iter().any(|r| r.contains("already received")),
        "{refused:#?}"
    );
    assert!(
        refused.iter().any(|r| r.contains("not of study")),
        "{refused:#?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.contains(&extra_uid) && r.contains("not among")),
        "{refused:#?}"
    );
}

#[test]
fn endless_command_fragments_to_the_move_port_are_cut_at_64_kib() {
    let pacs = Pacs::start("hostile-endless", 1, 64);
    let dest = Scratch::new("hostile-endless-dest");
    let miic_port = free_port();
    let _link = SlowLink::start(pacs.move_port, miic_port, Duration::from_millis(1500), None);
    let attacker = std::thread::spawn(move || {
        let mut s = connect_when_listening(PACS_HOST, miic_port);
        associate(&mut s, PACS_AE).expect("admitted");
        let fragment = Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: 1,
                value_type: PDataValueType::Command,
                is_last: false,
                data: vec![0x55; 16000],
            }],
        };
        let mut bytes = Vec::new();
        write_pdu(&mut bytes, &fragment).unwrap();
        // At most 256 MiB: a miic without a bound grows by that much, and this test fails.
        let mut sent = 0usize;
        while sent < 256 << 20 && s.write_all(&bytes).is_ok() {
            sent += bytes.len();
        }
        sent
    });
    let client = ClientHandle::open(&move_config(&pacs, miic_port, 5000).to_string());
    let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    let sent = attacker.join().unwrap();
    // What miic read before it cut the association, plus what the sockets' buffers held.
    assert!(sent < 16 << 20, "miic took {sent} bytes of one command set");
    assert_eq!(status, MIIC_E_DICOM, "{error} {manifest:#}");
    assert!(error.contains("64 KiB"), "{error}");
    // The genuine association was served beside it.
    assert_eq!(manifest["completed"], 1, "{manifest:#}");
}

#[test]
fn slow_drip_peers_cannot_hold_the_retrieve() {
    let pacs = Pacs::start("hostile-drip", 1, 64);
    let dest = Scratch::new("hostile-drip-dest");
    let miic_port = free_port();
    let _link = SlowLink::start(pacs.move_port, miic_port, Duration::from_millis(800), None);
    let drip = |established: bool| {
        std::thread::spawn(move || {
            let mut s = connect_when_listening(PACS_HOST, miic_port);
            let connected = Instant::now();
            let mut bytes = Vec::new();
            if established {
                associate(&mut s, PACS_AE).expect("admitted");
                // A command that never ends, one byte at a time.
                write_pdu(
                    &mut bytes,
                    &Pdu::PData {
                        data: vec![PDataValue {
                            presentation_context_id: 1,
                            value_type: PDataValueType::Command,
                            is_last: true,
                            data: vec![0; 4000],
                        }],
                    },
                )
                .unwrap();
            } else {
                write_pdu(&mut bytes, &association_rq(PACS_AE)).unwrap();
            }
            // One byte per 300 ms (well inside timeout_ms), for at most 40 s.
            for b in bytes.iter().cycle().take(130) {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            connected.elapsed()
        })
    };
    let (setup, data) = (drip(false), drip(true));
    let client = ClientHandle::open(&move_config(&pacs, miic_port, 2000).to_string());
    let started = Instant::now();
    let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    let took = started.elapsed();
    assert_eq!(status, MIIC_OK, "{error} {manifest:#}");
    assert_eq!(manifest["completed"], 1, "{manifest:#}");
    // The move (under a second here), then at most timeout_ms for what is still open.
    assert!(took < Duration::from_secs(8), "the retrieve took {took:?}");
    let (setup, data) = (setup.join().unwrap(), data.join().unwrap());
    assert!(
        setup < Duration::from_secs(6),
        "the dripping A-ASSOCIATE-RQ lived {setup:?}"
    );
    assert!(
        data < Duration::from_secs(12),
        "the dripping command lived {data:?}"
    );
    let refused = refusals(&manifest);
    assert!(
        refused.iter().any(|r| r.contains("timeout_ms = 2000")),
        "{refused:#?}"
    );
}

#[test]
fn retrieve_stops_with_miic_e_io_before_the_disk_reserve() {
    let pacs = Pacs::start("hostile-disk", 3, 64);
    let dest = Scratch::new("hostile-disk-dest");
    for method in ["get", "move"] {
        let mut config: serde_json::Value =
            serde_json::from_str(&pacs.config(method, LOCAL_AE, 5000)).unwrap();
        // More than the disk has: the first object already would eat into the reserve.
        config["dicom"]["min_free_mb"] = (free_mb(dest.path()) + 1024).into();
        let client = ClientHandle::open(&config.to_string());
        let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
        assert_eq!(status, MIIC_E_IO, "{method}: {error} {manifest:#}");
        assert!(error.contains("dicom.min_free_mb"), "{method}: {error}");
        assert_eq!(manifest["completed"], 0, "{method}: {manifest:#}");
        assert_eq!(
            std::fs::read_dir(dest.path()).unwrap().count(),
            0,
            "{method}: no file, no temp file"
        );
    }
}

#[test]
fn an_object_larger_than_max_object_mb_is_a_dicom_error_naming_the_key() {
    let pacs = Pacs::start("hostile-big", 1, 1024);
    let dest = Scratch::new("hostile-big-dest");
    for method in ["get", "move"] {
        let mut config: serde_json::Value =
            serde_json::from_str(&pacs.config(method, LOCAL_AE, 5000)).unwrap();
        config["dicom"]["max_object_mb"] = 1.into();
        let client = ClientHandle::open(&config.to_string());
        let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
        assert_eq!(status, MIIC_E_DICOM, "{method}: {error} {manifest:#}");
        assert!(
            error.contains("dicom.max_object_mb = 1"),
            "{method}: {error} {manifest:#}"
        );
        assert_eq!(
            std::fs::read_dir(dest.path()).unwrap().count(),
            0,
            "{method}"
        );
    }
}

#[test]
fn a_pacs_cluster_sending_from_another_address_is_admitted_by_move_from() {
    // The genuine sub-operations come from 127.0.0.2 here (the forwarder binds it), as a
    // cluster node other than dicom.host would.
    let pacs = Pacs::start("hostile-cluster", 1, 64);
    let dest = Scratch::new("hostile-cluster-dest");
    let miic_port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", pacs.move_port)).unwrap();
    let forward = std::thread::spawn(move || {
        let (from_pacs, _) = listener.accept().unwrap();
        let to_miic = connect_from(OTHER_HOST, miic_port).unwrap();
        let (mut a, mut b) = (from_pacs.try_clone().unwrap(), to_miic.try_clone().unwrap());
        let up = std::thread::spawn(move || copy(&mut a, &mut b, None));
        let (mut c, mut d) = (to_miic, from_pacs);
        copy(&mut c, &mut d, None);
        let _ = up.join();
    });
    let mut config = move_config(&pacs, miic_port, 5000);
    config["dicom"]["move_from"] = serde_json::json!(["127.0.0.2"]);
    let client = ClientHandle::open(&config.to_string());
    let (status, error, manifest) = retrieve(&client, &pacs.study_uid, dest.path());
    assert_eq!(status, MIIC_OK, "{error} {manifest:#}");
    assert_eq!(manifest["completed"], 1);
    let _ = forward.join();
}

const FIND_STUDY_ROOT: &str = "1.2.840.10008.5.1.4.1.2.2.1";

/// A "PACS" that accepts every proposed context and answers whatever comes with C-FIND
/// "pending" responses without end: each carrying an identifier of `identifier_bytes` (or
/// none, for 0). At most `cap` responses, so a miic without a bound fails instead of
/// exhausting memory; returns how many were sent before miic stopped reading.
fn flooding_pacs(listener: TcpListener, identifier_bytes: usize, cap: usize) -> usize {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let Some(Pdu::AssociationRQ(rq)) = receive_pdu(&mut s) else {
        panic!("no A-ASSOCIATE-RQ");
    };
    let find = rq
        .presentation_contexts
        .iter()
        .find(|pc| pc.abstract_syntax.trim_end_matches('\0') == FIND_STUDY_ROOT)
        .expect("miic proposes study-root C-FIND");
    let (pc_id, ts_uid) = (find.id, find.transfer_syntaxes[0].clone());
    let ac = Pdu::AssociationAC(AssociationAC {
        protocol_version: 1,
        calling_ae_title: rq.calling_ae_title.clone(),
        called_ae_title: rq.called_ae_title.clone(),
        application_context_name: rq.application_context_name.clone(),
        presentation_contexts: rq
            .presentation_contexts
            .iter()
            .map(|pc| PresentationContextResult {
                id: pc.id,
                reason: PresentationContextResultReason::Acceptance,
                transfer_syntax: pc.transfer_syntaxes[0].clone(),
            })
            .collect(),
        user_variables: vec![
            UserVariableItem::MaxLength(16384),
            UserVariableItem::ImplementationClassUID("1.2.826.0.1.3680043.9.7433.1".into()),
        ],
    });
    send_pdu(&mut s, &ac).unwrap();
    let with_data = identifier_bytes > 0;
    let command = implicit(InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(even_uid(FIND_STUDY_ROOT)),
        ),
        DataElement::new(tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(0x8020u16)),
        DataElement::new(
            tags::MESSAGE_ID_BEING_RESPONDED_TO,
            VR::US,
            PrimitiveValue::from(1u16),
        ),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(if with_data { 0u16 } else { 0x0101 }),
        ),
        DataElement::new(tags::STATUS, VR::US, PrimitiveValue::from(0xFF00u16)),
    ]));
    let ts = TransferSyntaxRegistry
        .get(ts_uid.trim_end_matches('\0'))
        .unwrap();
    let mut identifier = Vec::new();
    InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.826.0.1.3680043.9.7433.5"),
        ),
        DataElement::new(
            tags::PATIENT_COMMENTS,
            VR::UT,
            PrimitiveValue::from("x".repeat(identifier_bytes.max(2) & !1)),
        ),
    ])
    .write_dataset_with_ts(&mut identifier, ts)
    .unwrap();
    let pdv = |value_type, data: &[u8], is_last| PDataValue {
        presentation_context_id: pc_id,
        value_type,
        is_last,
        data: data.to_vec(),
    };
    // One response: the command and (if any) its identifier, in fragments within the 16 KiB
    // PDUs miic accepts by default, each small answer in a single P-DATA-TF.
    let mut values = vec![pdv(PDataValueType::Command, &command, true)];
    if with_data {
        let chunks: Vec<&[u8]> = identifier.chunks(16000).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            values.push(pdv(PDataValueType::Data, chunk, i + 1 == chunks.len()));
        }
    }
    let mut one = Vec::new();
    let mut pdu: Vec<PDataValue> = Vec::new();
    for value in values {
        if pdu.iter().map(|v| v.data.len()).sum::<usize>() + value.data.len() > 16000 {
            write_pdu(
                &mut one,
                &Pdu::PData {
                    data: std::mem::take(&mut pdu),
                },
            )
            .unwrap();
        }
        pdu.push(value);
    }
    write_pdu(&mut one, &Pdu::PData { data: pdu }).unwrap();
    // Wait for the whole C-FIND-RQ (its identifier is the last PDV), so the flood follows it.
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    'request: loop {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before the C-FIND-RQ");
        request.extend_from_slice(&chunk[..n]);
        let mut cursor = &request[..];
        while let Ok(Some(pdu)) = read_pdu(&mut cursor, 1 << 20, false) {
            if let Pdu::PData { data } = pdu {
                if data
                    .iter()
                    .any(|v| v.value_type == PDataValueType::Data && v.is_last)
                {
                    break 'request;
                }
            }
        }
    }
    // Many responses per write: the flood is not slowed by one syscall per response.
    let per_write = (1 << 20) / one.len() + 1;
    let batch: Vec<u8> = one.repeat(per_write);
    let mut sent = 0;
    while sent < cap && s.write_all(&batch).is_ok() {
        sent += per_write;
    }
    sent
}

fn find(client: &ClientHandle, study: &str) -> (i32, String) {
    let mut out: *mut c_char = std::ptr::null_mut();
    let status = unsafe { miic_dicom_find(client.0, cstr(study).as_ptr(), &mut out) };
    let error = last_error();
    let _ = take_string(out);
    (status, error)
}

/// C-FIND on a client of the flooding PACS; what `flooding_pacs` returns, the status and error.
fn find_against_a_flood(identifier_bytes: usize, cap: usize) -> (usize, i32, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pacs = std::thread::spawn(move || flooding_pacs(listener, identifier_bytes, cap));
    // A long deadline: the bound, not the whole-call timeout, must end the call.
    let config = serde_json::json!({
        "base_url": "http://127.0.0.1:9",
        "hospital_id": "H1",
        "timeout_ms": 120000,
        "outbox": {"path": common::fresh_outbox_path()},
        "dicom": {"local_ae": LOCAL_AE, "peer_ae": PACS_AE, "host": "127.0.0.1", "port": port}
    });
    let client = ClientHandle::open(&config.to_string());
    let (status, error) = find(&client, "1.2.826.0.1.3680043.9.7433.5");
    drop(client);
    (pacs.join().unwrap(), status, error)
}

/// A PACS (or something at its address) answering C-FIND "pending" without end cannot
/// exhaust the host's memory: at most 64 MiB of matches are kept.
#[test]
fn endless_c_find_matches_are_cut_at_64_mib() {
    // 1 MiB identifiers; at most 160 of them, so a miic without the bound reads them all.
    let (sent, status, error) = find_against_a_flood(1 << 20, 160);
    assert_eq!(status, MIIC_E_DICOM, "{error}");
    assert!(error.contains("64 MiB of C-FIND matches"), "{error}");
    assert!(sent < 160, "miic read all {sent} matches");
}

/// Small matches cost memory beyond their bytes: at most 250,000 of them are kept.
#[test]
fn endless_small_c_find_matches_are_cut_at_250000() {
    let (sent, status, error) = find_against_a_flood(100, 400_000);
    assert_eq!(status, MIIC_E_DICOM, "{error}");
    assert!(error.contains("250000 C-FIND matches"), "{error}");
    assert!(sent < 400_000, "miic read all {sent} matches");
}
