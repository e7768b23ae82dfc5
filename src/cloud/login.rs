//! 4.4.3.1 登录接口: the doctor logs in to (type 1) or out of (type 2) the remote-viewing plugin,
//! by HTTP GET (method 3), by launching the plugin exe (method 1), or as a `WYHT://` URL (method 2).

use crate::client::Client;
use crate::cloud::{dict, encode};
use crate::config::LoginVia;
use crate::error::{Error, Result};
use crate::http::CloudReply;
use crate::log::mask_name;
use crate::params::Params;

/// The logged-in doctor as kept by the client. The ID-card number is kept only encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doctor {
    pub his_user_id: String,
    pub doctor_name: String,
    pub department: String,
    pub department_code: String,
    pub doctor_sex: String,
    pub doctor_type: String,
    pub doctor_code: String,
    pub doctor_id_cipher: String,
    pub phone_number: Option<String>,
}

impl Doctor {
    /// Validate the params and encrypt the ID number.
    pub fn from_params(client: &Client, params: &Params) -> Result<Doctor> {
        let enc = client.encoding();
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
            doctor_id_cipher: client.encrypt(&req("doctorIdCardNo")?)?,
            phone_number: params.get_nonempty("phoneNumber", enc)?,
        };
        Ok(doctor)
    }

    /// The parameter string of the spec's template, values `$`-encoded, no spaces.
    pub fn query(&self, login_type: u8, hospital_id: &str) -> String {
        let mut pairs = vec![
            ("hisUserId", self.his_user_id.clone()),
            ("type", login_type.to_string()),
            ("doctorName", self.doctor_name.clone()),
            ("department", self.department.clone()),
            ("departmentCode", self.department_code.clone()),
            ("doctorSex", self.doctor_sex.clone()),
            ("doctorIdCardNo", self.doctor_id_cipher.clone()),
            ("doctorCode", self.doctor_code.clone()),
            ("doctorType", self.doctor_type.clone()),
            ("hospitalId", hospital_id.to_owned()),
        ];
        if let Some(phone) = &self.phone_number {
            pairs.push(("phoneNumber", phone.clone()));
        }
        encode::dollar_query(&pairs)
    }
}

/// Log in: validate, keep the doctor in the client, then tell the plugin.
///
/// The doctor is kept even when the plugin cannot be reached, so reminders keep working
/// while the front-end machine is down; the status says whether the login itself went through.
pub fn login(client: &Client, params: &Params) -> Result<()> {
    let doctor = Doctor::from_params(client, params)?;
    client.set_doctor(Some(doctor.clone()));
    log::info!(
        "login of hisUserId={} ({}) via {:?}",
        doctor.his_user_id,
        mask_name(&doctor.doctor_name),
        client.config.plugin.login_via
    );
    send(client, &doctor, 1)
}

/// Log out the kept doctor; `MIIC_E_STATE` when nobody is logged in.
pub fn logout(client: &Client) -> Result<()> {
    let doctor = client
        .doctor()
        .ok_or_else(|| Error::state("no doctor is logged in (call miic_login first)"))?;
    let result = send(client, &doctor, 2);
    if result.is_ok() {
        client.set_doctor(None);
        log::info!("logout of hisUserId={}", doctor.his_user_id);
    }
    result
}

fn send(client: &Client, doctor: &Doctor, login_type: u8) -> Result<()> {
    let query = doctor.query(login_type, &client.config.hospital_id);
    match client.config.plugin.login_via {
        LoginVia::Http => {
            let what = if login_type == 1 { "login" } else { "logout" };
            let url = format!("{}?{query}", client.config.url(&client.config.paths.login));
            let body = client.http.get(&url)?;
            CloudReply::parse(what, &body)?.into_success(what)?;
            Ok(())
        }
        LoginVia::Exe => launch_plugin(client, &query),
    }
}

/// Method 1: start the plugin with the parameter string as its single argument.
fn launch_plugin(client: &Client, query: &str) -> Result<()> {
    let exe = client
        .config
        .plugin
        .exe
        .as_ref()
        .ok_or_else(|| Error::config("config key 'plugin.exe' is not set"))?;
    client.reap_children();
    let child = std::process::Command::new(exe)
        .arg(query)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::io(format!("cannot start plugin '{}': {e}", exe.display())))?;
    if let Ok(mut children) = client.children.lock() {
        children.push(child);
    }
    Ok(())
}

/// Method 2: `WYHT://hisUserId=…&type=1&…` for browser-based hosts. `type` defaults to 1.
pub fn plugin_url(client: &Client, params: &Params) -> Result<String> {
    let login_type = match params.get_nonempty("type", client.encoding())?.as_deref() {
        None | Some("1") => 1,
        Some("2") => 2,
        Some(other) => {
            return Err(Error::argument(format!(
                "'type' must be 1 (login) or 2 (logout), got '{other}'"
            )))
        }
    };
    let doctor = Doctor::from_params(client, params)?;
    Ok(format!(
        "WYHT://{}",
        doctor.query(login_type, &client.config.hospital_id)
    ))
}
