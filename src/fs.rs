//! Files that land whole: written under a temporary name in their final folder, then renamed into
//! place, so a reader (a report tool, a viewer, a monitoring script) never sees half a file and a
//! crash leaves nothing under the final name. The one atomic-write helper of miic and miic-cli.
//! And the free space a download must leave on its disk.
//!
//! Uses: std only (fs4 for the free space).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary file beside its final path; removed on drop unless [`TempFile::land`] renamed it.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    final_path: PathBuf,
    landed: bool,
}

impl TempFile {
    /// `.<name>.part` beside `final_path`: one fixed name per file, for writers that own the
    /// folder (a retrieve or download, which resumes over a leftover part).
    pub fn part(final_path: &Path) -> TempFile {
        TempFile::named(final_path, OsString::from(".part"))
    }

    /// `.<name>.<pid>-<n>.tmp` beside `final_path`: unique, for writers that may race on one path.
    pub fn unique(final_path: &Path) -> TempFile {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let serial = NEXT.fetch_add(1, Ordering::Relaxed);
        TempFile::named(
            final_path,
            OsString::from(format!(".{}-{serial}.tmp", std::process::id())),
        )
    }

    fn named(final_path: &Path, suffix: OsString) -> TempFile {
        let mut name = OsString::from(".");
        name.push(final_path.file_name().unwrap_or_default());
        name.push(suffix);
        TempFile {
            path: final_path.with_file_name(name),
            final_path: final_path.to_owned(),
            landed: false,
        }
    }

    /// Where the data goes until it lands.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rename the finished file to its final path, replacing an older copy.
    pub fn land(mut self) -> io::Result<()> {
        std::fs::rename(&self.path, &self.final_path)?;
        self.landed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.landed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Write `bytes` to `path` whole: a unique temporary file beside it, synced to disk, then renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = TempFile::unique(path);
    let mut file = std::fs::File::create(temp.path())?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    temp.land()
}

/// The free space a download must leave on the disk it writes to: the host's and the
/// operating system's own files need room too, and a full disk breaks far more than one study.
#[derive(Debug, Clone)]
pub struct DiskReserve {
    pub dir: PathBuf,
    pub keep: u64,
}

impl DiskReserve {
    /// `Err(why)` when the disk of `dir` has less than `keep` bytes available to this user
    /// (a disk whose free space cannot be read is not refused).
    pub fn check(&self) -> std::result::Result<(), String> {
        match fs4::available_space(&self.dir) {
            Ok(free) if free < self.keep => Err(format!(
                "only {} MiB are free on the disk of '{}'",
                free >> 20,
                self.dir.display()
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_file_replaces_the_old_one_whole_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("miic-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("status.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // A part that never lands is removed.
        let part = TempFile::part(&dir.join("x.dcm"));
        assert_eq!(part.path(), dir.join(".x.dcm.part"));
        std::fs::write(part.path(), b"half").unwrap();
        drop(part);
        assert!(!dir.join(".x.dcm.part").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
