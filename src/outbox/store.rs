//! The durable outbox of delete notifications (spec 4.5).
//!
//! A notification is committed to an SQLite file (WAL, fsync'ed: `synchronous = FULL`) before its first
//! send and leaves it only when the cloud answered code 200, or moves to the dead-letter table
//! when the cloud rejected it with code 400. Several clients and processes of one user may share
//! the file: an item is sent only under a lease taken in a `BEGIN IMMEDIATE` transaction, and per
//! accession number only the oldest item may be sent, so notifications go out in creation order.
//! A process killed mid-send leaves a lease that simply expires.
//!
//! Uses: error, log.

use crate::error::{sqlite_status, Error, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// File name inside the per-user application-data folder when `[outbox] path` is not set.
pub const DEFAULT_FILE: &str = "outbox.sqlite";
/// First retry delay; doubles per failed attempt up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);
const SCHEMA_VERSION: i64 = 1;
/// Writes are a few milliseconds; another process holding the lock longer than this is stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    accession_no TEXT    NOT NULL,
    patient_name TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_at  INTEGER NOT NULL,
    last_error   TEXT,
    lease_owner  TEXT,
    lease_until  INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_by_accession ON outbox (accession_no, id);
CREATE INDEX IF NOT EXISTS outbox_by_due ON outbox (next_try_at, id);
CREATE TABLE IF NOT EXISTS dead (
    id           INTEGER PRIMARY KEY,
    accession_no TEXT    NOT NULL,
    patient_name TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    failed_at    INTEGER NOT NULL,
    reason       TEXT    NOT NULL
);
";

/// Only the oldest item of an accession number may go out (creation order per accession).
const IS_HEAD: &str =
    "NOT EXISTS (SELECT 1 FROM outbox p WHERE p.accession_no = o.accession_no AND p.id < o.id)";

/// `<per-user app data>/miic/outbox.sqlite`: the XDG state folder (`~/.local/state`) on Linux,
/// `%LOCALAPPDATA%` on Windows (which has no state folder), Application Support on macOS.
pub fn default_path() -> Result<PathBuf> {
    user_data_dir()
        .map(|dir| dir.join("miic").join(DEFAULT_FILE))
        .ok_or_else(|| {
            Error::io(
                "no per-user application-data folder found for the outbox; set '[outbox] path'",
            )
        })
}

#[cfg(not(windows))]
fn user_data_dir() -> Option<PathBuf> {
    dirs::state_dir().or_else(dirs::data_local_dir)
}

/// `%LOCALAPPDATA%`, else `<profile>\AppData\Local` (where Vista and later keep it). Not the
/// known-folder API: that pulls `CoTaskMemFree` from combase.dll, which Windows 7 lacks, and
/// a DLL importing it does not load there.
#[cfg(windows)]
fn user_data_dir() -> Option<PathBuf> {
    std::env::var_os("LOCALAPPDATA")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::home_dir().map(|home| home.join("AppData").join("Local")))
}

/// Milliseconds since the Unix epoch (wall clock: the file outlives processes and reboots).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Delay before retry number `attempts + 1`: `BASE * 2^(attempts-1)` capped, then "equal
/// jitter" (a random point in its upper half), so retries of many workstations spread out
/// while each item's delays still never shrink.
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let full = BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_CAP);
    let half = full / 2;
    let r = getrandom::u64().unwrap_or(u64::MAX / 2);
    let span = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(r % (span + 1))
}

/// One notification taken from the outbox under this process's lease.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub accession_no: String,
    pub patient_name: String,
    /// The JSON body exactly as it will be posted.
    pub body: String,
    /// Failed attempts so far.
    pub attempts: u32,
}

impl Item {
    pub fn label(&self) -> String {
        format!(
            "#{} accessionNo={} patient={}",
            self.id,
            self.accession_no,
            crate::log::mask_name(&self.patient_name)
        )
    }
}

/// A pending notification as hospital IT sees it (`miic-cli outbox list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub id: i64,
    pub accession_no: String,
    pub patient_name: String,
    pub created_at: i64,
    pub attempts: u32,
    pub next_try_at: i64,
    pub last_error: Option<String>,
    /// Some process is sending it right now.
    pub in_flight: bool,
}

/// A notification the cloud rejected (code 400): not retried until an operator requeues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadRow {
    pub id: i64,
    pub accession_no: String,
    pub patient_name: String,
    pub created_at: i64,
    pub attempts: u32,
    pub failed_at: i64,
    pub reason: String,
}

/// Which item to claim.
#[derive(Debug, Clone, Copy)]
pub enum Pick<'a> {
    /// The earliest due item (the retry worker).
    Due,
    /// The first sendable item with an id above this one, due or not (flush sweeps).
    After(i64),
    /// The oldest item of this accession number, if its id is at most the given one.
    Accession(&'a str, i64),
}

/// The outbox file.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Written into leases: which process (and store) is sending an item.
    owner: String,
    /// WAL mode: only storing a notification must reach the disk (fsync); the bookkeeping
    /// after it may be lost to a power cut at worst, which means a resend, never a loss.
    wal: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open (creating folder and file as needed) and check the file. Every failure is
    /// `MIIC_E_IO` naming the file; the file is never removed or rewritten.
    pub fn open(path: &Path) -> Result<Store> {
        let fail = |what: &str, e: rusqlite::Error| {
            Error::new(
                sqlite_status(&e),
                format!("outbox '{}': {what}: {e}", path.display()),
            )
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::io(format!(
                    "outbox '{}': cannot create its folder: {e}",
                    path.display()
                ))
            })?;
        }
        if path.is_dir() {
            return Err(Error::io(format!(
                "outbox '{}' is a folder, not a file",
                path.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| fail("cannot open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| fail("cannot open", e))?;
        if conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(|e| fail("cannot open", e))?
        {
            return Err(Error::io(format!(
                "outbox '{}' is read-only",
                path.display()
            )));
        }
        // Switching a new file to WAL while another process creates it too can fail at once
        // with "database is locked" (SQLite skips the busy handler there): retry.
        let mode: String =
            retry_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)))
                .map_err(|e| fail("not a usable database", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some network shares cannot do WAL; the rollback journal is slower but as safe.
            log::warn!(
                "outbox '{}': journal mode is {mode}, not WAL",
                path.display()
            );
        }
        let wal = mode.eq_ignore_ascii_case("wal");
        conn.pragma_update(None, "synchronous", if wal { "NORMAL" } else { "FULL" })
            .map_err(|e| fail("cannot open", e))?;
        let check: String = retry_busy(|| conn.query_row("PRAGMA quick_check", [], |r| r.get(0)))
            .map_err(|e| fail("not a usable database", e))?;
        if check != "ok" {
            return Err(Error::io(format!(
                "outbox '{}' is damaged ({check}); keep it for support (its pending \
                 notifications are in it) and move it aside to start a new one",
                path.display()
            )));
        }
        let mut store = Store {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            owner: format!(
                "{}-{:016x}",
                std::process::id(),
                getrandom::u64().unwrap_or(0)
            ),
            wal,
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let conn = self
            .conn
            .get_mut()
            .map_err(|_| Error::internal("outbox lock poisoned"))?;
        retry_busy(|| set_up_schema(conn)).map_err(|e| match e {
            SetUp::Newer(version) => Error::io(format!(
                "outbox '{}' was written by a newer miic (schema {version}); use that version",
                path.display()
            )),
            SetUp::Sqlite(e) => Error::new(
                sqlite_status(&e),
                format!("outbox '{}': cannot set up: {e}", path.display()),
            ),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, what: &str, e: rusqlite::Error) -> Error {
        Error::new(
            sqlite_status(&e),
            format!("outbox '{}': {what}: {e}", self.path.display()),
        )
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        // A panic while holding the lock cannot leave SQLite half-written: keep going.
        Ok(self.conn.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Commit a notification durably (fsync) and return its id. When it is the only pending
    /// item of its accession number, it comes back already leased to the caller for `hold`, so
    /// the caller's own send costs no second transaction; workers leave it alone that long
    /// either way (a flush does not wait).
    pub fn enqueue(
        &self,
        accession_no: &str,
        patient_name: &str,
        body: &str,
        hold: Duration,
    ) -> Result<(i64, Option<Item>)> {
        let mut conn = self.conn()?;
        let fail = |e| self.err("cannot store the notification", e);
        if self.wal {
            // Cached like the statements below: parsing a pragma twice per notification showed.
            conn.prepare_cached("PRAGMA synchronous = FULL")
                .and_then(|mut full| full.execute([]))
                .map_err(fail)?;
        }
        let result = retry_busy(|| -> rusqlite::Result<(i64, bool)> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let until = now.saturating_add(ms(hold));
            // Cached statements: parsing the SQL anew was a fifth of a notification's CPU time.
            let older: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE accession_no = ?1)")?
                .query_row(params![accession_no], |r| r.get(0))?;
            let lease = (!older).then_some((self.owner.as_str(), until));
            tx.prepare_cached(
                "INSERT INTO outbox (accession_no, patient_name, body, created_at, next_try_at,
                                     lease_owner, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                accession_no,
                patient_name,
                body,
                now,
                until,
                lease.map(|l| l.0),
                lease.map(|l| l.1)
            ])?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok((id, older))
        });
        if self.wal {
            // Back to cheap commits for the bookkeeping; a failure here only costs speed.
            let _ = conn
                .prepare_cached("PRAGMA synchronous = NORMAL")
                .and_then(|mut normal| normal.execute([]));
        }
        let (id, older) = result.map_err(fail)?;
        let item = (!older).then(|| Item {
            id,
            accession_no: accession_no.to_owned(),
            patient_name: patient_name.to_owned(),
            body: body.to_owned(),
            attempts: 0,
        });
        Ok((id, item))
    }

    /// Take an item under a lease of `lease`; `None` when nothing matches or it is leased.
    pub fn claim(&self, pick: Pick<'_>, lease: Duration) -> Result<Option<Item>> {
        let mut conn = self.conn()?;
        let fail = |e| self.err("cannot claim a notification", e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let now = now_ms();
        let columns = "o.id, o.accession_no, o.patient_name, o.body, o.attempts, o.lease_until";
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(Item, Option<i64>)> {
            Ok((
                Item {
                    id: r.get(0)?,
                    accession_no: r.get(1)?,
                    patient_name: r.get(2)?,
                    body: r.get(3)?,
                    attempts: r.get(4)?,
                },
                r.get(5)?,
            ))
        };
        let free = "(o.lease_until IS NULL OR o.lease_until < ?1)";
        let found = match pick {
            Pick::Due => tx
                .query_row(
                    &format!(
                        "SELECT {columns} FROM outbox o WHERE o.next_try_at <= ?1 AND {free} \
                         AND {IS_HEAD} ORDER BY o.next_try_at, o.id LIMIT 1"
                    ),
                    params![now],
                    row,
                )
                .optional(),
            Pick::After(after) => tx
                .query_row(
                    &format!(
                        "SELECT {columns} FROM outbox o WHERE o.id > ?2 AND {free} AND {IS_HEAD} \
                         ORDER BY o.id LIMIT 1"
                    ),
                    params![now, after],
                    row,
                )
                .optional(),
            Pick::Accession(accession, max_id) => tx
                .query_row(
                    &format!(
                        "SELECT {columns} FROM outbox o WHERE o.accession_no = ?1 AND o.id <= ?2 \
                         ORDER BY o.id LIMIT 1"
                    ),
                    params![accession, max_id],
                    row,
                )
                .optional()
                .map(|found| found.filter(|(_, lease)| lease.is_none_or(|until| until < now))),
        }
        .map_err(fail)?;
        let Some((item, _)) = found else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3",
            params![self.owner, now.saturating_add(ms(lease)), item.id],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Some(item))
    }

    /// The cloud answered 200: the item leaves the outbox.
    pub fn delivered(&self, id: i64) -> Result<()> {
        let conn = self.conn()?;
        conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")
            .and_then(|mut delete| delete.execute(params![id]))
            .map_err(|e| self.err("cannot remove a delivered notification", e))?;
        Ok(())
    }

    /// The cloud rejected the item (code 400): move it to the dead-letter table with `reason`.
    pub fn reject(&self, id: i64, reason: &str) -> Result<()> {
        let mut conn = self.conn()?;
        let fail = |e| self.err("cannot move a rejected notification to the dead list", e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute(
            "INSERT OR REPLACE INTO dead
                 (id, accession_no, patient_name, body, created_at, attempts, failed_at, reason)
             SELECT id, accession_no, patient_name, body, created_at, attempts + 1, ?2, ?3
             FROM outbox WHERE id = ?1",
            params![id, now_ms(), reason],
        )
        .map_err(fail)?;
        tx.execute("DELETE FROM outbox WHERE id = ?1", params![id])
            .map_err(fail)?;
        tx.commit().map_err(fail)
    }

    /// A send failed for a reason worth retrying: count it, schedule the next try, free the
    /// lease. Returns the delay chosen.
    pub fn failed(&self, item: &Item, error: &str) -> Result<Duration> {
        let attempts = item.attempts.saturating_add(1);
        let delay = backoff(attempts);
        let conn = self.conn()?;
        conn.execute(
            "UPDATE outbox SET attempts = ?1, last_error = ?2, next_try_at = ?3,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = ?4 AND lease_owner = ?5",
            params![
                attempts,
                error,
                now_ms().saturating_add(ms(delay)),
                item.id,
                self.owner
            ],
        )
        .map_err(|e| self.err("cannot record a failed attempt", e))?;
        Ok(delay)
    }

    /// Notifications still to deliver (all processes sharing the file).
    pub fn pending(&self) -> Result<u64> {
        let conn = self.conn()?;
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
            .map_err(|e| self.err("cannot count pending notifications", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn dead_count(&self) -> Result<u64> {
        let conn = self.conn()?;
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM dead", [], |r| r.get(0))
            .map_err(|e| self.err("cannot count rejected notifications", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// When the oldest pending notification was stored (Unix ms), if any is pending.
    pub fn oldest_pending(&self) -> Result<Option<i64>> {
        let conn = self.conn()?;
        conn.query_row("SELECT MIN(created_at) FROM outbox", [], |r| r.get(0))
            .map_err(|e| self.err("cannot read the oldest pending notification", e))
    }

    /// The reason an item that left the outbox was rejected, if it was.
    pub fn dead_reason(&self, id: i64) -> Result<Option<String>> {
        let conn = self.conn()?;
        conn.query_row("SELECT reason FROM dead WHERE id = ?1", params![id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| self.err("cannot read the dead list", e))
    }

    /// Whether item `id` is still in the outbox (pending, leased or not).
    pub fn contains(&self, id: i64) -> Result<bool> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT 1 FROM outbox WHERE id = ?1",
            params![id],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(|e| self.err("cannot read the outbox", e))
    }

    /// When the next sendable item becomes due (or its lease expires), in Unix ms.
    pub fn next_due(&self) -> Result<Option<i64>> {
        let conn = self.conn()?;
        conn.query_row(
            &format!(
                "SELECT MIN(MAX(o.next_try_at, COALESCE(o.lease_until, 0))) FROM outbox o WHERE {IS_HEAD}"
            ),
            [],
            |r| r.get(0),
        )
        .map_err(|e| self.err("cannot read the schedule", e))
    }

    pub fn list_pending(&self) -> Result<Vec<PendingRow>> {
        let conn = self.conn()?;
        let now = now_ms();
        let fail = |e| self.err("cannot list pending notifications", e);
        let mut stmt = conn
            .prepare(
                "SELECT id, accession_no, patient_name, created_at, attempts, next_try_at,
                        last_error, lease_until
                 FROM outbox ORDER BY id",
            )
            .map_err(fail)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PendingRow {
                    id: r.get(0)?,
                    accession_no: r.get(1)?,
                    patient_name: r.get(2)?,
                    created_at: r.get(3)?,
                    attempts: r.get(4)?,
                    next_try_at: r.get(5)?,
                    last_error: r.get(6)?,
                    in_flight: r
                        .get::<_, Option<i64>>(7)?
                        .is_some_and(|until| until >= now),
                })
            })
            .map_err(fail)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(fail)
    }

    pub fn list_dead(&self) -> Result<Vec<DeadRow>> {
        let conn = self.conn()?;
        let fail = |e| self.err("cannot list rejected notifications", e);
        let mut stmt = conn
            .prepare(
                "SELECT id, accession_no, patient_name, created_at, attempts, failed_at, reason
                 FROM dead ORDER BY id",
            )
            .map_err(fail)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DeadRow {
                    id: r.get(0)?,
                    accession_no: r.get(1)?,
                    patient_name: r.get(2)?,
                    created_at: r.get(3)?,
                    attempts: r.get(4)?,
                    failed_at: r.get(5)?,
                    reason: r.get(6)?,
                })
            })
            .map_err(fail)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(fail)
    }

    /// Make every pending item due now (an operator's "retry"); returns how many.
    pub fn retry_now(&self) -> Result<u64> {
        let conn = self.conn()?;
        let n = conn
            .execute(
                "UPDATE outbox SET next_try_at = ?1 WHERE next_try_at > ?1",
                params![now_ms()],
            )
            .map_err(|e| self.err("cannot reschedule", e))?;
        Ok(n as u64)
    }

    /// Put rejected items back into the outbox (all, or those with the given ids), after an
    /// operator fixed what the cloud objected to. They queue behind newer items of their
    /// accession number. Returns how many.
    pub fn requeue_dead(&self, ids: Option<&[i64]>) -> Result<u64> {
        let mut conn = self.conn()?;
        let fail = |e| self.err("cannot requeue rejected notifications", e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let now = now_ms();
        let all: Vec<i64> = {
            let mut stmt = tx
                .prepare("SELECT id FROM dead ORDER BY id")
                .map_err(fail)?;
            let ids = stmt.query_map([], |r| r.get(0)).map_err(fail)?;
            ids.collect::<rusqlite::Result<_>>().map_err(fail)?
        };
        let mut n = 0;
        for id in all
            .into_iter()
            .filter(|id| ids.is_none_or(|wanted| wanted.contains(id)))
        {
            tx.execute(
                "INSERT INTO outbox (accession_no, patient_name, body, created_at, next_try_at)
                 SELECT accession_no, patient_name, body, created_at, ?2 FROM dead WHERE id = ?1",
                params![id, now],
            )
            .map_err(fail)?;
            tx.execute("DELETE FROM dead WHERE id = ?1", params![id])
                .map_err(fail)?;
            n += 1;
        }
        tx.commit().map_err(fail)?;
        Ok(n)
    }

    /// Forget rejected items (all, or those with the given ids); returns how many.
    pub fn purge_dead(&self, ids: Option<&[i64]>) -> Result<u64> {
        let conn = self.conn()?;
        let fail = |e| self.err("cannot purge the dead list", e);
        let n = match ids {
            None => conn.execute("DELETE FROM dead", []).map_err(fail)?,
            Some(ids) => {
                let mut n = 0;
                for id in ids {
                    n += conn
                        .execute("DELETE FROM dead WHERE id = ?1", params![id])
                        .map_err(fail)?;
                }
                n
            }
        };
        Ok(n as u64)
    }
}

/// SQLite's "busy" and "locked": another process holds the file for a moment.
trait Busy {
    fn is_busy(&self) -> bool;
}

impl Busy for rusqlite::Error {
    fn is_busy(&self) -> bool {
        matches!(
            self.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// Retry `f` while the file is busy, up to the busy timeout.
fn retry_busy<T, E: Busy>(
    mut f: impl FnMut() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(e) if e.is_busy() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

enum SetUp {
    Newer(i64),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for SetUp {
    fn from(e: rusqlite::Error) -> SetUp {
        SetUp::Sqlite(e)
    }
}

impl Busy for SetUp {
    fn is_busy(&self) -> bool {
        matches!(self, SetUp::Sqlite(e) if e.is_busy())
    }
}

/// Create the tables once per file (a file already set up costs no write and no fsync).
fn set_up_schema(conn: &mut Connection) -> std::result::Result<(), SetUp> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(SetUp::Newer(version));
    }
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_in_upper_half_and_is_capped() {
        for attempts in 1..=12u32 {
            let full = BACKOFF_BASE
                .saturating_mul(1 << (attempts - 1))
                .min(BACKOFF_CAP);
            for _ in 0..20 {
                let d = backoff(attempts);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempts}: {d:?} vs {full:?}"
                );
            }
        }
        assert!(backoff(u32::MAX) <= BACKOFF_CAP);
    }

    #[test]
    fn many_openers_of_a_new_file_at_once_all_succeed() {
        let dir = std::env::temp_dir().join(format!("miic-outbox-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("o.sqlite");
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Store::open(&path).map(|_| ()))
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn claims_follow_accession_order_and_leases_exclude_others() {
        let dir = std::env::temp_dir().join(format!("miic-outbox-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("o.sqlite");
        let a = Store::open(&path).unwrap();
        let b = Store::open(&path).unwrap();
        assert_eq!(a.oldest_pending().unwrap(), None);
        let first = a.enqueue("A1", "张三", "{}", Duration::ZERO).unwrap().0;
        let second = a.enqueue("A1", "张三", "{}", Duration::ZERO).unwrap().0;
        let other = a.enqueue("B2", "李四", "{}", Duration::ZERO).unwrap().0;
        let lease = Duration::from_secs(30);
        // Stored with no hold: due (and the caller's lease over) a moment later.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(a.claim(Pick::Due, lease).unwrap().unwrap().id, first);
        // Process b sees A1's head leased and A1's second item blocked behind it.
        assert_eq!(b.claim(Pick::Due, lease).unwrap().unwrap().id, other);
        assert!(b.claim(Pick::Due, lease).unwrap().is_none());
        a.delivered(first).unwrap();
        assert_eq!(b.claim(Pick::After(0), lease).unwrap().unwrap().id, second);
        b.reject(second, "code 400: bad").unwrap();
        assert_eq!(
            a.dead_reason(second).unwrap().as_deref(),
            Some("code 400: bad")
        );
        assert_eq!((a.pending().unwrap(), a.dead_count().unwrap()), (1, 1));
        let created = a.list_pending().unwrap()[0].created_at;
        assert_eq!(a.oldest_pending().unwrap(), Some(created));
        assert_eq!(a.requeue_dead(None).unwrap(), 1);
        assert_eq!((a.pending().unwrap(), a.dead_count().unwrap()), (2, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
