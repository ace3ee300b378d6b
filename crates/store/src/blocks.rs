//! Raw records in blocks (migration 25). Every raw record lives in a `raw_blocks` row: a block
//! of up to 1,024 records compressed together (what an import writes), or a block of its own (a
//! record stored alone, [`RawRef::Deflated`]). What the record's row used to say of its bytes
//! (where they lie in the block, where the record was read, when it was stored) the block says
//! instead: `facts` (one [`Fact`] per slot, [`Facts`]) and `stored_ms` (a block is written by one
//! batch). The row keeps what is sought or compared: its source, native id and key, its block and
//! slot, its content hash, its origin and its SSO frame.
//!
//! A batch fills the facts of the blocks it writes in memory and writes them as it commits
//! ([`crate::Batch::commit`]); what it reads of its own blocks before then it reads from memory
//! (`pending`).

use crate::raw::{self, Fact, Facts, Location};
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use trailproof_model::{Millis, Source};

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

/// The facts of blocks a batch is filling, by block id (not written yet).
pub(crate) type Pending = HashMap<i64, Facts>;

/// A stored record's block and slot.
pub(crate) fn place_of(conn: &Connection, raw_id: i64) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT block_id, block_slot FROM raw_records WHERE id = ?1")?
        .query_row([raw_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Block `block`'s facts and the time it was stored, from `pending` when the caller's batch is
/// filling it.
pub(crate) fn facts_of(conn: &Connection, block: i64, pending: Option<&Pending>) -> Result<(Facts, Millis)> {
    let corrupt = |why: String| StoreError::Corrupt(format!("raw block {block}: {why}"));
    let (frame, stored_ms): (Option<Vec<u8>>, Option<Millis>) = conn
        .prepare_cached("SELECT facts, stored_ms FROM raw_blocks WHERE id = ?1")?
        .query_row([block], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| corrupt("it is missing".into()))?;
    if let Some(facts) = pending.and_then(|p| p.get(&block)) {
        return Ok((facts.clone(), stored_ms.unwrap_or(0)));
    }
    let frame = frame.ok_or_else(|| corrupt("it has no facts".into()))?;
    Ok((Facts::decode(&frame, block).map_err(StoreError::Corrupt)?, stored_ms.unwrap_or(0)))
}

/// Block `block`'s data, decompressed.
pub(crate) fn data_of(conn: &Connection, block: i64) -> Result<Vec<u8>> {
    let blob: Vec<u8> = conn
        .prepare_cached("SELECT data FROM raw_blocks WHERE id = ?1")?
        .query_row([block], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("raw block {block} is missing")))?;
    raw::decompress(&blob).map_err(|e| StoreError::Corrupt(format!("raw block {block}: {e}")))
}

/// What a block says of stored record `raw_id`: its fact and its block's stored time.
pub(crate) fn fact_of(conn: &Connection, raw_id: i64, pending: Option<&Pending>) -> Result<(i64, Fact, Millis)> {
    let (block, slot) =
        place_of(conn, raw_id)?.ok_or_else(|| StoreError::Corrupt(format!("raw record {raw_id} is missing")))?;
    let (facts, stored_ms) = facts_of(conn, block, pending)?;
    let fact = facts
        .get(slot)
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("raw record {raw_id}: its block {block} has no slot {slot}")))?;
    Ok((block, fact, stored_ms))
}

/// The bytes of raw record `id` (decompressed); `native_id` names it in errors.
pub(crate) fn read_raw(conn: &Connection, id: i64, native_id: &str, pending: Option<&Pending>) -> Result<Vec<u8>> {
    let corrupt = |e: StoreError| match e {
        StoreError::Corrupt(why) => StoreError::Corrupt(format!("raw record {native_id}: {why}")),
        e => e,
    };
    let (block, fact, _) = fact_of(conn, id, pending).map_err(corrupt)?;
    let data = data_of(conn, block).map_err(corrupt)?;
    fact.bytes(&data).map(<[u8]>::to_vec).map_err(|why| StoreError::Corrupt(format!("raw record {native_id}: {why}")))
}

/// Writes the facts of the blocks a batch filled.
pub(crate) fn write_pending(conn: &Connection, pending: &Pending) -> Result<()> {
    let mut st = conn.prepare_cached("UPDATE raw_blocks SET facts = ?2 WHERE id = ?1")?;
    for (block, facts) in pending {
        st.execute(params![block, facts.encode().map_err(StoreError::Corrupt)?])?;
    }
    Ok(())
}

/// The rebuilt `raw_records` of migration 25 (also what [`undo`] leaves out).
const RAW_RECORDS_25: &str = "
    CREATE TABLE raw_records_v25 (
        id            INTEGER PRIMARY KEY,
        source_code   INTEGER NOT NULL,   -- blocks::source_code
        native_id     TEXT    NOT NULL,
        native_key    INTEGER NOT NULL,   -- crate::native_key(source, native_id)
        block_id      INTEGER NOT NULL REFERENCES raw_blocks(id),
        block_slot    INTEGER NOT NULL,   -- its slot in the block's facts
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
        type Alone = (i64, Vec<u8>, Millis, Option<i64>, Option<i64>, Option<String>);
        let alone: Vec<Alone> = tx
            .prepare(
                "SELECT id, raw, stored_ms, loc_record, loc_byte, loc_text FROM raw_records
                 WHERE block_id IS NULL ORDER BY id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut ins = tx.prepare("INSERT INTO raw_blocks (data, stored_ms, facts) VALUES (?1, ?2, ?3)")?;
        let mut up = tx.prepare("UPDATE raw_records SET block_id = ?2, block_slot = 0, raw = x'' WHERE id = ?1")?;
        for (id, blob, stored_ms, rec, byte, text) in alone {
            let mut facts = Facts::default();
            facts.push(Fact { span: None, loc: location(rec, byte, text) });
            ins.execute(params![blob, stored_ms, facts.encode().map_err(StoreError::Corrupt)?])?;
            up.execute(params![id, tx.last_insert_rowid()])?;
        }
    }
    // Blocks: a slot per record, in the order the records were stored.
    {
        type InBlock = (i64, i64, Option<i64>, Option<i64>, Millis, Option<i64>, Option<i64>, Option<String>);
        let mut st = tx.prepare(
            "SELECT id, block_id, block_start, block_len, stored_ms, loc_record, loc_byte, loc_text
             FROM raw_records WHERE block_id IS NOT NULL AND block_slot IS NULL ORDER BY block_id, id",
        )?;
        let rows: Vec<InBlock> = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut slot_of = tx.prepare("UPDATE raw_records SET block_slot = ?2 WHERE id = ?1")?;
        let mut facts_of = tx.prepare("UPDATE raw_blocks SET facts = ?2, stored_ms = ?3 WHERE id = ?1")?;
        let mut i = 0;
        while i < rows.len() {
            let block = rows[i].1;
            let (mut facts, mut stored) = (Facts::default(), Millis::MAX);
            while let Some((id, b, start, len, stored_ms, rec, byte, text)) = rows.get(i).cloned()
                && b == block
            {
                let span = start.zip(len).map(|(s, l)| (s.max(0) as u64, l.max(0) as u64));
                let span = span.ok_or_else(|| {
                    StoreError::Corrupt(format!("raw record {id} points into block {block} without its place there"))
                })?;
                slot_of.execute(params![id, facts.push(Fact { span: Some(span), loc: location(rec, byte, text) })])?;
                stored = stored.min(stored_ms);
                i += 1;
            }
            facts_of.execute(params![block, facts.encode().map_err(StoreError::Corrupt)?, stored])?;
        }
        // Blocks no record points into (a prune removes them): empty facts.
        tx.execute(
            "UPDATE raw_blocks SET facts = ?1 WHERE facts IS NULL",
            [Facts::default().encode().map_err(StoreError::Corrupt)?],
        )?;
    }
    let view: Option<String> = tx
        .query_row("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'idp_events_full'", [], |r| r.get(0))
        .optional()?;
    tx.execute_batch("DROP VIEW IF EXISTS idp_events_full;")?;
    tx.execute_batch(&format!(
        "{}
        INSERT INTO raw_records_v25 (id, source_code, native_id, native_key, block_id, block_slot, content_hash,
            origin_id, sso_block)
        SELECT id, {}, native_id, native_key, block_id, block_slot, content_hash, origin_id, sso_block
        FROM raw_records ORDER BY id;
        DROP TABLE raw_records;
        ALTER TABLE raw_records_v25 RENAME TO raw_records;
        CREATE INDEX raw_records_key ON raw_records (native_key);
        CREATE INDEX raw_records_block ON raw_records (block_id);",
        RAW_RECORDS_25.replace("SOURCE_SQL", &source_sql("source_code")),
        code_sql("source")
    ))?;
    if let Some(view) = view {
        tx.execute_batch(&view)?;
    }
    // The rebuild wrote the new rows before it dropped the old: a quarter of the file free inside
    // (93 MB of 372 on a simulated 10,000-user day). A store that returns freed pages (created
    // with incremental vacuum, see retention.rs) hands it back here (0.3 s there).
    let auto_vacuum: i64 = tx.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if auto_vacuum == 2 {
        // Each step of the statement frees one page: run it to the end.
        let mut st = tx.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = st.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(())
}

fn location(record: Option<i64>, byte: Option<i64>, text: Option<String>) -> Location {
    match (record, byte, text) {
        (_, _, Some(t)) => Location::Text(t),
        (Some(record), Some(byte), None) => Location::At { record, byte },
        // What `coalesce(loc_text, 'record ' || .. , '')` read as before.
        _ => Location::Text(String::new()),
    }
}

/// Takes a store back to what migration 24 left: each record's place, location and stored
/// time in its row again, the records of blocks of their own stored alone, and no facts (for
/// migration tests; `user_version` is left to the caller).
pub(crate) fn undo(c: &Connection) -> Result<()> {
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
    let view: Option<String> = c
        .query_row("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'idp_events_full'", [], |r| r.get(0))
        .optional()?;
    c.execute_batch(&format!(
        "DROP VIEW IF EXISTS idp_events_full;
         CREATE TABLE raw_records_v24 (
            id INTEGER PRIMARY KEY, source TEXT NOT NULL, native_id TEXT NOT NULL, native_key INTEGER NOT NULL,
            stored_ms INTEGER NOT NULL, raw BLOB NOT NULL, block_id INTEGER REFERENCES raw_blocks(id),
            block_start INTEGER, block_len INTEGER, content_hash INTEGER, origin_id INTEGER, loc_record INTEGER,
            loc_byte INTEGER, loc_text TEXT, sso_block INTEGER);
         INSERT INTO raw_records_v24 (id, source, native_id, native_key, stored_ms, raw, block_id, content_hash,
            origin_id, sso_block)
         SELECT id, {}, native_id, native_key, 0, x'', block_id, content_hash, origin_id, sso_block
         FROM raw_records ORDER BY id;
         DROP TABLE raw_records;
         ALTER TABLE raw_records_v24 RENAME TO raw_records;
         CREATE INDEX raw_records_key ON raw_records (native_key);
         CREATE INDEX raw_records_block ON raw_records (block_id);",
        source_sql("source_code")
    ))?;
    let mut up = c.prepare(
        "UPDATE raw_records SET stored_ms = ?2, raw = ?3, block_id = ?4, block_start = ?5, block_len = ?6,
            loc_record = ?7, loc_byte = ?8, loc_text = ?9 WHERE id = ?1",
    )?;
    let mut alone = Vec::new();
    for (id, block, slot) in rows {
        let (facts, stored_ms) = facts_of(c, block, None)?;
        let fact = facts.get(slot).ok_or_else(|| StoreError::Corrupt(format!("raw record {id}: no slot {slot}")))?;
        let (rec, byte, text) = match &fact.loc {
            Location::At { record, byte } => (Some(*record), Some(*byte), None),
            Location::Text(t) => (None, None, Some(t.clone())),
        };
        match fact.span {
            Some((start, len)) => {
                up.execute(params![id, stored_ms, Vec::<u8>::new(), block, start as i64, len as i64, rec, byte, text])?;
            }
            None => {
                let blob: Vec<u8> = c.query_row("SELECT data FROM raw_blocks WHERE id = ?1", [block], |r| r.get(0))?;
                up.execute(params![id, stored_ms, blob, None::<i64>, None::<i64>, None::<i64>, rec, byte, text])?;
                alone.push(block);
            }
        }
    }
    for block in alone {
        c.execute("DELETE FROM raw_blocks WHERE id = ?1", [block])?;
    }
    c.execute_batch("ALTER TABLE raw_blocks DROP COLUMN facts; ALTER TABLE raw_blocks DROP COLUMN stored_ms;")?;
    if let Some(view) = view {
        c.execute_batch(&view)?;
    }
    Ok(())
}
