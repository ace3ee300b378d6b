//! Copying the write-ahead log into the database on a thread of its own during a long import
//! (and while the judging pipeline stores verdicts).
//!
//! In WAL mode SQLite copies the log into the database file (a checkpoint) in the connection
//! that commits, once the log passes 1,000 pages. An import has one writer, and it is what
//! limits the import: the Entra day at 50,000 users spent 5.2 s of its 23.7 s in commits, nearly
//! all of it copying, while the parsing threads waited. [`WalCopier`] turns that off for the
//! writer and runs the checkpoints from a second connection on a thread of its own, which
//! SQLite allows alongside a writer (a passive checkpoint copies what is committed and takes
//! no lock a writer needs). The commits then took 1.2 s and the import 21.8 s.
//!
//! SQLite starts the log over when a write begins with the whole log copied, which the copier
//! mostly achieves between two batches. When it does not, the log grows, so once it holds
//! more than [`RESTART_BYTES`], the writer copies the rest and starts it over
//! ([`WalCopier::restart_if_long`]). Durability is SQLite's own either way: a checkpoint moves
//! committed pages only, and the log is started over only after a checkpoint that synced the
//! database file.

use crate::{Result, Store};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the log may grow before the writer starts it over.
pub const RESTART_BYTES: u64 = 512 << 20;

/// How long the copier waits when it has copied everything.
const PAUSE: Duration = Duration::from_millis(20);

/// Runs checkpoints on a thread of its own until [`WalCopier::stop`].
#[derive(Debug)]
pub struct WalCopier {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Frames in the log at the copier's last checkpoint.
    log_frames: Arc<AtomicI64>,
    page_size: i64,
    /// The store connection's `wal_autocheckpoint` before the copier took over.
    autocheckpoint: i64,
}

impl WalCopier {
    /// Stops the thread and gives the checkpoints back to the store's connection.
    pub fn stop(mut self, store: &Store) -> Result<()> {
        self.halt();
        store.conn.pragma_update(None, "wal_autocheckpoint", self.autocheckpoint)?;
        Ok(())
    }

    /// Starts the log over if it holds more than `limit` bytes, after copying what the copier
    /// has not copied yet. SQLite starts it over by itself when a write begins with the whole
    /// log copied, which the copier mostly achieves between two batches; this bounds it when
    /// it does not. Call between batches.
    pub fn restart_if_long(&self, store: &Store, limit: u64) -> Result<()> {
        let bytes = self.log_frames.load(Ordering::Relaxed).saturating_mul(self.page_size);
        if u64::try_from(bytes).unwrap_or(0) > limit {
            store.conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
            self.log_frames.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for WalCopier {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Store {
    /// Starts copying the log on a thread of its own (see the module docs); `None` for a store
    /// in memory, which has no log.
    pub fn copy_wal_in_background(&self) -> Result<Option<WalCopier>> {
        let Some(path) = &self.path else { return Ok(None) };
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let page_size: i64 = self.conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let log_frames = Arc::new(AtomicI64::new(0));
        let frames = Arc::clone(&log_frames);
        let handle = std::thread::Builder::new().name("wal-copier".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                // (busy, frames in the log, frames copied). A failed checkpoint leaves the
                // log as it was: the writer's restart or the next automatic checkpoint
                // copies it.
                let copied = conn
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
                    .ok();
                if let Some((log, _)) = copied {
                    frames.store(log, Ordering::Relaxed);
                }
                if copied.is_none_or(|(log, done)| done >= log) {
                    std::thread::sleep(PAUSE);
                }
            }
        });
        // Without a thread (the system refused one), the writer copies as it always did.
        let Ok(handle) = handle else { return Ok(None) };
        let autocheckpoint: i64 = self.conn.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?;
        let copier = WalCopier { stop, handle: Some(handle), log_frames, page_size, autocheckpoint };
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Some(copier))
    }
}
