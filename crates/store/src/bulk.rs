//! Bulk loading: a large import drops the secondary indexes of `idp_events`, appends, and
//! rebuilds them at the end, one sort per index. Before migration 9 every event had an entry in
//! each of six indexes keyed by user, session or application, so a day's records landed on random
//! pages of all of them and the commits rewrote most of each index again and again (half of an
//! Okta import's time at 300,000 records). Since migration 9 only the partial indexes by user and
//! session are hit at random, and they leave SSOs out; but a rebuild still reads every stored
//! event once per index. So it pays only into a store without IdP events (see
//! `trailproof_ingest::bulk_worthwhile`), and a little.
//!
//! What keeps this safe:
//! - The unique indexes that deduplicate records are never dropped.
//! - While the indexes are down, the importing process holds an OS lock on `<db>.bulk-lock`.
//!   The kernel releases it if the process dies.
//! - [`Store::open`] rebuilds missing indexes when no import holds the lock. A crashed import
//!   therefore heals at the next open, and the index definitions live only in [`INDEXES`].
//! - A reader that opens while an import holds the lock reads without those indexes. Its queries
//!   that name an index fail with a message saying what is going on.

use crate::{Result, Store, StoreError};
use std::path::{Path, PathBuf};

/// The secondary indexes of `idp_events` as the migrations create them. A bulk import drops
/// these and rebuilds them; `Store::open` makes sure they exist. (A test checks that each one
/// equals what the migrations created.)
pub(crate) const INDEXES: &[(&str, &str)] = &[
    ("idp_events_login_kind_time", "ON idp_events (provider, user_login_fold, kind, time_ms) WHERE kind <> 'app_sso'"),
    ("idp_events_session", "ON idp_events (provider, session_ref, kind, time_ms) WHERE kind <> 'app_sso'"),
];

/// Secondary indexes of `idp_events` a bulk import keeps: written in order, they cost little.
#[cfg(test)]
const KEPT: &[&str] = &["idp_events_raw"];

/// Held while the secondary indexes are down. [`Store::resume_indexes`] rebuilds them and
/// releases the lock. If the holder is dropped instead (an error, a crash), the lock is released
/// and the next [`Store::open`] rebuilds them.
#[derive(Debug)]
pub struct IndexSuspension {
    _lock: Option<std::fs::File>,
}

fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.to_path_buf();
    let name = db.file_name().map(|n| format!("{}.bulk-lock", n.to_string_lossy())).unwrap_or("bulk-lock".into());
    p.set_file_name(name);
    p
}

/// `Ok(Some(file))`: locked by us. `Ok(None)`: another process holds it.
pub(crate) fn try_lock(db: &Path) -> Result<Option<std::fs::File>> {
    let path = lock_path(db);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Corrupt(format!("cannot create the lock file {}: {e}", path.display())))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Corrupt(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

impl Store {
    fn missing_indexes(&self) -> Result<Vec<&'static str>> {
        let mut st = self.conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")?;
        let mut out = Vec::new();
        for (name, _) in INDEXES {
            if !st.exists([name])? {
                out.push(*name);
            }
        }
        Ok(out)
    }

    /// One transaction per index, so that another writer waits for one sort at most. SQLite's
    /// sorter may use a helper thread per core (`PRAGMA threads`): 11 % off rebuilding the seven
    /// indexes over 1.5 million Okta events (23.8 s to 21.2 s, sqlite3 shell, 2 cores).
    fn create_indexes(&mut self) -> Result<()> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
        self.conn.pragma_update(None, "threads", cores as i64)?;
        for (name, def) in INDEXES {
            self.conn.execute_batch(&format!("CREATE INDEX IF NOT EXISTS {name} {def}"))?;
        }
        Ok(())
    }

    /// At open: rebuilds the secondary indexes a crashed bulk import left out, unless an import
    /// is running now (it rebuilds them itself when done).
    pub(crate) fn heal_indexes(&mut self) -> Result<()> {
        if self.missing_indexes()?.is_empty() {
            return Ok(());
        }
        match &self.path {
            None => self.create_indexes(),
            Some(db) => match try_lock(db)? {
                Some(_lock) => {
                    tracing::warn!("rebuilding indexes left out by an interrupted bulk import");
                    self.create_indexes()
                }
                None => Ok(()),
            },
        }
    }

    /// Approximate number of IdP events stored (the largest row id, read from the index root).
    pub fn idp_rows_estimate(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM idp_events", [], |r| r.get(0))?)
    }

    /// Drops the secondary indexes of `idp_events` for a bulk import; see the module docs.
    /// `Ok(None)` when another bulk import holds the lock: then import with the indexes.
    pub fn suspend_indexes(&mut self) -> Result<Option<IndexSuspension>> {
        let lock = match &self.path {
            None => None,
            Some(db) => match try_lock(db)? {
                Some(f) => Some(f),
                None => return Ok(None),
            },
        };
        let tx = self.conn.transaction()?;
        for (name, _) in INDEXES {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        tx.commit()?;
        Ok(Some(IndexSuspension { _lock: lock }))
    }

    /// Rebuilds what [`Store::suspend_indexes`] dropped, then releases its lock.
    pub fn resume_indexes(&mut self, suspension: IndexSuspension) -> Result<()> {
        self.create_indexes()?;
        drop(suspension);
        Ok(())
    }
}

/// A query that names an index fails while a bulk import has it down: say so.
pub(crate) fn explain_missing_index(e: rusqlite::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("no such index") {
        StoreError::Corrupt(format!(
            "{text}: a bulk import is rebuilding this database's indexes; run this again when it has finished"
        ))
    } else {
        StoreError::Sqlite(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The definitions here must be exactly what the migrations create, or a rebuilt index would
    /// differ from a migrated one.
    #[test]
    fn index_definitions_equal_the_migrated_ones() {
        let s = Store::open_in_memory().unwrap();
        for (name, def) in INDEXES {
            let sql: String = s
                .conn
                .query_row("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1", [name], |r| r.get(0))
                .unwrap();
            assert_eq!(norm(&sql), norm(&format!("CREATE INDEX {name} {def}")));
        }
    }

    #[test]
    fn every_secondary_idp_index_is_listed() {
        let s = Store::open_in_memory().unwrap();
        let mut st = s
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'idp_events' AND sql IS NOT NULL",
            )
            .unwrap();
        let names: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        let mut listed: Vec<String> = INDEXES.iter().map(|(n, _)| n.to_string()).collect();
        listed.extend(KEPT.iter().map(|n| n.to_string()));
        let mut names = names;
        names.sort();
        listed.sort();
        assert_eq!(names, listed);
    }

    #[test]
    fn an_import_that_died_with_the_indexes_down_is_healed_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut s = Store::open(&db).unwrap();
        let held = s.suspend_indexes().unwrap().expect("no other import");
        assert_eq!(s.missing_indexes().unwrap().len(), INDEXES.len());
        // While it is held, another open leaves the indexes to the import, and a second bulk
        // import is refused the lock (it then imports with the indexes).
        let mut other = Store::open(&db).unwrap();
        assert_eq!(other.missing_indexes().unwrap().len(), INDEXES.len());
        assert!(other.suspend_indexes().unwrap().is_none());
        drop(other);
        // The import dies without rebuilding: its lock goes (the kernel releases it with the
        // process; here, with the handle) and the indexes stay down ...
        drop(held);
        drop(s);
        // ... until the next open.
        let s = Store::open(&db).unwrap();
        assert!(s.missing_indexes().unwrap().is_empty());
    }

    #[test]
    fn resume_rebuilds_every_index() {
        let mut s = Store::open_in_memory().unwrap();
        let held = s.suspend_indexes().unwrap().expect("in memory: no lock");
        assert_eq!(s.missing_indexes().unwrap().len(), INDEXES.len());
        s.resume_indexes(held).unwrap();
        assert!(s.missing_indexes().unwrap().is_empty());
    }
}
