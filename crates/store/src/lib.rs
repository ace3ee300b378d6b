//! The SQLite store: the only crate that speaks SQL.
//!
//! Invariants (see ARCHITECTURE.md):
//! - Every stored event points at its raw record (`raw_records`, deflate-compressed JSON with
//!   origin and location). Nothing is stored without its raw record, and a record that could not
//!   be used goes to `quarantine` with the reason.
//! - Dedupe on the source's native id: inserting a record that is already present changes nothing
//!   and reports it as a duplicate.
//! - Coverage intervals per (source, scope) are merged on insert, so the table always holds
//!   disjoint, non-adjacent intervals.
//! - All times are UTC milliseconds.
//! - Everything a [`Batch`] writes commits together or not at all.

mod bulk;
pub mod outbox;
pub mod raw;
mod schema;
pub mod snapshot;
pub mod verdicts;
mod walcopy;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use trailproof_model::{AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, Millis, Source, fold};

pub use bulk::IndexSuspension;
pub use raw::{Block, RawRef};
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
    Duplicate,
}

pub struct Store {
    conn: Connection,
    /// The database file (`None` in memory): the bulk-import lock lives beside it.
    path: Option<PathBuf>,
    /// Rows of `idp_users` / `idp_apps` this handle knows to be committed.
    keys: KeyCache,
}

/// The user keys and applications the writer knows are in `idp_users` and `idp_apps`, so it
/// inserts each once instead of once per event. Only committed rows are remembered (a batch
/// adds its own on commit), and a cache that grows past [`KeyCache::LIMIT`] starts over.
#[derive(Debug, Default)]
struct KeyCache {
    users: HashSet<(Idp, String)>,
    apps: HashSet<(Idp, String, String)>,
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
        self.users.extend(other.users);
        self.apps.extend(other.apps);
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
    conn.create_scalar_function(
        "trailproof_verdict_sha256",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<Option<String>>(0)?.and_then(|r| verdicts::record_sha256(&r))),
    )?;
    Ok(())
}

fn now_ms() -> Millis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
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
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            // Another process may be migrating the same file: take the write lock, then check
            // whether it already applied this one.
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Applies only the first `n` migrations to a fresh connection: for migration tests.
    #[doc(hidden)]
    pub fn create_at_version(path: &Path, n: usize) -> Result<()> {
        let mut conn = Connection::open(path)?;
        register_functions(&conn)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().take(n) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Starts a write batch: everything written through it commits together. It takes the
    /// write lock at once (`BEGIN IMMEDIATE`), waiting up to the busy timeout for another
    /// writer. A deferred transaction that read first would instead fail with "database is
    /// locked" at its first write whenever another connection committed in between: the
    /// CloudTrail and IdP collectors of one `collect` run did, now and then.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        Ok(Batch {
            tx: self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
            now: now_ms(),
            known: &mut self.keys,
            added: KeyCache::default(),
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
        let mut st = self.conn.prepare(
            "SELECT provider, kind, COUNT(*) FROM idp_events GROUP BY provider, kind ORDER BY provider, kind",
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

    /// Reads one raw record back (decompressed), by source and native id.
    pub fn raw_record(&self, source: Source, native_id: &str) -> Result<Option<Vec<u8>>> {
        type Row = (Vec<u8>, Option<i64>, Option<i64>, Option<i64>);
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT raw, block_id, block_start, block_len FROM raw_records WHERE source = ?1 AND native_id = ?2",
                params![source.as_str(), native_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let corrupt = |why: String| StoreError::Corrupt(format!("raw record {native_id}: {why}"));
        let Some((blob, block, start, len)) = row else { return Ok(None) };
        let Some(block) = block else {
            return raw::decompress(&blob).map(Some).map_err(|e| corrupt(e.to_string()));
        };
        let data: Vec<u8> = self
            .conn
            .query_row("SELECT data FROM raw_blocks WHERE id = ?1", [block], |r| r.get(0))
            .optional()?
            .ok_or_else(|| corrupt(format!("its block {block} is missing")))?;
        let data = raw::decompress(&data).map_err(|e| corrupt(e.to_string()))?;
        let (start, len) = (start.unwrap_or(0).max(0) as usize, len.unwrap_or(0).max(0) as usize);
        data.get(start..start.saturating_add(len))
            .map(|b| Some(b.to_vec()))
            .ok_or_else(|| corrupt(format!("bytes {start}+{len} lie outside its block of {}", data.len())))
    }

    /// The import log, newest first.
    pub fn imports(&self, limit: usize) -> Result<Vec<ImportLog>> {
        let mut st = self.conn.prepare(
            "SELECT source, origin, started_ms, finished_ms, records_read, stored, duplicates, skipped, quarantined
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
}

impl ImportCounts {
    pub fn add(&mut self, o: &ImportCounts) {
        self.read += o.read;
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.skipped += o.skipped;
        self.quarantined += o.quarantined;
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
}

fn opt_bool(b: Option<bool>) -> Option<i64> {
    b.map(i64::from)
}

impl Batch<'_> {
    /// Inserts the raw record; `None` when (source, native_id) is already stored.
    fn insert_raw(&mut self, source: Source, native_id: &str, at: Origin<'_>, raw: RawRef<'_>) -> Result<Option<i64>> {
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO raw_records (source, native_id, origin, location, stored_ms, raw, block_id,
                block_start, block_len)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let (blob, block, start, len): (&[u8], _, _, _) = match raw {
            RawRef::Deflated(b) => (b, None, None, None),
            RawRef::InBlock { block_id, start, len } => (&[], Some(block_id), Some(start as i64), Some(len as i64)),
        };
        let n =
            st.execute(params![source.as_str(), native_id, at.origin, at.location, self.now, blob, block, start, len])?;
        Ok((n == 1).then(|| self.tx.last_insert_rowid()))
    }

    /// Stores a block of raw records compressed together ([`raw::Block`]); the records then
    /// point into it with [`RawRef::InBlock`].
    pub fn insert_block(&mut self, deflated: &[u8]) -> Result<i64> {
        let mut st = self.tx.prepare_cached("INSERT INTO raw_blocks (data) VALUES (?1)")?;
        st.execute([deflated])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Removes a block no stored record points into (all of its records were duplicates).
    pub fn delete_block(&mut self, block_id: i64) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM raw_blocks WHERE id = ?1")?.execute([block_id])?;
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
        let Some(raw_id) = self.insert_raw(Source::Cloudtrail, native_id, at, raw.into())? else {
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

    /// Stores one IdP record and its normalized events.
    pub fn insert_idp<'a>(
        &mut self,
        source: Source,
        native_id: &str,
        at: Origin<'_>,
        raw: impl Into<RawRef<'a>>,
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
        let Some(raw_id) = self.insert_raw(source, native_id, at, raw.into())? else {
            return Ok(Stored::Duplicate);
        };
        for e in events {
            let factors = serde_json::to_string(&e.factors).map_err(|err| StoreError::Corrupt(err.to_string()))?;
            let login_fold = e.user.login.as_deref().map(fold);
            let email_fold = e.user.email.as_deref().map(fold);
            // The folded keys are stored where an index seeks them: the login of events other
            // than SSOs (`idp_events_login_kind_time`). The e-mail and the SSOs' logins are
            // folded when read (rows of schema 9 and before carry them: the same values); the
            // known users are kept in `idp_users`. 93 % of a day's events are SSOs: 56 bytes a
            // row fewer to write.
            let login_stored = login_fold.as_deref().filter(|_| e.kind != IdpEventKind::AppSso);
            self.tx
                .prepare_cached(
                    "INSERT INTO idp_events (provider, tenant, event_id, time_ms, kind, native_type, outcome,
                        outcome_reason, user_login, user_login_fold, user_email, user_email_fold, user_id,
                        display_name, app_username, app_id, app_name, session_id, source_ip, user_agent, asn,
                        as_org, country, mfa, factors, auth_requirement, raw_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                        ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
                )?
                .execute(params![
                    e.provider.as_str(),
                    e.tenant,
                    e.event_id,
                    e.time_ms,
                    e.kind.as_str(),
                    e.native_type,
                    e.outcome.as_str(),
                    e.outcome_reason,
                    e.user.login,
                    login_stored,
                    e.user.email,
                    None::<&str>,
                    e.user.user_id,
                    e.user.display_name,
                    e.user.app_username,
                    e.app_id,
                    e.app_name,
                    e.session_id,
                    e.source_ip,
                    e.user_agent,
                    e.asn,
                    e.as_org,
                    e.country,
                    e.mfa.as_str(),
                    factors,
                    e.auth_requirement,
                    raw_id,
                ])?;
            self.note_keys(e, [login_fold, email_fold, e.user.app_username.as_deref().map(sql_lower_trim)])?;
        }
        Ok(Stored::New)
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
            "INSERT INTO imports (source, origin, started_ms, finished_ms, records_read, stored, duplicates, skipped, quarantined)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                source.as_str(),
                origin,
                started_ms,
                now_ms(),
                counts.read as i64,
                counts.stored as i64,
                counts.duplicates as i64,
                counts.skipped as i64,
                counts.quarantined as i64
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

    pub fn commit(self) -> Result<()> {
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
