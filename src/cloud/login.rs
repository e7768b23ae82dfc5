//! 4.4.3.1 登录接口: the doctor logs in to (type 1) or out of (type 2) the remote-viewing plugin,
//! by HTTP GET (method 3), by launching the plugin exe (method 1), or as a `WYHT://` URL (method 2).
//!
//! Uses: context, session, cloud::{dict, encode}, config, http (reply envelope), params, log,
//! error.

use crate::cloud::{dict, encode};
use crate::config::LoginVia;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::log::mask_name;
use crate::params::Params;
use crate::session::{Doctor, Session};
use std::process::Child;
use std::sync::Mutex;

/// Plugin processes launched for `login_via = "exe"`: reaped, never killed.
#[derive(Debug, Default)]
pub struct Plugins {
    children: Mutex<Vec<Child>>,
}

impl Plugins {
    /// Forget plugin processes that have exited (so none stays a zombie).
    pub fn reap(&self) {
        if let Ok(mut children) = self.children.lock() {
            children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        }
    }

    fn keep(&self, child: Child) {
        if let Ok(mut children) = self.children.lock() {
            children.push(child);
        }
    }
}

/// Validate the params and encrypt the ID number.
pub fn doctor_from_params(ctx: &Context, params: &Params) -> Result<Doctor> {
    let enc = ctx.encoding();
    let req = |key: &str| params.require(key, enc);
    let doctor_sex = req("doctorSex")?;
    dict::check("doctorSex", &doctor_sex, dict::SEX)?;
    let doctor_type = req("doctorType")?;
    dict::check("doctorType", &doctor_type, dict::DOCTOR_TYPE)?;
    let doctor = Doctor {
        his_user_id: req("hisUserId")?,
        doctor_name: req("doctorName")?,
        department: req("department")?,
        department_code: req("departmentCode")?,
        doctor_sex,
        doctor_type,
        doctor_code: req("doctorCode")?,
        doctor_id_cipher: ctx.encrypt(&req("doctorIdCardNo")?)?,
        phone_number: params.get_nonempty("phoneNumber", enc)?,
    };
    Ok(doctor)
}

/// The parameter string of the spec's template, values `$`-encoded, no spaces.
pub fn query(doctor: &Doctor, login_type: u8, hospital_id: &str) -> String {
    let mut pairs = vec![
        ("hisUserId", doctor.his_user_id.clone()),
        ("type", login_type.to_string()),
        ("doctorName", doctor.doctor_name.clone()),
        ("department", doctor.department.clone()),
        ("departmentCode", doctor.department_code.clone()),
        ("doctorSex", doctor.doctor_sex.clone()),
        ("doctorIdCardNo", doctor.doctor_id_cipher.clone()),
        ("doctorCode", doctor.doctor_code.clone()),
        ("doctorType", doctor.doctor_type.clone()),
        ("hospitalId", hospital_id.to_owned()),
    ];
    if let Some(phone) = &doctor.phone_number {
        pairs.push(("phoneNumber", phone.clone()));
    }
    encode::dollar_query(&pairs)
}

/// Log in: validate, keep the doctor in the session, then tell the plugin.
///
/// The doctor is kept even when the plugin cannot be reached, so reminders keep working
/// while the front-end machine is down; the status says whether the login itself went through.
pub fn login(ctx: &Context, session: &Session, plugins: &Plugins, params: &Params) -> Result<()> {
    let doctor = doctor_from_params(ctx, params)?;
    session.set_doctor(Some(doctor.clone()));
    log::info!(
        "login of hisUserId={} ({}) via {:?}",
        doctor.his_user_id,
        mask_name(&doctor.doctor_name),
        ctx.config.plugin.login_via
    );
    send(ctx, plugins, &doctor, 1)
}

/// Log out the session's doctor; `MIIC_E_STATE` when nobody is logged in.
pub fn logout(ctx: &Context, session: &Session, plugins: &Plugins) -> Result<()> {
    let doctor = session
        .doctor()
        .ok_or_else(|| Error::state("no doctor is logged in (call miic_login first)"))?;
    let result = send(ctx, plugins, &doctor, 2);
    if result.is_ok() {
        session.set_doctor(None);
        log::info!("logout of hisUserId={}", doctor.his_user_id);
    }
    result
}

/// Log out a doctor given by their fields rather than the session: what a fresh process does
/// (a command-line tool, a script) for a doctor logged in elsewhere. Exactly the type=2 request
/// goes out, the way the config says; the plugin sees a logout and nothing else.
pub fn logout_doctor(ctx: &Context, plugins: &Plugins, params: &Params) -> Result<()> {
    let doctor = doctor_from_params(ctx, params)?;
    send(ctx, plugins, &doctor, 2)?;
    log::info!("logout of hisUserId={}", doctor.his_user_id);
    Ok(())
}

fn send(ctx: &Context, plugins: &Plugins, doctor: &Doctor, login_type: u8) -> Result<()> {
    let query = query(doctor, login_type, &ctx.config.hospital_id);
    match ctx.config.plugin.login_via {
        LoginVia::Http => {
            let what = if login_type == 1 { "login" } else { "logout" };
            let url = format!("{}?{query}", ctx.config.url(&ctx.config.paths.login));
            ctx.http.get(&url)?.envelope(what)?.into_success(what)?;
            Ok(())
        }
        LoginVia::Exe => launch_plugin(ctx, plugins, &query),
    }
}

/// Method 1: start the plugin with the parameter string as its single argument.
fn launch_plugin(ctx: &Context, plugins: &Plugins, query: &str) -> Result<()> {
    let exe = ctx
        .config
        .plugin
        .exe
        .as_ref()
        .ok_or_else(|| Error::config("config key 'plugin.exe' is not set"))?;
    plugins.reap();
    let child = std::process::Command::new(exe)
        .arg(query)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::io(format!("cannot start plugin '{}': {e}", exe.display())))?;
    plugins.keep(child);
    Ok(())
}

/// Method 2: `WYHT://hisUserId=…&type=1&…` for browser-based hosts. `type` defaults to 1.
pub fn plugin_url(ctx: &Context, params: &Params) -> Result<String> {
    let login_type = match params.get_nonempty("type", ctx.encoding())?.as_deref() {
        None | Some("1") => 1,
        Some("2") => 2,
        Some(other) => {
            return Err(Error::argument(format!(
                "'type' must be 1 (login) or 2 (logout), got '{other}'"
            )))
        }
    };
    let doctor = doctor_from_params(ctx, params)?;
    Ok(format!(
        "WYHT://{}",
        query(&doctor, login_type, &ctx.config.hospital_id)
    ))
}
