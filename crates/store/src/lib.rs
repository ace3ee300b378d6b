//! The SQLite store: the only crate that speaks SQL.
//!
//! Invariants (see ARCHITECTURE.md):
//! - Every stored event points at its raw record (`raw_records`, compressed JSON with origin
//!   and location; see `raw.rs` and migration 18). Nothing is stored without its raw record, and a record that could not
//!   be used goes to `quarantine` with the reason.
//! - Dedupe on the source's native id: inserting a record that is already present changes nothing
//!   and reports it as a duplicate.
//! - Coverage intervals per (source, scope) are merged on insert, so the table always holds
//!   disjoint, non-adjacent intervals.
//! - All times are UTC milliseconds.
//! - Everything a [`Batch`] writes commits together or not at all.

mod blocks;
mod bulk;
mod columns;
pub mod location;
pub mod outbox;
mod packed;
pub mod raw;
pub mod retention;
mod schema;
pub mod snapshot;
mod sso;
pub mod verdicts;
mod walcopy;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sso::SsoRow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use trailproof_model::{AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, Millis, Source, fold};

pub use bulk::IndexSuspension;
pub use raw::{Block, RawRef};
pub use retention::{PrunePlan, PruneReport, RetentionState};
pub use schema::MIGRATIONS;
pub use snapshot::{SnapshotQuery, SsoBaseline};
pub use verdicts::VerdictChanges;
pub use walcopy::{RESTART_BYTES, WalCopier};

/// Quarantined records keep at most this many bytes of the raw record.
pub const RAW_QUARANTINE_CAP: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database is at schema version {found} but this trailproof knows only up to {known}: \
         it was written by a newer trailproof; upgrade trailproof or use another --db"
    )]
    TooNew { found: i64, known: i64 },
    #[error("could not open the database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A coverage interval: the source's records from `start_ms` to `end_ms` (both inclusive) for
/// `scope` are all in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub source: Source,
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
}

/// Where a raw record came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// File path, `-` for standard input, or an API URL.
    pub origin: &'a str,
    /// Position in the origin, e.g. `record 12 at byte 3456`.
    pub location: &'a str,
}

/// Outcome of storing one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Already stored with the same content (the same bytes, or other bytes that give the same
    /// events): nothing changed.
    Duplicate,
    /// Already stored with other content ([`Batch::insert_idp_record`]): the record's events
    /// were replaced, its earlier bytes moved to `raw_history`, and its time queued for
    /// re-judging ([`Store::rejudge_queue`]).
    Updated,
}

/// The content hash `raw_records.content_hash` holds: the first 6 bytes of the record's SHA-256,
/// read as a big-endian signed integer (the first 8 read so, shifted right by 16, sign kept:
/// what migration 28 made of the 8-byte hashes before it; SQLite stores it in 6 bytes). Computed
/// by the parse workers, compared by the writer: it tells a copy of a stored record from another
/// version of it (same native id, other bytes), where two versions share a hash once in 2^48.
pub fn content_hash(raw: &[u8]) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(raw);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b) >> 16
}

/// The key `raw_records.native_key` holds for a record: `native_key_64` shifted right by 17
/// bits (migration 26), 47 bits with their sign, which SQLite stores in 6 bytes instead of 8
/// (in the row and in the index `raw_records_key`). Two records may share a key: whoever seeks by
/// key compares source and native id too. With 47 bits, a store of a billion records finds a
/// second record under a key once in some 140,000 lookups.
pub fn native_key(source: &str, native_id: &str) -> i64 {
    native_key_64(source, native_id) >> KEY_SHIFT
}

/// The key a string of `idp_strings` is sought by (migration 29): the native key of source
/// `idp_strings`; what it finds is compared whole.
pub(crate) fn string_key(value: &str) -> i64 {
    native_key("idp_strings", value)
}

/// How far migration 26 shifted the keys of migration 20.
const KEY_SHIFT: u32 = 17;

/// The key of migrations 20 to 25: the first 8 bytes of the SHA-256 of the record's source, a
/// NUL byte and its native id, read as a big-endian signed integer.
fn native_key_64(source: &str, native_id: &str) -> i64 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(source.as_bytes());
    h.update([0u8]);
    h.update(native_id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// A stretch of time whose sessions must be judged again because an IdP record in it changed
/// after a verdict may have rested on it ([`Store::rejudge_queue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejudgeRange {
    pub id: i64,
    /// The IdP of the changed record's events.
    pub provider: String,
    /// The changed record's events span `[from_ms, to_ms]`, before and after the change.
    pub from_ms: Millis,
    pub to_ms: Millis,
    /// Every event involved is an SSO (only sessions within a login window of it can rest on
    /// it); otherwise a session start, a factor or a Google login, which later sessions can rest
    /// on too.
    pub sso_only: bool,
    pub reason: String,
    pub queued_ms: Millis,
}

/// An earlier version of a record, kept when a later one replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawVersion {
    pub origin: String,
    pub location: String,
    pub stored_ms: Millis,
    pub superseded_ms: Millis,
    pub raw: Vec<u8>,
}

pub struct Store {
    conn: Connection,
    /// The database file (`None` in memory): the bulk-import lock lives beside it.
    path: Option<PathBuf>,
    /// Rows of `idp_users` / `idp_apps` / `idp_strings` / `idp_app_refs` this handle knows to be
    /// committed.
    keys: KeyCache,
}

/// An application as an event names it: provider, id and name (`idp_app_refs`).
type AppKey = (Idp, Option<String>, Option<String>);

/// The user keys and applications the writer knows are in `idp_users` and `idp_apps`, and the
/// ids of the strings and applications it knows are in `idp_strings` and `idp_app_refs`, so it
/// inserts (or looks up) each once instead of once per event. Only committed rows are
/// remembered (a batch adds its own on commit), and a cache that grows past
/// [`KeyCache::LIMIT`] starts over.
#[derive(Debug, Default)]
struct KeyCache {
    users: HashSet<(Idp, String)>,
    apps: HashSet<(Idp, String, String)>,
    strings: HashMap<String, i64>,
    app_refs: HashMap<AppKey, i64>,
    /// `retention.strings_gc` when `strings` was last known good: a prune that removed unused
    /// strings changed it (migration 19), and the ids remembered may be gone.
    strings_gc: i64,
}

impl KeyCache {
    const LIMIT: usize = 1_000_000;

    fn absorb(&mut self, other: KeyCache) {
        if self.users.len() + other.users.len() > Self::LIMIT {
            self.users.clear();
        }
        if self.apps.len() + other.apps.len() > Self::LIMIT {
            self.apps.clear();
        }
        if self.strings.len() + other.strings.len() > Self::LIMIT {
            self.strings.clear();
        }
        if self.app_refs.len() + other.app_refs.len() > Self::LIMIT {
            self.app_refs.clear();
        }
        self.users.extend(other.users);
        self.apps.extend(other.apps);
        self.strings.extend(other.strings);
        self.app_refs.extend(other.app_refs);
    }
}

/// SQLite's `lower(x)` (ASCII letters only): how application names are lower-cased in SQL (the
/// name index, migration 9), so what is computed here equals what SQL computes.
pub(crate) fn sql_lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// SQLite's `lower(trim(x))` (trims spaces only): how app user names are folded in SQL.
pub(crate) fn sql_lower_trim(s: &str) -> String {
    sql_lower(s.trim_matches(' '))
}

/// The location text of a `raw_records` row as migration 18 to 24 kept it (the inverse of
/// `raw::Location::parse`, in SQL), for the migrations' tests.
#[cfg(test)]
pub(crate) const RAW_LOCATION_SQL: &str = "coalesce(loc_text, 'record ' || loc_record || ' at byte ' || loc_byte, '')";

/// SQL functions the migrations use: `trailproof_fold(x)` is [`fold`] (NULL stays NULL), so that
/// a migration fills a folded column with exactly the keys the writer stores for new rows.
/// SQLite's own `lower(trim(x))` lower-cases ASCII letters only.
fn register_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "trailproof_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|s| fold(&s))),
    )?;
    // Migration 13: `trailproof_google_evidence(record, map)` rewrites a verdict record's Google
    // evidence ids by `map` (a JSON object old id → new id; NULL when nothing to do) and returns
    // NULL when nothing changed; `trailproof_verdict_sha256(record)` is the content hash
    // `put_verdicts` stores for it (NULL when the record is unreadable).
    conn.create_scalar_function(
        "trailproof_google_evidence",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let (Some(record), Some(map)) = (ctx.get::<Option<String>>(0)?, ctx.get::<Option<String>>(1)?) else {
                return Ok(None);
            };
            let Ok(map) = serde_json::from_str::<std::collections::HashMap<String, String>>(&map) else {
                return Ok(None);
            };
            Ok(verdicts::migrate_google_evidence(&record, &map))
        },
    )?;
    // The lookups by native id: `trailproof_native_key(source, native_id)` is [`native_key`];
    // migration 20 computes the key of its time, `trailproof_native_key_64` ([`native_key_64`]),
    // which migration 26 shifts (NULL when either argument is NULL).
    for (name, key) in
        [("trailproof_native_key", native_key as fn(&str, &str) -> i64), ("trailproof_native_key_64", native_key_64)]
    {
        conn.create_scalar_function(
            name,
            2,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let (Some(source), Some(id)) = (ctx.get::<Option<String>>(0)?, ctx.get::<Option<String>>(1)?) else {
                    return Ok(None);
                };
                Ok(Some(key(&source, &id)))
            },
        )?;
    }
    conn.create_scalar_function(
        "trailproof_verdict_sha256",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<Option<String>>(0)?.and_then(|r| verdicts::record_sha256(&r))),
    )?;
    blocks::register_functions(conn)
}

/// Runs migration `i` (0-based) in `tx` and records it; a migration that drops a table must
/// leave every foreign key satisfied (checked before the caller commits).
fn apply_migration(tx: &rusqlite::Transaction<'_>, i: usize, sql: &str) -> Result<()> {
    tx.execute_batch(sql)?;
    schema::rust_step(i + 1, tx)?;
    if sql.contains("DROP TABLE") || schema::REBUILT_IN_RUST.contains(&(i + 1)) {
        let dangling: Option<String> =
            tx.query_row("PRAGMA foreign_key_check", [], |r| r.get::<_, String>(0)).optional()?;
        if let Some(table) = dangling {
            return Err(StoreError::Corrupt(format!(
                "migration {} would leave rows of {table} pointing at nothing; the database was left as it was",
                i + 1
            )));
        }
    }
    tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn =
            Connection::open(path).map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        Store::setup(conn, Some(path.to_path_buf()))
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?, None)
    }

    fn setup(conn: Connection, path: Option<PathBuf>) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        register_functions(&conn)?;
        // Takes effect only on a new, empty database (an existing one keeps its page size).
        // 16 KiB pages: an Okta day of 1.5 million records imports in 68.7 s instead of 75.3 s
        // with 4 KiB (medians of 3), and the file is 1 % smaller.
        conn.pragma_update(None, "page_size", 16384)?;
        // A new database returns the pages a prune frees to the file system step by step
        // (`PRAGMA incremental_vacuum`, see `retention.rs`); this too takes effect only before
        // the first table is created (an older store keeps `auto_vacuum = NONE`), and after the
        // page size (set the other way round, SQLite keeps 4 KiB pages).
        let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        if pages == 0 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -65536)?; // 64 MiB
        let mut store = Store { conn, path, keys: KeyCache::default() };
        store.migrate()?;
        store.heal_indexes()?;
        Ok(store)
    }

    /// Schema version of this database (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let known = MIGRATIONS.len() as i64;
        let found = self.schema_version()?;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        if found == known {
            return Ok(());
        }
        // A migration that rebuilds a table other rows point at (20: `raw_records`) drops the
        // old one, which foreign keys forbid while they are enforced: they are turned off for
        // the migrations (outside a transaction, where SQLite allows it) and each migration
        // proves, before it commits, that no row points at nothing (SQLite's procedure for
        // schema changes, https://www.sqlite.org/lang_altertable.html#otheralter).
        self.conn.pragma_update(None, "foreign_keys", false)?;
        let result = (|| {
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
                // Another process may be migrating the same file: take the write lock, then check
                // whether it already applied this one.
                let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
                if now > i as i64 {
                    continue;
                }
                apply_migration(&tx, i, sql)?;
                tx.commit()?;
            }
            Ok(())
        })();
        self.conn.pragma_update(None, "foreign_keys", true)?;
        result
    }

    /// Applies only the first `n` migrations to a fresh connection: for migration tests.
    #[doc(hidden)]
    pub fn create_at_version(path: &Path, n: usize) -> Result<()> {
        let mut conn = Connection::open(path)?;
        register_functions(&conn)?;
        conn.pragma_update(None, "foreign_keys", false)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().take(n) {
            let tx = conn.transaction()?;
            apply_migration(&tx, i, sql)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Turns the SSO frames back into rows of `idp_events`, as migration 23 left them (its
    /// `user_version` is left to the caller): for migration tests outside this crate.
    #[doc(hidden)]
    pub fn undo_sso_frames(&self) -> Result<()> {
        sso::undo_frames(&self.conn)
    }

    /// Takes the raw records back to what migration 24 left (the keys before migration 26, each
    /// record's place, location and stored time in its row, no facts in the blocks;
    /// `user_version` is left to the caller):
    /// for migration tests outside this crate. Before [`Store::undo_sso_frames`].
    #[doc(hidden)]
    pub fn undo_raw_facts(&self) -> Result<()> {
        blocks::undo(&self.conn)
    }

    /// Starts a write batch: everything written through it commits together. It takes the
    /// write lock at once (`BEGIN IMMEDIATE`), waiting up to the busy timeout for another
    /// writer. A deferred transaction that read first would instead fail with "database is
    /// locked" at its first write whenever another connection committed in between: the
    /// CloudTrail and IdP collectors of one `collect` run did, now and then.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read under the write lock: no prune can remove a string until this batch ends.
        let gc: i64 = tx
            .prepare_cached("SELECT strings_gc FROM retention WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        if gc != self.keys.strings_gc {
            self.keys.strings.clear();
            self.keys.strings_gc = gc;
        }
        Ok(Batch {
            tx,
            now: trailproof_model::now_ms(),
            known: &mut self.keys,
            added: KeyCache::default(),
            keep_first_since: None,
            origins: HashMap::new(),
            sso: sso::Gather::default(),
            facts: blocks::Pending::new(),
            block_origins: HashMap::new(),
            ids: Default::default(),
        })
    }

    /// The raw connection, for read queries of sibling modules and tests.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A collector's cursor, if one was stored.
    pub fn checkpoint(&self, source: Source, scope: &str, stream: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM checkpoints WHERE source = ?1 AND scope = ?2 AND stream = ?3",
                params![source.as_str(), scope, stream],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Coverage intervals, ordered by source, scope and start.
    pub fn coverage(&self) -> Result<Vec<Coverage>> {
        let mut st = self
            .conn
            .prepare("SELECT source, scope, start_ms, end_ms FROM coverage ORDER BY source, scope, start_ms")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (source, scope, start_ms, end_ms) = row?;
            let source =
                Source::parse(&source).ok_or_else(|| StoreError::Corrupt(format!("unknown source {source:?}")))?;
            out.push(Coverage { source, scope, start_ms, end_ms });
        }
        Ok(out)
    }

    /// Stored event counts per (source, kind), for `status`.
    pub fn event_counts(&self) -> Result<Vec<(String, String, u64)>> {
        let mut out = Vec::new();
        let mut st = self.conn.prepare("SELECT kind, COUNT(*) FROM aws_events GROUP BY kind ORDER BY kind")?;
        for row in st.query_map([], |r| Ok(("cloudtrail".to_string(), r.get(0)?, r.get::<_, i64>(1)? as u64)))? {
            out.push(row?);
        }
        // SSOs are counted in their frames (sso.rs).
        let mut st = self.conn.prepare(
            "SELECT provider, kind, n FROM (
                SELECT provider, kind, COUNT(*) AS n FROM idp_events GROUP BY provider, kind
                UNION ALL SELECT provider, 'app_sso', sum(events) FROM sso_blocks GROUP BY provider)
             ORDER BY provider, kind",
        )?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))? {
            out.push(row?);
        }
        Ok(out)
    }

    /// Raw records per source.
    pub fn raw_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut st = self.conn.prepare("SELECT source, COUNT(*) FROM raw_records GROUP BY source ORDER BY source")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Quarantine counts per source with up to `examples` distinct reasons each (most frequent first).
    pub fn quarantine_summary(&self, examples: usize) -> Result<Vec<QuarantineSummary>> {
        let mut st = self.conn.prepare("SELECT source, COUNT(*) FROM quarantine GROUP BY source ORDER BY source")?;
        let counts: Vec<(String, i64)> =
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        let mut reasons = self.conn.prepare(
            "SELECT reason, COUNT(*) AS n, MIN(origin || ' ' || location) FROM quarantine WHERE source = ?1
             GROUP BY reason ORDER BY n DESC, reason LIMIT ?2",
        )?;
        for (source, count) in counts {
            let top = reasons
                .query_map(params![source, examples as i64], |r| {
                    Ok(QuarantineReason { reason: r.get(0)?, count: r.get::<_, i64>(1)? as u64, example: r.get(2)? })
                })?
                .collect::<rusqlite::Result<_>>()?;
            out.push(QuarantineSummary { source, count: count as u64, reasons: top });
        }
        Ok(out)
    }

    /// Where a stored record was read: its origin (the file or API page) and its location there,
    /// by source and native id.
    pub fn raw_origin(&self, source: Source, native_id: &str) -> Result<Option<(String, String)>> {
        let Some((id, _, _)) =
            blocks::find(&self.conn, source, native_id, None, &mut blocks::NativeIds::default())?.pop()
        else {
            return Ok(None);
        };
        let origin = blocks::origin_of(&self.conn, id, None)?;
        let (_, fact, _) = blocks::fact_of(&self.conn, id, None)?;
        Ok(Some((origin.unwrap_or_default(), fact.loc.text())))
    }

    /// Reads one raw record back (decompressed), by source and native id.
    pub fn raw_record(&self, source: Source, native_id: &str) -> Result<Option<Vec<u8>>> {
        match blocks::find(&self.conn, source, native_id, None, &mut blocks::NativeIds::default())?.pop() {
            None => Ok(None),
            Some((id, _, _)) => blocks::read_raw(&self.conn, id, native_id, None).map(Some),
        }
    }

    /// The native ids of the stored records of `source`, sorted.
    pub fn native_ids(&self, source: Source) -> Result<Vec<String>> {
        let rows: Vec<i64> = self
            .conn
            .prepare("SELECT id FROM raw_records WHERE source_code = ?1")?
            .query_map([blocks::source_code(source)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut native = blocks::NativeIds::default();
        let mut ids = rows.into_iter().map(|id| native.of(&self.conn, id)).collect::<Result<Vec<_>>>()?;
        ids.sort();
        Ok(ids)
    }

    /// The earlier versions of a record that later ones replaced, oldest first.
    pub fn raw_history(&self, source: Source, native_id: &str) -> Result<Vec<RawVersion>> {
        let mut st = self.conn.prepare(
            "SELECT origin, location, stored_ms, superseded_ms, raw FROM raw_history
             WHERE source = ?1 AND native_id = ?2 ORDER BY id",
        )?;
        let rows = st.query_map(params![source.as_str(), native_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, Vec<u8>>(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (origin, location, stored_ms, superseded_ms, blob) = row?;
            let raw = raw::decompress(&blob)
                .map_err(|e| StoreError::Corrupt(format!("an earlier version of {native_id}: {e}")))?;
            out.push(RawVersion { origin, location, stored_ms, superseded_ms, raw });
        }
        Ok(out)
    }

    /// Records replaced by a later version, per source (for `status`).
    pub fn raw_history_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut st = self.conn.prepare("SELECT source, COUNT(*) FROM raw_history GROUP BY source ORDER BY source")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stretches of time queued for re-judging, oldest first.
    pub fn rejudge_queue(&self) -> Result<Vec<RejudgeRange>> {
        let mut st = self.conn.prepare(
            "SELECT id, provider, from_ms, to_ms, sso_only, reason, queued_ms FROM rejudge_queue ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(RejudgeRange {
                id: r.get(0)?,
                provider: r.get(1)?,
                from_ms: r.get(2)?,
                to_ms: r.get(3)?,
                sso_only: r.get::<_, i64>(4)? != 0,
                reason: r.get(5)?,
                queued_ms: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The import log, newest first.
    pub fn imports(&self, limit: usize) -> Result<Vec<ImportLog>> {
        let mut st = self.conn.prepare(
            "SELECT source, origin, started_ms, finished_ms, records_read, stored, duplicates, skipped, quarantined,
                updated
             FROM imports ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(ImportLog {
                source: r.get(0)?,
                origin: r.get(1)?,
                started_ms: r.get(2)?,
                finished_ms: r.get(3)?,
                counts: ImportCounts {
                    read: r.get::<_, i64>(4)? as u64,
                    stored: r.get::<_, i64>(5)? as u64,
                    duplicates: r.get::<_, i64>(6)? as u64,
                    skipped: r.get::<_, i64>(7)? as u64,
                    quarantined: r.get::<_, i64>(8)? as u64,
                    updated: r.get::<_, i64>(9)? as u64,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineReason {
    pub reason: String,
    pub count: u64,
    /// `origin location` of the first such record.
    pub example: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineSummary {
    pub source: String,
    pub count: u64,
    pub reasons: Vec<QuarantineReason>,
}

/// Counts of one import, as printed in its summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Records found in the input.
    pub read: u64,
    /// Records stored for the first time.
    pub stored: u64,
    /// Records already in the store.
    pub duplicates: u64,
    /// Well-formed records trailproof does not need.
    pub skipped: u64,
    /// Records that could not be used (see the quarantine table).
    pub quarantined: u64,
    /// Records already stored with other content, replaced by this version (the earlier one is
    /// kept in `raw_history`).
    pub updated: u64,
}

impl ImportCounts {
    pub fn add(&mut self, o: &ImportCounts) {
        self.read += o.read;
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.skipped += o.skipped;
        self.quarantined += o.quarantined;
        self.updated += o.updated;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLog {
    pub source: String,
    pub origin: String,
    pub started_ms: Millis,
    pub finished_ms: Millis,
    pub counts: ImportCounts,
}

/// A write transaction. Dropping it without [`Batch::commit`] rolls everything back.
pub struct Batch<'a> {
    tx: Transaction<'a>,
    now: Millis,
    /// Keys committed before this batch, and the ones it added (see [`KeyCache`]).
    known: &'a mut KeyCache,
    added: KeyCache,
    /// Records stored at or after this time are not replaced by another version (see
    /// [`Batch::keep_first_since`]).
    keep_first_since: Option<Millis>,
    /// Ids of the `raw_origins` rows this batch has used (a batch's own, gone with it if it
    /// rolls back).
    origins: HashMap<String, i64>,
    /// The SSO frames this batch is filling (written before it commits).
    sso: sso::Gather,
    /// The facts of the raw blocks this batch is filling, a slot per record stored in them
    /// (written as it commits; see blocks.rs).
    facts: blocks::Pending,
    /// The origin of the blocks this batch is filling: the first record's, which a record of
    /// the same origin then does not name in its row (`raw_facts.origin_id`, migration 28).
    block_origins: HashMap<i64, i64>,
    /// The facts of written blocks this batch has read (its transaction writes none of them).
    ids: std::cell::RefCell<blocks::NativeIds>,
}

/// The columns an IdP event's content is compared by (all it stores but the folded keys, which
/// derive from the others, and the raw record it belongs to).
const IDP_ROW_COLS: usize = 24;

/// An event as [`Batch::insert_idp_events`] writes it, in the order of the columns
/// `Batch::stored_event_rows` reads: two versions of a record are the same when these are.
fn idp_row_values(e: &IdpEvent) -> Result<[rusqlite::types::Value; IDP_ROW_COLS]> {
    use rusqlite::types::Value;
    let text = |s: &str| Value::Text(s.to_string());
    let opt = |s: &Option<String>| s.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()));
    let factors = serde_json::to_string(&e.factors).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    Ok([
        text(e.provider.as_str()),
        opt(&e.tenant),
        text(&e.event_id),
        Value::Integer(e.time_ms),
        text(e.kind.as_str()),
        text(&e.native_type),
        text(e.outcome.as_str()),
        opt(&e.outcome_reason),
        opt(&e.user.login),
        opt(&e.user.email),
        opt(&e.user.user_id),
        opt(&e.user.display_name),
        opt(&e.user.app_username),
        opt(&e.app_id),
        opt(&e.app_name),
        opt(&e.session_id),
        opt(&e.source_ip),
        opt(&e.user_agent),
        e.asn.map_or(Value::Null, |a| Value::Integer(i64::from(a))),
        opt(&e.as_org),
        opt(&e.country),
        text(e.mfa.as_str()),
        Value::Text(factors),
        opt(&e.auth_requirement),
    ])
}

/// `events` as [`idp_row_values`], in the order [`Batch::stored_event_rows`] gives a stored
/// record's: the events other than SSOs as given, then the SSOs by time (stable).
fn event_rows_in_stored_order(events: &[IdpEvent]) -> Result<Vec<[rusqlite::types::Value; IDP_ROW_COLS]>> {
    let mut ssos: Vec<&IdpEvent> = events.iter().filter(|e| e.kind == IdpEventKind::AppSso).collect();
    ssos.sort_by_key(|e| e.time_ms);
    events.iter().filter(|e| e.kind != IdpEventKind::AppSso).chain(ssos).map(idp_row_values).collect()
}

fn opt_bool(b: Option<bool>) -> Option<i64> {
    b.map(i64::from)
}

impl Batch<'_> {
    /// When this batch began (the `stored_ms` of what it stores).
    pub fn started_ms(&self) -> Millis {
        self.now
    }

    /// Within one import, the first version read of a record is kept: a record stored at or
    /// after `t` (by this import, which began then) is not replaced by another version read
    /// later in the same import; the other version counts as a duplicate, as it did before
    /// versions. A later import (or a later page of a collector) replaces it.
    pub fn keep_first_since(&mut self, t: Millis) {
        self.keep_first_since = Some(t);
    }

    /// The stored record (source, native_id), if any: its row id, content hash and when it was
    /// stored (its block's `stored_ms`). Sought by its key (migration 20); what the key finds
    /// is compared whole.
    ///
    /// Its block's time in a statement of its own: read through a join in the record's lookup
    /// (`raw_records LEFT JOIN raw_blocks`), SQLite prepared the statement again at every step
    /// (`sqlite3Reprepare`: a quarter of an import's samples, imports 1.4-1.6x as slow).
    fn find_raw(&self, source: Source, native_id: &str) -> Result<Option<(i64, Option<i64>, Millis)>> {
        let Some((id, hash, block)) =
            blocks::find(&self.tx, source, native_id, Some(&self.facts), &mut self.ids.borrow_mut())?.pop()
        else {
            return Ok(None);
        };
        let stored_ms: Option<Millis> = match self.facts.get(&block) {
            Some((stored_ms, _)) => Some(*stored_ms),
            None => self
                .tx
                .prepare_cached("SELECT stored_ms FROM raw_facts WHERE block_id = ?1")?
                .query_row([block], |r| r.get(0))
                .optional()?,
        };
        let stored_ms =
            stored_ms.ok_or_else(|| StoreError::Corrupt(format!("raw block {block} is missing, or its facts")))?;
        Ok(Some((id, hash, stored_ms)))
    }

    /// Inserts a raw record not stored yet, with its content hash and the frame its SSOs go
    /// into; returns its row id.
    #[allow(clippy::too_many_arguments)]
    fn insert_new_raw(
        &mut self,
        source: Source,
        native_id: &str,
        key: i64,
        at: Origin<'_>,
        raw: RawRef<'_>,
        hash: Option<i64>,
        sso_block: Option<i64>,
    ) -> Result<i64> {
        let (block, slot) = self.place(source, native_id, at, raw)?;
        let origin_id = self.row_origin(block, at.origin)?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO raw_records (source_code, native_key, block_id, block_slot, content_hash, origin_id, sso_block)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        st.execute(params![blocks::source_code(source), key, block, slot, hash, origin_id, sso_block])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Inserts the raw record of `events`; `None` when (source, native_id) is already stored,
    /// else its row id and the frame its SSOs go into (see [`Batch::sso_target`]).
    fn insert_raw(
        &mut self,
        source: Source,
        native_id: &str,
        at: Origin<'_>,
        raw: RawRef<'_>,
        events: &[IdpEvent],
    ) -> Result<Option<(i64, Option<i64>)>> {
        let key = native_key(source.as_str(), native_id);
        if self.find_raw(source, native_id)?.is_some() {
            return Ok(None);
        }
        let sso_block = self.sso_target(events)?;
        Ok(Some((self.insert_new_raw(source, native_id, key, at, raw, None, sso_block)?, sso_block)))
    }

    /// The SSO frame a record with `events` keeps its SSOs in: the one being filled for its
    /// first SSO's application (`None`: it has no SSO). See sso.rs.
    fn sso_target(&mut self, events: &[IdpEvent]) -> Result<Option<i64>> {
        let Some(first) = events.iter().find(|e| e.kind == IdpEventKind::AppSso) else { return Ok(None) };
        let app = self.app_ref(first.provider, first.app_id.as_deref(), first.app_name.as_deref())?;
        self.sso.target(&self.tx, first.provider.as_str(), app).map(Some)
    }

    /// Gives a raw record a slot in its block's facts (its source, native id, location and where
    /// its bytes are; a record stored alone gets a block of its own): its block and slot.
    fn place(&mut self, source: Source, native_id: &str, at: Origin<'_>, raw: RawRef<'_>) -> Result<(i64, i64)> {
        let loc = raw::Location::parse(at.location);
        let (block, span) = match raw {
            RawRef::Deflated(b) => (self.insert_block(b)?, None),
            RawRef::InBlock { block_id, start, len } => (block_id, Some((start as u64, len as u64))),
        };
        let (_, facts) = self.facts.get_mut(&block).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "raw block {block} was not written by this batch: a record cannot be put in it"
            ))
        })?;
        let fact = raw::Fact { source: Some(source), native_id: raw::NativeId::new(native_id), span, loc };
        let slot = facts.place(fact).map_err(|why| StoreError::Corrupt(format!("raw block {block}: {why}")))?;
        Ok((block, slot))
    }

    /// The origin id a record of `origin` stored in block `block` (one this batch is filling)
    /// writes in its row: none when it is the block's (the first record's, see
    /// [`Batch::block_origins`]).
    fn row_origin(&mut self, block: i64, origin: &str) -> Result<Option<i64>> {
        let id = self.origin_id(origin)?;
        let of_block = *self.block_origins.entry(block).or_insert(id);
        Ok((of_block != id).then_some(id))
    }

    /// The id of `origin` in `raw_origins`, added if new.
    fn origin_id(&mut self, origin: &str) -> Result<i64> {
        if let Some(id) = self.origins.get(origin) {
            return Ok(*id);
        }
        self.tx.prepare_cached("INSERT OR IGNORE INTO raw_origins (origin) VALUES (?1)")?.execute([origin])?;
        let id: i64 = self
            .tx
            .prepare_cached("SELECT id FROM raw_origins WHERE origin = ?1")?
            .query_row([origin], |r| r.get(0))?;
        self.origins.insert(origin.to_string(), id);
        Ok(id)
    }

    /// Stores a block of raw records compressed together ([`raw::Block`]); the records then
    /// point into it with [`RawRef::InBlock`]. A block whose records were pushed with their ids
    /// goes through [`Batch::insert_block_of`] instead: stored here, it reads back only if every
    /// record of it is then stored (otherwise reading it is an error).
    pub fn insert_block(&mut self, packed: &[u8]) -> Result<i64> {
        self.insert_block_with(packed, raw::Facts::default())
    }

    /// Stores a block whose records were pushed with their native ids ([`raw::Block::push_id`]),
    /// given as `(native id, start, len)` of each, in any order: every record of the block,
    /// whether it is then stored or not (a block compressed with its records' ids as dictionary
    /// reads back only with all of them).
    pub fn insert_block_of<'r>(
        &mut self,
        packed: &[u8],
        pushed: impl Iterator<Item = (&'r str, usize, usize)>,
    ) -> Result<i64> {
        let facts = raw::Facts::of_pushed(pushed.map(|(id, start, len)| (id, start as u64, len as u64)));
        self.insert_block_with(packed, facts)
    }

    fn insert_block_with(&mut self, packed: &[u8], facts: raw::Facts) -> Result<i64> {
        let mut st = self.tx.prepare_cached("INSERT INTO raw_blocks (data) VALUES (?1)")?;
        st.execute(params![packed])?;
        let id = self.tx.last_insert_rowid();
        self.facts.insert(id, (self.now, facts));
        Ok(id)
    }

    /// Removes a block no stored record points into (all of its records were duplicates).
    pub fn delete_block(&mut self, block_id: i64) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM raw_blocks WHERE id = ?1")?.execute([block_id])?;
        self.facts.remove(&block_id);
        self.block_origins.remove(&block_id);
        Ok(())
    }

    /// Stores one CloudTrail record and its normalized events. `raw`: the record compressed
    /// alone ([`raw::compress`]) or its place in a block stored with [`Batch::insert_block`].
    pub fn insert_aws<'a>(
        &mut self,
        native_id: &str,
        at: Origin<'_>,
        raw: impl Into<RawRef<'a>>,
        events: &[AwsEvent],
    ) -> Result<Stored> {
        let Some((raw_id, _)) = self.insert_raw(Source::Cloudtrail, native_id, at, raw.into(), &[])? else {
            return Ok(Stored::Duplicate);
        };
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO aws_events (event_id, time_ms, kind, account_id, region, outcome, error_code,
                error_message, principal_type, arn, principal_id, user_name, role_name, session_name,
                session_name_fold, session_issuer_arn, session_issuer_type, source_identity, mfa_authenticated,
                mfa_used, saml_provider_arn, saml_subject, saml_subject_type, saml_issuer, saml_name_qualifier,
                issued_arn, issued_access_key_id, access_key_id, source_ip, user_agent, credential_type, login_to,
                raw_id, user_name_fold, auth_workflow_id, identity_store_user_id, credential_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37)",
        )?;
        for e in events {
            let kind = e.kind.map(|k| k.as_str()).unwrap_or("other");
            st.execute(params![
                e.event_id,
                e.time_ms,
                kind,
                e.account_id,
                e.region,
                e.outcome.as_str(),
                e.error_code,
                e.error_message,
                e.principal_type,
                e.arn,
                e.principal_id,
                e.user_name,
                e.role_name,
                e.session_name,
                e.session_name.as_deref().map(fold),
                e.session_issuer_arn,
                e.session_issuer_type,
                e.source_identity,
                opt_bool(e.mfa_authenticated),
                opt_bool(e.mfa_used),
                e.saml_provider_arn,
                e.saml_subject,
                e.saml_subject_type,
                e.saml_issuer,
                e.saml_name_qualifier,
                e.issued_arn,
                e.issued_access_key_id,
                e.access_key_id,
                e.source_ip,
                e.user_agent,
                e.credential_type,
                e.login_to,
                raw_id,
                // Sought by user for portal sign-ins (`aws_events_portal`) and the challenges that
                // name the user of a sign-in sequence (`aws_events_challenge_user`) only.
                e.user_name
                    .as_deref()
                    .filter(|_| {
                        matches!(e.kind, Some(AwsEventKind::UserAuthentication | AwsEventKind::CredentialChallenge))
                    })
                    .map(fold),
                e.auth_workflow_id,
                e.identity_store_user_id,
                e.credential_id,
            ])?;
        }
        Ok(Stored::New)
    }

    /// Stores one IdP record and its normalized events. A record already stored (same source and
    /// native id) is a duplicate, whatever its content: [`Batch::insert_idp_record`] with a
    /// content hash also tells a later version from a copy.
    pub fn insert_idp<'a>(
        &mut self,
        source: Source,
        native_id: &str,
        at: Origin<'_>,
        raw: impl Into<RawRef<'a>>,
        events: &[IdpEvent],
    ) -> Result<Stored> {
        self.insert_idp_record(source, native_id, at, raw, None, events)
    }

    /// Stores one IdP record and its normalized events, or, when the record is already stored
    /// with other content, replaces it: this is a later version of the record (Entra adds the
    /// MFA steps of a sign-in to the original record, same `id`, up to two hours later).
    ///
    /// `hash` is [`content_hash`] of `raw`'s bytes. The same bytes again are a duplicate at the
    /// cost of one index probe. Other bytes are compared by their normalized events: the same
    /// events (another export's formatting of the same record) are a duplicate too; other
    /// events replace the stored ones, the earlier bytes go to `raw_history`, and the time both
    /// versions' events span is queued for re-judging (`rejudge_queue`): verdicts that rested on
    /// the earlier version are judged again by the next `judge`, whatever its window. Without a
    /// hash, a stored record is always a duplicate (the behaviour before versions).
    pub fn insert_idp_record<'a>(
        &mut self,
        source: Source,
        native_id: &str,
        at: Origin<'_>,
        raw: impl Into<RawRef<'a>>,
        hash: Option<i64>,
        events: &[IdpEvent],
    ) -> Result<Stored> {
        // Event ids are unique because raw records are (see migration 9): each must be the
        // record's native id, or that id and `#<n>`.
        for e in events {
            let derived = match e.event_id.strip_prefix(native_id) {
                Some("") => true,
                Some(rest) => rest.starts_with('#') && !native_id.contains('#'),
                None => false,
            };
            if !derived {
                return Err(StoreError::Corrupt(format!(
                    "event id {:?} is not derived from its record's native id {native_id:?}",
                    e.event_id
                )));
            }
        }
        let raw = raw.into();
        let Some(hash) = hash else {
            let Some((raw_id, sso_block)) = self.insert_raw(source, native_id, at, raw, events)? else {
                return Ok(Stored::Duplicate);
            };
            self.insert_idp_events(raw_id, native_id, events, sso_block)?;
            return Ok(Stored::New);
        };
        // A new record is inserted with `hash`; a stored one with the same hash is a copy; one
        // with another hash (or none: stored before migration 15) may be another version.
        let key = native_key(source.as_str(), native_id);
        let Some((raw_id, stored_hash, stored_ms)) = self.find_raw(source, native_id)? else {
            let sso_block = self.sso_target(events)?;
            let raw_id = self.insert_new_raw(source, native_id, key, at, raw, Some(hash), sso_block)?;
            self.insert_idp_events(raw_id, native_id, events, sso_block)?;
            return Ok(Stored::New);
        };
        if stored_hash == Some(hash) {
            return Ok(Stored::Duplicate);
        }
        if self.keep_first_since.is_some_and(|t| stored_ms >= t) {
            return Ok(Stored::Duplicate);
        }
        // Another version. The same events in other bytes change nothing (but the hash of these
        // bytes is remembered, so the next copy of them is told at once).
        let old = self.stored_event_rows(raw_id, native_id)?;
        let new = event_rows_in_stored_order(events)?;
        if old == new {
            self.tx
                .prepare_cached("UPDATE raw_records SET content_hash = ?2 WHERE id = ?1")?
                .execute(params![raw_id, hash])?;
            return Ok(Stored::Duplicate);
        }
        self.replace_idp(source, native_id, raw_id, at, raw, hash, &old, events)?;
        Ok(Stored::Updated)
    }

    /// The frame holding raw record `raw_id`'s SSOs, if it has any.
    fn sso_block_of(&self, raw_id: i64) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT sso_block FROM raw_records WHERE id = ?1")?
            .query_row([raw_id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// The normalized events of raw record `raw_id` as stored, as
    /// [`event_rows_in_stored_order`] orders them: its other events in the order they were
    /// written, then its SSOs by time (as their frame keeps them), read as the snapshot reads
    /// them ([`snapshot::IdpReader`]).
    fn stored_event_rows(&self, raw_id: i64, native_id: &str) -> Result<Vec<[rusqlite::types::Value; IDP_ROW_COLS]>> {
        let mut out = self.stored_row_events(raw_id, native_id)?;
        if let Some(block) = self.sso_block_of(raw_id)? {
            let (provider, mut rows) = self.sso_rows_of(block, raw_id)?;
            sso::sort_rows(&mut rows);
            let mut reader = snapshot::IdpReader::on(&self.tx)?;
            for r in &rows {
                let e = reader.event(&snapshot::IdpRow::from_sso(&provider, r, Some(r.event_id(native_id))))?;
                out.push(idp_row_values(&e)?);
            }
        }
        Ok(out)
    }

    /// Record `raw_id`'s SSO rows in frame `block` (one this batch is filling, or a stored one),
    /// and the frame's provider.
    fn sso_rows_of(&self, block: i64, raw_id: i64) -> Result<(String, Vec<SsoRow>)> {
        let provider: String = self
            .tx
            .prepare_cached("SELECT provider FROM sso_blocks WHERE id = ?1")?
            .query_row([block], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("raw record {raw_id}: its SSO frame {block} is missing")))?;
        let rows = match self.sso.record_rows(block, raw_id) {
            Some(rows) => rows,
            None => sso::read_block(&self.tx, block)?
                .map(|(_, rows)| rows.into_iter().filter(|r| r.raw_id == raw_id).collect())
                .unwrap_or_default(),
        };
        Ok((provider, rows))
    }

    /// The normalized events of raw record `raw_id` stored as rows (all but its SSOs), in the
    /// order they were written.
    /// Its event ids are made of `native_id` here: the view reads them through the block's facts,
    /// which a batch writes as it commits.
    fn stored_row_events(&self, raw_id: i64, native_id: &str) -> Result<Vec<[rusqlite::types::Value; IDP_ROW_COLS]>> {
        let mut st = self.tx.prepare_cached(
            "SELECT provider, tenant, ?2 || coalesce(event_suffix, ''), time_ms, kind, native_type, outcome, outcome_reason, user_login,
                user_email, user_id, display_name, app_username, app_id, app_name, session_id, source_ip, user_agent,
                asn, as_org, country, mfa, factors, auth_requirement
             FROM idp_events_full
             WHERE id IN (SELECT id FROM idp_events INDEXED BY idp_events_raw WHERE raw_id = ?1) ORDER BY id",
        )?;
        let rows = st.query_map(params![raw_id, native_id], |r| {
            let mut v: [rusqlite::types::Value; IDP_ROW_COLS] = std::array::from_fn(|_| rusqlite::types::Value::Null);
            for (i, slot) in v.iter_mut().enumerate() {
                *slot = r.get(i)?;
            }
            Ok(v)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces raw record `raw_id` by a later version: the earlier bytes to `raw_history`, the
    /// row to the new bytes, the events to the new ones, and the time both span to the queue.
    #[allow(clippy::too_many_arguments)]
    fn replace_idp(
        &mut self,
        source: Source,
        native_id: &str,
        raw_id: i64,
        at: Origin<'_>,
        raw: RawRef<'_>,
        hash: i64,
        old: &[[rusqlite::types::Value; IDP_ROW_COLS]],
        events: &[IdpEvent],
    ) -> Result<()> {
        let earlier = blocks::read_raw(&self.tx, raw_id, native_id, Some(&self.facts))?;
        let (old_block, fact, stored_ms) = blocks::fact_of(&self.tx, raw_id, Some(&self.facts))?;
        let location = fact.loc.text();
        // A block this batch fills has its origin in the batch (its facts are not written yet).
        let origin = blocks::origin_of(&self.tx, raw_id, self.block_origins.get(&old_block).copied())?;
        let origin = origin.unwrap_or_default();
        self.tx
            .prepare_cached(
                "INSERT INTO raw_history (raw_id, source, native_id, origin, location, stored_ms, superseded_ms, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                raw_id,
                source.as_str(),
                native_id,
                origin,
                location,
                stored_ms,
                self.now,
                raw::compress(&earlier)
            ])?;
        // The block the earlier bytes were in stays: other records may point into it (and an
        // import may still be writing records of it). It is noted for the next prune, which
        // removes it if this was its last record, or packs it again if it holds little else
        // (no scan finds blocks left empty: migration 27).
        self.tx.prepare_cached("INSERT OR IGNORE INTO prune_repack (block_id) VALUES (?1)")?.execute([old_block])?;
        let (block, slot) = self.place(source, native_id, at, raw)?;
        let origin_id = self.row_origin(block, at.origin)?;
        // The earlier version's events go: its rows, and its SSOs out of their frame.
        self.tx.prepare_cached("DELETE FROM idp_events WHERE raw_id = ?1")?.execute([raw_id])?;
        if let Some(old_block) = self.sso_block_of(raw_id)?
            && self.sso.take_record(old_block, raw_id).is_none()
        {
            sso::remove_record(&self.tx, old_block, raw_id)?;
        }
        let sso_block = self.sso_target(events)?;
        self.tx
            .prepare_cached(
                "UPDATE raw_records SET origin_id = ?2, block_id = ?3, block_slot = ?4, content_hash = ?5, sso_block = ?6
                 WHERE id = ?1",
            )?
            .execute(params![raw_id, origin_id, block, slot, hash, sso_block])?;
        self.insert_idp_events(raw_id, native_id, events, sso_block)?;
        // What may have rested on either version: its provider(s) and times.
        let mut spans: Vec<(String, Millis, Millis, bool)> = Vec::new();
        let mut note = |provider: &str, t: Millis, sso: bool| match spans.iter_mut().find(|s| s.0 == provider) {
            Some(s) => {
                s.1 = s.1.min(t);
                s.2 = s.2.max(t);
                s.3 &= sso;
            }
            None => spans.push((provider.to_string(), t, t, sso)),
        };
        for row in old {
            use rusqlite::types::Value;
            if let (Value::Text(p), Value::Integer(t), Value::Text(k)) = (&row[0], &row[3], &row[4]) {
                note(p, *t, k == IdpEventKind::AppSso.as_str());
            }
        }
        for e in events {
            note(e.provider.as_str(), e.time_ms, e.kind == IdpEventKind::AppSso);
        }
        for (provider, from, to, sso_only) in spans {
            self.tx
                .prepare_cached(
                    "INSERT INTO rejudge_queue (provider, from_ms, to_ms, sso_only, reason, queued_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    provider,
                    from,
                    to,
                    i64::from(sso_only),
                    format!("{source} record {native_id} changed after it was first stored"),
                    self.now
                ])?;
        }
        Ok(())
    }

    /// Writes a record's normalized events (and their keys in `idp_users` / `idp_apps`). The
    /// strings repeated from event to event are written once, in `idp_strings`, and the
    /// application in `idp_app_refs`; the row holds their ids (migration 17).
    fn insert_idp_events(
        &mut self,
        raw_id: i64,
        native_id: &str,
        events: &[IdpEvent],
        sso_block: Option<i64>,
    ) -> Result<()> {
        for e in events {
            // The event id is the record's native id and this suffix (migration 20; checked by
            // `insert_idp_record`).
            let suffix = match e.event_id.strip_prefix(native_id) {
                Some("") => None,
                Some(rest) => Some(rest),
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "event id {:?} is not derived from its record's native id {native_id:?}",
                        e.event_id
                    )));
                }
            };
            let factors = serde_json::to_string(&e.factors).map_err(|err| StoreError::Corrupt(err.to_string()))?;
            let login_fold = e.user.login.as_deref().map(fold);
            let email_fold = e.user.email.as_deref().map(fold);
            // The folded login is stored where an index seeks it: on events other than SSOs
            // (`idp_events_login_kind_time`). The e-mail and the SSOs' logins are folded when
            // read; the known users are kept in `idp_users`.
            let login_stored = login_fold.as_deref().filter(|_| e.kind != IdpEventKind::AppSso);
            let app_ref = self.app_ref(e.provider, e.app_id.as_deref(), e.app_name.as_deref())?;
            let session_ref = self.opt_string_ref(e.session_id.as_deref())?;
            let user_login_ref = self.opt_string_ref(e.user.login.as_deref())?;
            let user_email_ref = self.opt_string_ref(e.user.email.as_deref())?;
            let user_id_ref = self.opt_string_ref(e.user.user_id.as_deref())?;
            let display_name_ref = self.opt_string_ref(e.user.display_name.as_deref())?;
            let app_username_ref = self.opt_string_ref(e.user.app_username.as_deref())?;
            let source_ip_ref = self.opt_string_ref(e.source_ip.as_deref())?;
            let user_agent_ref = self.opt_string_ref(e.user_agent.as_deref())?;
            let tenant_ref = self.opt_string_ref(e.tenant.as_deref())?;
            let native_type_ref = self.string_ref(&e.native_type)?;
            let outcome_reason_ref = self.opt_string_ref(e.outcome_reason.as_deref())?;
            let as_org_ref = self.opt_string_ref(e.as_org.as_deref())?;
            let mfa_ref = self.string_ref(e.mfa.as_str())?;
            let factors_ref = self.string_ref(&factors)?;
            let auth_requirement_ref = self.opt_string_ref(e.auth_requirement.as_deref())?;
            if e.kind == IdpEventKind::AppSso {
                let block = sso_block.ok_or_else(|| {
                    StoreError::Corrupt(format!("record {native_id}: an SSO of it was given no frame"))
                })?;
                self.sso.push(
                    block,
                    SsoRow {
                        raw_id,
                        time_ms: e.time_ms,
                        outcome: e.outcome.as_str().to_string(),
                        tenant: tenant_ref,
                        native_type: Some(native_type_ref),
                        outcome_reason: outcome_reason_ref,
                        login: user_login_ref,
                        email: user_email_ref,
                        user_id: user_id_ref,
                        display_name: display_name_ref,
                        app_username: app_username_ref,
                        app: app_ref,
                        session: session_ref,
                        source_ip: source_ip_ref,
                        user_agent: user_agent_ref,
                        asn: e.asn.map(i64::from),
                        as_org: as_org_ref,
                        country: e.country.clone(),
                        mfa: Some(mfa_ref),
                        factors: Some(factors_ref),
                        auth_requirement: auth_requirement_ref,
                        event_suffix: suffix.map(str::to_string),
                    },
                )?;
                self.note_keys(e, [login_fold, email_fold, e.user.app_username.as_deref().map(sql_lower_trim)])?;
                continue;
            }
            self.tx
                .prepare_cached(
                    "INSERT INTO idp_events (provider, event_suffix, time_ms, kind, outcome, app_ref, session_ref,
                        user_login_ref, user_email_ref, user_id_ref, display_name_ref, app_username_ref,
                        source_ip_ref, user_agent_ref, tenant_ref, native_type_ref, outcome_reason_ref, asn,
                        as_org_ref, country, mfa_ref, factors_ref, auth_requirement_ref, user_login_fold, raw_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                        ?20, ?21, ?22, ?23, ?24, ?25)",
                )?
                .execute(params![
                    e.provider.as_str(),
                    suffix,
                    e.time_ms,
                    e.kind.as_str(),
                    e.outcome.as_str(),
                    app_ref,
                    session_ref,
                    user_login_ref,
                    user_email_ref,
                    user_id_ref,
                    display_name_ref,
                    app_username_ref,
                    source_ip_ref,
                    user_agent_ref,
                    tenant_ref,
                    native_type_ref,
                    outcome_reason_ref,
                    e.asn,
                    as_org_ref,
                    e.country,
                    mfa_ref,
                    factors_ref,
                    auth_requirement_ref,
                    login_stored,
                    raw_id,
                ])?;
            self.note_keys(e, [login_fold, email_fold, e.user.app_username.as_deref().map(sql_lower_trim)])?;
        }
        Ok(())
    }

    /// The id of `value` in `idp_strings`, inserting it the first time.
    fn string_ref(&mut self, value: &str) -> Result<i64> {
        if let Some(id) = self.known.strings.get(value).or_else(|| self.added.strings.get(value)) {
            return Ok(*id);
        }
        let key = string_key(value);
        let found: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM idp_strings INDEXED BY idp_strings_key WHERE key = ?1 AND value = ?2")?
            .query_row(params![key, value], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => self
                .tx
                .prepare_cached("INSERT INTO idp_strings (value, key) VALUES (?1, ?2) RETURNING id")?
                .query_row(params![value, key], |r| r.get(0))?,
        };
        self.added.strings.insert(value.to_string(), id);
        Ok(id)
    }

    fn opt_string_ref(&mut self, value: Option<&str>) -> Result<Option<i64>> {
        value.map(|v| self.string_ref(v)).transpose()
    }

    /// The id of the application `(provider, app_id, app_name)` in `idp_app_refs`, inserting it
    /// the first time; `None` for an event that names no application.
    fn app_ref(&mut self, provider: Idp, app_id: Option<&str>, app_name: Option<&str>) -> Result<Option<i64>> {
        if app_id.is_none() && app_name.is_none() {
            return Ok(None);
        }
        let key: AppKey = (provider, app_id.map(str::to_string), app_name.map(str::to_string));
        if let Some(id) = self.known.app_refs.get(&key).or_else(|| self.added.app_refs.get(&key)) {
            return Ok(Some(*id));
        }
        let found: Option<i64> = self
            .tx
            .prepare_cached(
                "SELECT id FROM idp_app_refs INDEXED BY idp_app_refs_key
                 WHERE provider = ?1 AND app_id IS ?2 AND app_name IS ?3",
            )?
            .query_row(params![provider.as_str(), app_id, app_name], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => self
                .tx
                .prepare_cached(
                    "INSERT INTO idp_app_refs (provider, app_id, app_name) VALUES (?1, ?2, ?3) RETURNING id",
                )?
                .query_row(params![provider.as_str(), app_id, app_name], |r| r.get(0))?,
        };
        self.added.app_refs.insert(key, id);
        Ok(Some(id))
    }

    /// Removes re-judge ranges that `judge` has dealt with.
    pub fn clear_rejudge(&mut self, ids: &[i64]) -> Result<()> {
        let mut st = self.tx.prepare_cached("DELETE FROM rejudge_queue WHERE id = ?1")?;
        for id in ids {
            st.execute([id])?;
        }
        Ok(())
    }

    /// Quarantines a record that could not be used. The same bytes quarantined twice for one
    /// source are kept once (returns `Stored::Duplicate`).
    pub fn quarantine(&mut self, source: Source, at: Origin<'_>, reason: &str, raw: &[u8]) -> Result<Stored> {
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(raw));
        let kept = &raw[..raw.len().min(RAW_QUARANTINE_CAP)];
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO quarantine (source, origin, location, reason, raw, raw_len, raw_sha256, stored_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let n = st.execute(params![
            source.as_str(),
            at.origin,
            at.location,
            reason,
            kept,
            raw.len() as i64,
            hash,
            self.now
        ])?;
        Ok(if n == 1 { Stored::New } else { Stored::Duplicate })
    }

    /// Records that `[start_ms, end_ms]` of `source`/`scope` is complete in the store, merging
    /// with overlapping or adjacent intervals.
    pub fn add_coverage(&mut self, source: Source, scope: &str, start_ms: Millis, end_ms: Millis) -> Result<()> {
        let (mut lo, mut hi) = (start_ms.min(end_ms), start_ms.max(end_ms));
        let src = source.as_str();
        {
            let mut st = self.tx.prepare_cached(
                "SELECT start_ms, end_ms FROM coverage WHERE source = ?1 AND scope = ?2
                 AND start_ms <= ?4 + 1 AND end_ms + 1 >= ?3",
            )?;
            let rows = st.query_map(params![src, scope, lo, hi], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (s, e) = row?;
                lo = lo.min(s);
                hi = hi.max(e);
            }
        }
        self.tx.execute(
            "DELETE FROM coverage WHERE source = ?1 AND scope = ?2 AND start_ms >= ?3 AND end_ms <= ?4",
            params![src, scope, lo, hi],
        )?;
        self.tx.execute(
            "INSERT INTO coverage (source, scope, start_ms, end_ms) VALUES (?1, ?2, ?3, ?4)",
            params![src, scope, lo, hi],
        )?;
        Ok(())
    }

    /// Appends a line to the import log.
    pub fn log_import(
        &mut self,
        source: Source,
        origin: &str,
        started_ms: Millis,
        counts: &ImportCounts,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO imports (source, origin, started_ms, finished_ms, records_read, stored, duplicates, skipped, quarantined,
                updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                source.as_str(),
                origin,
                started_ms,
                trailproof_model::now_ms(),
                counts.read as i64,
                counts.stored as i64,
                counts.duplicates as i64,
                counts.skipped as i64,
                counts.quarantined as i64,
                counts.updated as i64
            ],
        )?;
        Ok(())
    }

    /// Sets a collector's cursor (e.g. Okta's `next` link, a time position) for `(source, scope,
    /// stream)`. Written in the same transaction as the page it follows, so a crash never leaves a
    /// cursor ahead of the data or data without its cursor.
    pub fn set_checkpoint(&mut self, source: Source, scope: &str, stream: &str, cursor: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO checkpoints (source, scope, stream, cursor, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source, scope, stream) DO UPDATE SET cursor = excluded.cursor, updated_ms = excluded.updated_ms",
            )?
            .execute(params![source.as_str(), scope, stream, cursor, self.now])?;
        Ok(())
    }

    pub fn commit(mut self) -> Result<()> {
        self.sso.finish(&self.tx)?;
        blocks::write_pending(&self.tx, &self.facts, &self.block_origins)?;
        self.tx.commit()?;
        self.known.absorb(self.added);
        Ok(())
    }

    /// Records the event's user keys (its folded login, e-mail and app user name, as stored
    /// and indexed) in `idp_users` and, for an SSO, its application in `idp_apps`: each key
    /// once, skipping the ones already known.
    fn note_keys(&mut self, e: &IdpEvent, users: [Option<String>; 3]) -> Result<()> {
        for key in users.into_iter().flatten() {
            let k = (e.provider, key);
            if self.known.users.contains(&k) || self.added.users.contains(&k) {
                continue;
            }
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO idp_users (provider, key) VALUES (?1, ?2)")?
                .execute(params![k.0.as_str(), k.1])?;
            self.added.users.insert(k);
        }
        if e.kind == IdpEventKind::AppSso {
            let name = e.app_name.as_deref().map(sql_lower).unwrap_or_default();
            let k = (e.provider, e.app_id.clone().unwrap_or_default(), name);
            if !self.known.apps.contains(&k) && !self.added.apps.contains(&k) {
                self.tx
                    .prepare_cached("INSERT OR IGNORE INTO idp_apps (provider, app_id, name_fold) VALUES (?1, ?2, ?3)")?
                    .execute(params![k.0.as_str(), k.1, k.2])?;
                self.added.apps.insert(k);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
