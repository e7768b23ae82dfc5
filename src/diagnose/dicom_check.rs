//! The DICOM checks, when `[dicom]` is configured: a C-ECHO to the PACS with the AE titles in
//! use (its round-trip time, or why it failed), and that `move_port` can be opened for the
//! PACS's C-STORE sub-operations of a C-MOVE (bound exactly as a C-MOVE retrieval binds it, then
//! released at once).
//!
//! Uses: config, dicom::scu, error, diagnose::report.

use super::report::{ms, text, Check};
use crate::config::{Config, RetrieveMethod};
use crate::dicom::scu::{echo, Peer};
use crate::error::Status;
use std::io::ErrorKind;
use std::net::TcpListener;

fn configured(config: &Config) -> bool {
    let d = &config.dicom;
    d.local_ae.is_some()
        || d.peer_ae.is_some()
        || d.host.is_some()
        || d.port.is_some()
        || d.move_port.is_some()
}

fn not_configured(check: Check) -> Check {
    check.skipped(text(
        "未配置 [dicom]：不通过 DICOM 取影像",
        "no [dicom] section: images are not fetched over DICOM",
    ))
}

/// The `dicom_echo` check.
pub fn echo_check(config: &Config) -> Check {
    let mut check = Check::new("dicom_echo");
    if !configured(config) {
        return not_configured(check);
    }
    let d = &config.dicom;
    check
        .measure("local_ae", d.local_ae.clone())
        .measure("peer_ae", d.peer_ae.clone())
        .measure("host", d.host.clone())
        .measure("port", d.port)
        .measure(
            "retrieve",
            match d.retrieve {
                RetrieveMethod::Get => "get",
                RetrieveMethod::Move => "move",
            },
        );
    let peer = match Peer::from_config(config) {
        Ok(peer) => peer,
        Err(e) => {
            return check.failed(
                text(format!("[dicom] 不完整：{}", e.message), e.message.clone()),
                text(
                    "补全 [dicom]：local_ae（本工作站的 AE）、peer_ae（PACS 的 AE）、host 和 port（PACS 管理员登记的 DICOM 服务地址）。",
                    "Complete [dicom]: local_ae (this workstation's AE title), peer_ae (the PACS's), host and port (the DICOM service as the PACS administrator registered it).",
                ),
            )
        }
    };
    let titles = format!("{} → {}", peer.local_ae, peer.name());
    match echo(&peer) {
        Ok(rtt) => {
            check.measure("rtt_ms", ms(rtt));
            check.ok(text(
                format!("C-ECHO {titles} 应答，往返 {} ms", rtt.as_millis()),
                format!("C-ECHO {titles} answered in {} ms", rtt.as_millis()),
            ))
        }
        Err(e) => {
            check.measure("error", e.message.clone());
            let fix = match e.status {
                Status::Network => text(
                    "PACS 的 DICOM 服务没有在 dicom.host:dicom.port 监听：启动该服务（miic-cli watch 可自动重启），或向 PACS 管理员核对 host 和 port。",
                    "The PACS's DICOM service does not listen at dicom.host:dicom.port: start it (miic-cli watch can restart it), or check host and port with the PACS administrator.",
                ),
                Status::Timeout => text(
                    "PACS 在 timeout_ms 内没有应答：DICOM 服务挂起或防火墙丢弃了该端口的包；重启该服务或放行端口。",
                    "The PACS did not answer within timeout_ms: its DICOM service hangs or a firewall drops that port; restart the service or open the port.",
                ),
                _ => text(
                    "PACS 拒绝了关联：请 PACS 管理员登记 AE 名称 local_ae（连同本工作站 IP 和 move_port），并确认 peer_ae 就是 PACS 自己的 AE 名称。",
                    "The PACS refused the association: ask its administrator to register the AE title local_ae (with this workstation's IP and move_port), and check that peer_ae is the PACS's own AE title.",
                ),
            };
            check.failed(
                text(
                    format!("C-ECHO {titles} 失败：{}", e.message),
                    format!("C-ECHO {titles} failed: {}", e.message),
                ),
                fix,
            )
        }
    }
}

/// The `dicom_move_port` check.
pub fn move_port_check(config: &Config) -> Check {
    let mut check = Check::new("dicom_move_port");
    if !configured(config) {
        return not_configured(check);
    }
    let d = &config.dicom;
    let Some(port) = d.move_port else {
        if d.retrieve == RetrieveMethod::Move {
            return check.failed(
                text(
                    "retrieve = \"move\" 但未设置 dicom.move_port",
                    "retrieve = \"move\" but dicom.move_port is not set",
                ),
                text(
                    "设置 dicom.move_port：PACS 发送 C-MOVE 影像的目标端口（在 PACS 上与 local_ae 一起登记）。",
                    "Set dicom.move_port to the port the PACS sends C-MOVE images to (registered on the PACS with local_ae).",
                ),
            );
        }
        return check.skipped(text(
            "使用 C-GET，不需要接收端口",
            "retrieval by C-GET: no port is opened",
        ));
    };
    check.measure("move_port", port);
    // As the C-MOVE retrieval's storage SCP binds it (dicom/retrieve.rs).
    match TcpListener::bind(("0.0.0.0", port)) {
        Ok(listener) => {
            drop(listener);
            check.ok(text(
                format!("端口 {port} 可以打开，用于接收 PACS 的 C-STORE"),
                format!("port {port} can be opened for the PACS's C-STORE"),
            ))
        }
        Err(e) => {
            check.measure("bind_error", e.to_string());
            let fix = if e.kind() == ErrorKind::PermissionDenied {
                text(
                    format!("打开端口 {port} 需要管理员权限：改用 1024 以上的端口，并在 PACS 上同步登记。"),
                    format!("Opening port {port} needs administrator rights: use a port above 1024, and register it on the PACS."),
                )
            } else {
                text(
                    format!("端口 {port} 已被其他程序占用（另一个 miic 取影像进程或 DICOM 接收程序）：关闭它（Windows：netstat -ano | findstr :{port} 找出进程），或换一个空闲端口并在 PACS 上为 local_ae 重新登记。"),
                    format!("Another program holds port {port} (another miic retrieval or a DICOM receiver): close it (Windows: netstat -ano | findstr :{port} shows which), or choose a free port and register it on the PACS for local_ae."),
                )
            };
            check.failed(
                text(
                    format!("无法打开端口 {port}：{e}"),
                    format!("port {port} cannot be opened: {e}"),
                ),
                fix,
            )
        }
    }
}
