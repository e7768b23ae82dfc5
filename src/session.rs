//! The logged-in doctor of a client (`miic_login` … `miic_logout`), which later calls fill in
//! (the reminder's doctor fields, the deletion's operator). The ID-card number is kept only
//! encrypted.
//!
//! Uses: nothing.

use std::sync::Mutex;

/// The logged-in doctor as kept by the client.
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

/// Who is logged in on a client, if anyone.
#[derive(Debug, Default)]
pub struct Session {
    doctor: Mutex<Option<Doctor>>,
}

impl Session {
    pub fn doctor(&self) -> Option<Doctor> {
        self.doctor.lock().ok().and_then(|d| d.clone())
    }

    pub fn set_doctor(&self, doctor: Option<Doctor>) {
        if let Ok(mut d) = self.doctor.lock() {
            *d = doctor;
        }
    }
}
