//! Raw records in blocks (migration 25). Every raw record lives in a `raw_blocks` row: a block
//! of up to 1,024 records compressed together (what an import writes), or a block of its own (a
//! record stored alone, [`RawRef::Deflated`]).
//!
//! A record's row keeps what is sought or compared: its source (a code), native key, block and
//! slot, content hash, origin and SSO frame. The rest its block says, in a row of `raw_facts`:
//! `facts` (one [`Fact`] per slot: the record's source and native id, where its bytes lie in the
//! block, where it was read; [`Facts`]) and `stored_ms` (a block is written by one batch). A table
//! of their own, not columns of `raw_blocks`: SQLite reads a column after a large blob by walking
//! the blob's overflow pages, which doubled a correlation's reading (measured).
//!
//! No index finds a block's records (migration 27): its facts name them, each found by its key
//! ([`live_records`]); only a prune asks, once per block it removes or packs again.
//!
//! Reading native ids:
//! - a record sought by its native id is sought by key, then the id its block gives is compared
//!   ([`find`]);
//! - a scan names many records of few blocks: [`NativeIds`] decodes each block's facts once;
//! - SQL over a few rows reads an id through `trailproof_native_id(facts, slot)`
//!   ([`register_functions`]).
//!
//! A batch fills the facts of the blocks it writes in memory and writes them as it commits
//! ([`crate::Batch::commit`]); what it reads of its own blocks before then it reads from memory
//! ([`Pending`]).

use crate::raw::{self, Fact, Facts, Location, NativeId};
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use trailproof_model::{Millis, Source};

/// Facts frames decoded lately on this thread, with the bytes they were decoded from: a scan or
/// a batch reads the records of a few blocks at a time, so each block's frame is decoded once
/// per run of its records, not once per record. Keyed by the frame's bytes (compared whole), so
/// a block rewritten or a block id used again can never be read through stale facts.
const DECODED_KEPT: usize = 16;

thread_local! {
    static DECODED: RefCell<Vec<(Vec<u8>, Rc<Facts>)>> = const { RefCell::new(Vec::new()) };
}

/// The facts of `frame` (block `block`, for errors), decoded or remembered.
pub(crate) fn decoded(frame: &[u8], block: Option<i64>) -> std::result::Result<Rc<Facts>, String> {
    let hit = DECODED.with(|d| {
        let mut d = d.borrow_mut();
        let at = d.iter().position(|(bytes, _)| bytes.as_slice() == frame)?;
        let entry = d.remove(at);
        let facts = entry.1.clone();
        d.push(entry);
        Some(facts)
    });
    if let Some(facts) = hit {
        return Ok(facts);
    }
    let facts = Rc::new(Facts::decode(frame, block.unwrap_or(0))?);
    DECODED.with(|d| {
        let mut d = d.borrow_mut();
        if d.len() >= DECODED_KEPT {
            d.remove(0);
        }
        d.push((frame.to_vec(), facts.clone()));
    });
    Ok(facts)
}

/// `trailproof_native_id(facts, slot)`: the native id a block's facts give for a slot (NULL when
/// either is NULL); an error for a damaged frame or a slot it lacks. Registered on every
/// connection the store opens (the view `idp_events_full` and the prune read ids through it).
pub(crate) fn register_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::ValueRef;
    conn.create_scalar_function(
        "trailproof_native_id",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let (ValueRef::Blob(frame), ValueRef::Integer(slot)) = (ctx.get_raw(0), ctx.get_raw(1)) else {
                return Ok(None);
            };
            let facts = decoded(frame, None).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            let fact = facts.get(slot).ok_or_else(|| {
                rusqlite::Error::UserFunctionError(format!("a raw block's facts have no slot {slot}").into())
            })?;
            Ok(Some(fact.native_id.text()))
        },
    )?;
    Ok(())
}

/// Native ids of stored records, each block's facts read and decoded once: for scans that meet
/// many records of few blocks (a snapshot's events, a prune's SSOs). Use within one read of the
/// store (a transaction or savepoint), where a block id names one block.
#[derive(Default)]
pub(crate) struct NativeIds {
    /// By block: when last used, and its slots' native ids (the rest of its facts is not kept).
    ids: HashMap<i64, (u64, Rc<[NativeId]>)>,
    uses: u64,
}

impl NativeIds {
    /// Blocks whose ids are kept (some 24 KB each), the least lately used leaving first. A
    /// block's ids are read in some 30 µs (`Facts::native_ids_of`): 256 kept cost correlation 7
    /// MB more at its peak than 96, for no time saved (10,000-user day, BENCHMARKS.md).
    const KEPT: usize = 96;

    /// The native id of raw record `raw_id`.
    pub(crate) fn of(&mut self, conn: &Connection, raw_id: i64) -> Result<String> {
        let (block, slot) =
            place_of(conn, raw_id)?.ok_or_else(|| StoreError::Corrupt(format!("raw record {raw_id} is missing")))?;
        self.slot(conn, block, slot)?
            .map(NativeId::text)
            .ok_or_else(|| StoreError::Corrupt(format!("raw record {raw_id}: its block {block} has no slot {slot}")))
    }

    /// The native id in slot `slot` of block `block` (a written block: not one a batch is
    /// filling), `None` when it has no such slot.
    pub(crate) fn slot(&mut self, conn: &Connection, block: i64, slot: i64) -> Result<Option<&NativeId>> {
        self.uses += 1;
        if let Some((used, _)) = self.ids.get_mut(&block) {
            *used = self.uses;
        } else {
            if self.ids.len() >= Self::KEPT
                && let Some(oldest) = self.ids.iter().min_by_key(|(_, (used, _))| *used).map(|(b, _)| *b)
            {
                self.ids.remove(&oldest);
            }
            // Decoded here, not through `decoded`: this keeps the ids, and a scan's frames would
            // only push the ones by-id lookups use out of that cache.
            let (frame, _) = frame_of(conn, block)?;
            let ids = Facts::native_ids_of(&frame, block).map_err(StoreError::Corrupt)?;
            self.ids.insert(block, (self.uses, ids.into()));
        }
        Ok(self.ids.get(&block).and_then(|(_, ids)| usize::try_from(slot).ok().and_then(|s| ids.get(s))))
    }
}

/// SQL: the native id of the `raw_records` row named `r` (through its block's facts), as a
/// literal for `concat!` ([`NATIVE_ID_SQL`]).
macro_rules! native_id_sql {
    () => {
        "trailproof_native_id((SELECT facts FROM raw_facts WHERE raw_facts.block_id = r.block_id), r.block_slot)"
    };
}
pub(crate) use native_id_sql;

/// SQL: the native id of the `raw_records` row named `r` (through its block's facts). It reads
/// the block's facts for each row: for the few rows a key finds. A scan resolves ids with
/// [`NativeIds`].
pub(crate) const NATIVE_ID_SQL: &str = native_id_sql!();

/// `raw_records.source_code` of each source; `raw_records.source` is derived from it (a virtual
/// column, [`source_sql`]), so the text is stored in no row. The sources most records come from
/// have the codes SQLite stores in no bytes (0 and 1).
pub(crate) fn source_code(s: Source) -> i64 {
    match s {
        Source::Okta => 0,
        Source::Entra => 1,
        Source::Google => 2,
        Source::Cloudtrail => 3,
        Source::Adfs => 4,
    }
}

/// The source of a code [`source_code`] gives.
pub(crate) fn source_of_code(code: i64) -> Option<Source> {
    Source::ALL.iter().copied().find(|s| source_code(*s) == code)
}

/// SQL giving a source's name from its code in column `code` (the inverse of [`source_code`]).
pub(crate) fn source_sql(code: &str) -> String {
    let arms: String = Source::ALL.iter().map(|s| format!(" WHEN {} THEN '{}'", source_code(*s), s.as_str())).collect();
    format!("CASE {code}{arms} END")
}

/// SQL giving a source's code from its name in column `name` (NULL for a name not known).
fn code_sql(name: &str) -> String {
    let arms: String = Source::ALL.iter().map(|s| format!(" WHEN '{}' THEN {}", s.as_str(), source_code(*s))).collect();
    format!("CASE {name}{arms} END")
}

/// The blocks a batch is filling, by id: when stored, and their facts (not written yet).
pub(crate) type Pending = HashMap<i64, (Millis, Facts)>;

/// A stored record's block and slot.
pub(crate) fn place_of(conn: &Connection, raw_id: i64) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT block_id, block_slot FROM raw_records WHERE id = ?1")?
        .query_row([raw_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Written block `block`'s facts frame and the time it was stored (`raw_facts`).
fn frame_of(conn: &Connection, block: i64) -> Result<(Vec<u8>, Millis)> {
    conn.prepare_cached("SELECT facts, stored_ms FROM raw_facts WHERE block_id = ?1")?
        .query_row([block], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("raw block {block} is missing, or its facts")))
}

/// Written block `block`'s facts (through the frames this thread decoded last, [`decoded`]) and
/// the time it was stored.
pub(crate) fn facts_of(conn: &Connection, block: i64) -> Result<(Rc<Facts>, Millis)> {
    let (frame, stored_ms) = frame_of(conn, block)?;
    Ok((decoded(&frame, Some(block)).map_err(StoreError::Corrupt)?, stored_ms))
}

/// Like [`facts_of`], `None` when block `block` is gone.
pub(crate) fn facts_of_any(conn: &Connection, block: i64) -> Result<Option<(Rc<Facts>, Millis)>> {
    let frame: Option<(Vec<u8>, Millis)> = conn
        .prepare_cached("SELECT facts, stored_ms FROM raw_facts WHERE block_id = ?1")?
        .query_row([block], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((frame, stored_ms)) = frame else { return Ok(None) };
    Ok(Some((decoded(&frame, Some(block)).map_err(StoreError::Corrupt)?, stored_ms)))
}

/// Block `block`'s data, decompressed; a block compressed with its records' ids reads them from
/// its facts (a batch's own, for a block it filled).
pub(crate) fn data_of(conn: &Connection, block: i64, pending: Option<&Pending>) -> Result<Vec<u8>> {
    let blob: Vec<u8> = conn
        .prepare_cached("SELECT data FROM raw_blocks WHERE id = ?1")?
        .query_row([block], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("raw block {block} is missing")))?;
    let corrupt = |e: std::io::Error| StoreError::Corrupt(format!("raw block {block}: {e}"));
    if !blob.starts_with(&raw::COLUMNS_IDS_HEADER) {
        return raw::decompress(&blob).map_err(corrupt);
    }
    match pending.and_then(|p| p.get(&block)) {
        Some((_, facts)) => raw::decompress_block(&blob, Some(facts)).map_err(corrupt),
        None => raw::decompress_block(&blob, Some(&facts_of(conn, block)?.0)).map_err(corrupt),
    }
}

/// What a block says of stored record `raw_id`: its fact and its block's stored time.
pub(crate) fn fact_of(conn: &Connection, raw_id: i64, pending: Option<&Pending>) -> Result<(i64, Fact, Millis)> {
    let (block, slot) =
        place_of(conn, raw_id)?.ok_or_else(|| StoreError::Corrupt(format!("raw record {raw_id} is missing")))?;
    let missing = || StoreError::Corrupt(format!("raw record {raw_id}: its block {block} has no slot {slot}"));
    if let Some((stored_ms, facts)) = pending.and_then(|p| p.get(&block)) {
        return Ok((block, facts.get(slot).cloned().ok_or_else(missing)?, *stored_ms));
    }
    let (facts, stored_ms) = facts_of(conn, block)?;
    Ok((block, facts.get(slot).cloned().ok_or_else(missing)?, stored_ms))
}

/// Whether the record in slot `slot` of block `block` has native id `native_id`.
fn slot_is(
    conn: &Connection,
    block: i64,
    slot: i64,
    pending: Option<&Pending>,
    ids: &mut NativeIds,
    native_id: &str,
) -> Result<bool> {
    let missing = || StoreError::Corrupt(format!("raw block {block} has no slot {slot}"));
    if let Some((_, f)) = pending.and_then(|p| p.get(&block)) {
        return f.get(slot).map(|f| f.native_id.is(native_id)).ok_or_else(missing);
    }
    ids.slot(conn, block, slot)?.map(|id| id.is(native_id)).ok_or_else(missing)
}

/// The stored records of `source` whose native id is `native_id`, sought by key: row id,
/// content hash and block (none or one, unless the store holds a record twice). `ids` keeps the
/// facts read: a batch that meets many stored records (an import of records stored before) reads
/// each block's facts once.
pub(crate) fn find(
    conn: &Connection,
    source: Source,
    native_id: &str,
    pending: Option<&Pending>,
    ids: &mut NativeIds,
) -> Result<Vec<(i64, Option<i64>, i64)>> {
    let candidates: Vec<(i64, Option<i64>, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, content_hash, block_id, block_slot FROM raw_records INDEXED BY raw_records_key
             WHERE native_key = ?1 AND source_code = ?2",
        )?
        .query_map(params![crate::native_key(source.as_str(), native_id), source_code(source)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (id, hash, block, slot) in candidates {
        if slot_is(conn, block, slot, pending, ids, native_id)? {
            out.push((id, hash, block));
        }
    }
    Ok(out)
}

/// The records stored in block `block` whose facts are `facts`: `(row id, slot)` of each slot a
/// row still points at, in slot order. Each slot's record is sought by its key, as [`find`] does
/// (no index by block: migration 27); a row whose key matches but that points elsewhere (a later
/// version stored in another block, a record sharing the key) is not the slot's.
pub(crate) fn live_records(conn: &Connection, block: i64, facts: &Facts) -> Result<Vec<(i64, i64)>> {
    let mut st = conn.prepare_cached(
        "SELECT id FROM raw_records INDEXED BY raw_records_key WHERE native_key = ?1 AND block_id = ?2 AND block_slot = ?3",
    )?;
    let mut out = Vec::new();
    for (slot, fact) in facts.stored() {
        let source = fact.source.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "raw block {block}: slot {slot} names no source (facts from before migration 27)"
            ))
        })?;
        let key = crate::native_key(source.as_str(), &fact.native_id.text());
        if let Some(id) = st.query_row(params![key, block, slot], |r| r.get::<_, i64>(0)).optional()? {
            out.push((id, slot));
        }
    }
    Ok(out)
}

/// The bytes of raw record `id` (decompressed); `native_id` names it in errors.
pub(crate) fn read_raw(conn: &Connection, id: i64, native_id: &str, pending: Option<&Pending>) -> Result<Vec<u8>> {
    let corrupt = |e: StoreError| match e {
        StoreError::Corrupt(why) => StoreError::Corrupt(format!("raw record {native_id}: {why}")),
        e => e,
    };
    let (block, fact, _) = fact_of(conn, id, pending).map_err(corrupt)?;
    let data = data_of(conn, block, pending).map_err(corrupt)?;
    fact.bytes(&data).map(<[u8]>::to_vec).map_err(|why| StoreError::Corrupt(format!("raw record {native_id}: {why}")))
}

/// Writes the facts of the blocks a batch filled, and their origins (`origins`, by block).
pub(crate) fn write_pending(conn: &Connection, pending: &Pending, origins: &HashMap<i64, i64>) -> Result<()> {
    for (block, (stored_ms, facts)) in pending {
        insert_facts(conn, *block, *stored_ms, facts, origins.get(block).copied())?;
    }
    Ok(())
}

/// Writes block `block`'s facts, stored time and origin (`raw_facts`; the origin of its records
/// whose row names none, since migration 28, before which the column is not there: `None`
/// leaves it out).
pub(crate) fn insert_facts(
    conn: &Connection,
    block: i64,
    stored_ms: Millis,
    facts: &Facts,
    origin: Option<i64>,
) -> Result<()> {
    let frame = facts.encode().map_err(StoreError::Corrupt)?;
    match origin {
        None => conn
            .prepare_cached("INSERT INTO raw_facts (block_id, stored_ms, facts) VALUES (?1, ?2, ?3)")?
            .execute(params![block, stored_ms, frame])?,
        Some(origin) => conn
            .prepare_cached("INSERT INTO raw_facts (block_id, stored_ms, facts, origin_id) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![block, stored_ms, frame, origin])?,
    };
    Ok(())
}

/// SQL: the origin id of the `raw_records` row named `r`: its own, or its block's (migration 28).
pub(crate) const ORIGIN_ID_SQL: &str =
    "coalesce(r.origin_id, (SELECT f.origin_id FROM raw_facts AS f WHERE f.block_id = r.block_id))";

/// The origin (file or page) of raw record `raw_id`: its row's, or its block's. `pending`: the
/// origin id of its block when a batch is filling that block (its facts, which name the
/// block's origin, are written as the batch commits).
pub(crate) fn origin_of(conn: &Connection, raw_id: i64, pending: Option<i64>) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT (SELECT origin FROM raw_origins WHERE id = coalesce({ORIGIN_ID_SQL}, ?2))
             FROM raw_records AS r WHERE id = ?1"
        ))?
        .query_row(params![raw_id, pending], |r| r.get(0))?)
}

/// The rebuilt `raw_records` of migration 25 (also what [`undo`] leaves out).
const RAW_RECORDS_25: &str = "
    CREATE TABLE raw_records_v25 (
        id            INTEGER PRIMARY KEY,
        source_code   INTEGER NOT NULL,   -- blocks::source_code
        native_key    INTEGER NOT NULL,   -- crate::native_key(source, native id)
        block_id      INTEGER NOT NULL REFERENCES raw_blocks(id),
        block_slot    INTEGER NOT NULL,   -- its slot in the block's facts (native id, place, location)
        content_hash  INTEGER,
        origin_id     INTEGER,
        sso_block     INTEGER,
        source        TEXT    GENERATED ALWAYS AS (SOURCE_SQL) VIRTUAL
    );";

/// Migration 25: every record into a block (a record stored alone becomes a block of its own),
/// each block's facts written from its records' rows, and `raw_records` rebuilt without the
/// columns the facts now hold. Row ids are kept, so `raw_id` everywhere still points at the
/// same record. The view over events is dropped and made again around the rebuild.
pub(crate) fn migrate(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let unknown: Option<String> = tx
        .query_row(&format!("SELECT source FROM raw_records WHERE {} IS NULL LIMIT 1", code_sql("source")), [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(source) = unknown {
        return Err(StoreError::Corrupt(format!(
            "a raw record of source {source:?}, which this trailproof does not know; the database was left as it was"
        )));
    }
    // Records stored alone: a block each.
    {
        type Alone = (i64, String, Vec<u8>, Millis, Option<i64>, Option<i64>, Option<String>, String);
        let alone: Vec<Alone> = tx
            .prepare(
                "SELECT id, native_id, raw, stored_ms, loc_record, loc_byte, loc_text, source FROM raw_records
                 WHERE block_id IS NULL ORDER BY id",
            )?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut ins = tx.prepare("INSERT INTO raw_blocks (data) VALUES (?1)")?;
        let mut up = tx.prepare("UPDATE raw_records SET block_id = ?2, block_slot = 0, raw = x'' WHERE id = ?1")?;
        for (id, native_id, blob, stored_ms, rec, byte, text, source) in alone {
            let mut facts = Facts::default();
            facts.push(Fact {
                source: Source::parse(&source),
                native_id: NativeId::new(&native_id),
                span: None,
                loc: location(rec, byte, text),
            });
            ins.execute(params![blob])?;
            let block = tx.last_insert_rowid();
            insert_facts(tx, block, stored_ms, &facts, None)?;
            up.execute(params![id, block])?;
        }
    }
    // Blocks: a slot per record, in the order the records were stored.
    {
        type InBlock =
            (i64, i64, String, Option<i64>, Option<i64>, Millis, Option<i64>, Option<i64>, Option<String>, String);
        let mut st = tx.prepare(
            "SELECT id, block_id, native_id, block_start, block_len, stored_ms, loc_record, loc_byte, loc_text, source
             FROM raw_records WHERE block_id IS NOT NULL AND block_slot IS NULL ORDER BY block_id, id",
        )?;
        let rows: Vec<InBlock> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut slot_of = tx.prepare("UPDATE raw_records SET block_slot = ?2 WHERE id = ?1")?;
        let mut i = 0;
        while i < rows.len() {
            let block = rows[i].1;
            let (mut facts, mut stored) = (Facts::default(), Millis::MAX);
            while let Some((id, b, native_id, start, len, stored_ms, rec, byte, text, source)) = rows.get(i).cloned()
                && b == block
            {
                let span = start.zip(len).map(|(s, l)| (s.max(0) as u64, l.max(0) as u64));
                let span = span.ok_or_else(|| {
                    StoreError::Corrupt(format!("raw record {id} points into block {block} without its place there"))
                })?;
                let fact = Fact {
                    source: Source::parse(&source),
                    native_id: NativeId::new(&native_id),
                    span: Some(span),
                    loc: location(rec, byte, text),
                };
                slot_of.execute(params![id, facts.push(fact)])?;
                stored = stored.min(stored_ms);
                i += 1;
            }
            insert_facts(tx, block, stored, &facts, None)?;
        }
        // Blocks no record points into (a prune removes them): empty facts.
        tx.execute(
            "INSERT INTO raw_facts (block_id, stored_ms, facts)
             SELECT id, 0, ?1 FROM raw_blocks WHERE id NOT IN (SELECT block_id FROM raw_facts)",
            [Facts::default().encode().map_err(StoreError::Corrupt)?],
        )?;
    }
    tx.execute_batch("DROP VIEW IF EXISTS idp_events_full;")?;
    tx.execute_batch(&format!(
        "{}
        INSERT INTO raw_records_v25 (id, source_code, native_key, block_id, block_slot, content_hash, origin_id,
            sso_block)
        SELECT id, {}, native_key, block_id, block_slot, content_hash, origin_id, sso_block
        FROM raw_records ORDER BY id;
        DROP TABLE raw_records;
        ALTER TABLE raw_records_v25 RENAME TO raw_records;
        CREATE INDEX raw_records_key ON raw_records (native_key);
        CREATE INDEX raw_records_block ON raw_records (block_id);
        CREATE INDEX IF NOT EXISTS raw_history_raw ON raw_history (raw_id);",
        RAW_RECORDS_25.replace("SOURCE_SQL", &source_sql("source_code")),
        code_sql("source")
    ))?;
    tx.execute_batch(&view_sql(true))?;
    // The rebuild wrote the new rows before it dropped the old: a quarter of the file free inside
    // (93 MB of 372 on a simulated 10,000-user day), handed back here (0.3 s there).
    give_back_free_pages(tx)
}

/// `raw_records` as migration 27 rebuilds it: as migration 25 made it, without the foreign key
/// on `block_id` (with it, removing a block made SQLite seek rows by block, which needed an index
/// by block of 11 bytes a record; the prune finds a block's records from its facts instead,
/// [`live_records`]).
const RAW_RECORDS_27: &str = "
    CREATE TABLE raw_records_v27 (
        id            INTEGER PRIMARY KEY,
        source_code   INTEGER NOT NULL,   -- blocks::source_code
        native_key    INTEGER NOT NULL,   -- crate::native_key(source, native id)
        block_id      INTEGER NOT NULL,   -- raw_blocks(id)
        block_slot    INTEGER NOT NULL,   -- its slot in the block's facts (native id, place, location)
        content_hash  INTEGER,
        origin_id     INTEGER,
        sso_block     INTEGER,
        source        TEXT    GENERATED ALWAYS AS (SOURCE_SQL) VIRTUAL
    );";

/// Migration 27 (after its SQL noted the blocks no record points into, for the next prune):
/// every block's facts written again with each slot's source, from the row that points at the
/// slot (a slot no row points at takes its block's first source: sought by that key, it finds
/// no row pointing at it, as before), and their slots in the order of their records' bytes (as
/// an import now gives them, so they compress as well as before); then `raw_records` rebuilt
/// with the slots renumbered, without its index by block and the foreign key that needed it.
/// Row ids are kept.
pub(crate) fn migrate_sources(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "CREATE TEMP TABLE slots_27 (block_id INTEGER NOT NULL, before INTEGER NOT NULL, now INTEGER NOT NULL,
            PRIMARY KEY (block_id, before)) WITHOUT ROWID;",
    )?;
    {
        let blocks: Vec<i64> = tx
            .prepare("SELECT block_id FROM raw_facts ORDER BY block_id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut rows_st = tx.prepare(
            "SELECT block_id, block_slot, source_code FROM raw_records INDEXED BY raw_records_block ORDER BY block_id",
        )?;
        let mut rows =
            rows_st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?.peekable();
        let mut up = tx.prepare("UPDATE raw_facts SET facts = ?2 WHERE block_id = ?1")?;
        let mut renumber = tx.prepare("INSERT INTO temp.slots_27 (block_id, before, now) VALUES (?1, ?2, ?3)")?;
        for block in blocks {
            let (frame, _) = frame_of(tx, block)?;
            let mut facts = Facts::decode(&frame, block).map_err(StoreError::Corrupt)?;
            let mut first = None;
            while let Some(Ok((b, _, _))) = rows.peek()
                && *b <= block
            {
                let Some((b, slot, code)) = rows.next().transpose()? else { break };
                if b < block {
                    // A row pointing into a block without facts: the foreign key forbade it, and
                    // reading it would fail; left as it is.
                    continue;
                }
                let source = source_of_code(code).ok_or_else(|| {
                    StoreError::Corrupt(format!("raw record in block {block}: source code {code} is not known"))
                })?;
                if !facts.set_source(slot, source) {
                    return Err(StoreError::Corrupt(format!(
                        "a raw record points at slot {slot} of block {block}, which has none"
                    )));
                }
                first.get_or_insert(source);
            }
            facts.fill_sources(first.unwrap_or(Source::Okta));
            let (facts, moved) = facts.in_byte_order();
            for (before, now) in moved {
                renumber.execute(params![block, before, now])?;
            }
            up.execute(params![block, facts.encode().map_err(StoreError::Corrupt)?])?;
        }
        if let Some(row) = rows.next() {
            row?;
        }
    }
    tx.execute_batch(&format!(
        "DROP VIEW IF EXISTS idp_events_full;
        {}
        INSERT INTO raw_records_v27 (id, source_code, native_key, block_id, block_slot, content_hash, origin_id,
            sso_block)
        SELECT r.id, r.source_code, r.native_key, r.block_id, coalesce(s.now, r.block_slot), r.content_hash,
            r.origin_id, r.sso_block
        FROM raw_records AS r LEFT JOIN temp.slots_27 AS s ON s.block_id = r.block_id AND s.before = r.block_slot
        ORDER BY r.id;
        DROP TABLE raw_records;
        DROP TABLE temp.slots_27;
        ALTER TABLE raw_records_v27 RENAME TO raw_records;
        CREATE INDEX raw_records_key ON raw_records (native_key);",
        RAW_RECORDS_27.replace("SOURCE_SQL", &source_sql("source_code")),
    ))?;
    tx.execute_batch(&view_sql(true))?;
    give_back_free_pages(tx)
}

/// Hands the pages a migration freed back to the file system, on a store that returns freed
/// pages (created with incremental vacuum, see retention.rs); others keep them for reuse.
pub(crate) fn give_back_free_pages(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let auto_vacuum: i64 = tx.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if auto_vacuum == 2 {
        // Each step of the statement frees one page: run it to the end.
        let mut st = tx.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = st.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(())
}

/// `CREATE VIEW idp_events_full` as migration 20 made it (`current` false), or as migration 25
/// makes it: the event id through the block's facts, and the event's suffix as a column of its
/// own (for a writer that knows the record's native id while its block's facts are not written).
/// A view over a function the store registers: the `sqlite3` shell reads every table, but not
/// this view's event ids.
pub(crate) fn view_sql(current: bool) -> String {
    let m20 = crate::schema::MIGRATIONS[19];
    let view = m20.find("CREATE VIEW idp_events_full").map_or("", |at| &m20[at..]);
    if !current {
        return view.to_string();
    }
    view.replace(
        "r.native_id || coalesce(e.event_suffix, '') AS event_id",
        &format!("{NATIVE_ID_SQL} || coalesce(e.event_suffix, '') AS event_id"),
    )
    .replace(
        "e.app_ref, e.session_ref\n    FROM idp_events AS e",
        "e.app_ref, e.session_ref, e.event_suffix\n    FROM idp_events AS e",
    )
}

fn location(record: Option<i64>, byte: Option<i64>, text: Option<String>) -> Location {
    match (record, byte, text) {
        (_, _, Some(t)) => Location::Text(t),
        (Some(record), Some(byte), None) => Location::At { record, byte },
        // What `coalesce(loc_text, 'record ' || .. , '')` read as before.
        _ => Location::Text(String::new()),
    }
}

/// Takes a store of the latest schema back to what migration 24 left: the native keys of
/// migrations 20 to 25 again (migration 26 undone: its blocks of columns read as any block),
/// each record's place, location and stored time in its row again, the records of blocks of
/// their own stored alone, and no facts (for migration tests; `user_version` is left to the
/// caller).
pub(crate) fn undo(c: &Connection) -> Result<()> {
    // The 64-bit key whose shift by 17 gives the 47-bit key back (not the SHA-256 prefix
    // migration 20 wrote, whose low bits are gone, but one migration 26 maps to the same key).
    c.execute_batch("UPDATE raw_records SET native_key = native_key << 17")?;
    // Blocks compressed with their records' ids read only with their facts, which go: they are
    // compressed as migrations 18 to 25 wrote blocks.
    let with_ids: Vec<i64> = c
        .prepare("SELECT id FROM raw_blocks WHERE substr(data, 1, 12) = ?1")?
        .query_map([&raw::COLUMNS_IDS_HEADER[..]], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for block in with_ids {
        let data = data_of(c, block, None)?;
        c.execute("UPDATE raw_blocks SET data = ?2 WHERE id = ?1", params![block, raw::compress_block(&data)])?;
    }
    // Dropping the table the events point at (as `Store::open` migrates: foreign keys off).
    c.pragma_update(None, "foreign_keys", false)?;
    let undone = undo_rows(c);
    c.pragma_update(None, "foreign_keys", true)?;
    undone
}

fn undo_rows(c: &Connection) -> Result<()> {
    type Row = (i64, i64, i64);
    let rows: Vec<Row> = c
        .prepare("SELECT id, block_id, block_slot FROM raw_records ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    c.execute_batch(&format!(
        "DROP VIEW IF EXISTS idp_events_full;
         CREATE TABLE raw_records_v24 (
            id INTEGER PRIMARY KEY, source TEXT NOT NULL, native_id TEXT NOT NULL, native_key INTEGER NOT NULL,
            stored_ms INTEGER NOT NULL, raw BLOB NOT NULL, block_id INTEGER REFERENCES raw_blocks(id),
            block_start INTEGER, block_len INTEGER, content_hash INTEGER, origin_id INTEGER, loc_record INTEGER,
            loc_byte INTEGER, loc_text TEXT, sso_block INTEGER);
         INSERT INTO raw_records_v24 (id, source, native_id, native_key, stored_ms, raw, block_id, content_hash,
            origin_id, sso_block)
         SELECT id, {}, '', native_key, 0, x'', block_id, content_hash, {}, sso_block
         FROM raw_records AS r ORDER BY id;
         DROP TABLE raw_records;
         ALTER TABLE raw_records_v24 RENAME TO raw_records;
         CREATE INDEX raw_records_key ON raw_records (native_key);
         CREATE INDEX raw_records_block ON raw_records (block_id);",
        source_sql("source_code"),
        ORIGIN_ID_SQL
    ))?;
    let mut up = c.prepare(
        "UPDATE raw_records SET stored_ms = ?2, raw = ?3, block_id = ?4, block_start = ?5, block_len = ?6,
            loc_record = ?7, loc_byte = ?8, loc_text = ?9, native_id = ?10 WHERE id = ?1",
    )?;
    let mut alone = Vec::new();
    for (id, block, slot) in rows {
        let (facts, stored_ms) = facts_of(c, block)?;
        let fact = facts.get(slot).ok_or_else(|| StoreError::Corrupt(format!("raw record {id}: no slot {slot}")))?;
        let (rec, byte, text) = match &fact.loc {
            Location::At { record, byte } => (Some(*record), Some(*byte), None),
            Location::Text(t) => (None, None, Some(t.clone())),
        };
        match fact.span {
            Some((start, len)) => {
                let n = fact.native_id.text();
                up.execute(params![
                    id,
                    stored_ms,
                    Vec::<u8>::new(),
                    block,
                    start as i64,
                    len as i64,
                    rec,
                    byte,
                    text,
                    n
                ])?;
            }
            None => {
                let blob: Vec<u8> = c.query_row("SELECT data FROM raw_blocks WHERE id = ?1", [block], |r| r.get(0))?;
                let n = fact.native_id.text();
                up.execute(params![id, stored_ms, blob, None::<i64>, None::<i64>, None::<i64>, rec, byte, text, n])?;
                alone.push(block);
            }
        }
    }
    for block in alone {
        c.execute("DELETE FROM raw_blocks WHERE id = ?1", [block])?;
    }
    c.execute_batch("DROP TRIGGER raw_blocks_facts; DROP TABLE raw_facts;")?;
    c.execute_batch(&view_sql(false))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view is derived from migration 20's text: each change must have found its place.
    #[test]
    fn the_view_reads_event_ids_through_the_facts() {
        let (old, new) = (view_sql(false), view_sql(true));
        assert!(old.starts_with("CREATE VIEW idp_events_full AS") && old.contains("r.native_id ||"));
        assert!(!new.contains("r.native_id") && new.contains(NATIVE_ID_SQL));
        assert!(new.contains("e.session_ref, e.event_suffix"));
    }

    #[test]
    fn each_source_has_its_own_code_and_the_sql_gives_its_name_back() {
        let c = Connection::open_in_memory().unwrap();
        let mut codes = std::collections::HashSet::new();
        for s in Source::ALL {
            assert!(codes.insert(source_code(s)));
            let sql = format!("SELECT {}, {}", source_sql("?1"), code_sql("?2"));
            let (name, code): (String, i64) =
                c.query_row(&sql, params![source_code(s), s.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!((name.as_str(), code), (s.as_str(), source_code(s)));
        }
    }
}
