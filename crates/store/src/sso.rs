//! SSOs to applications are stored in compressed frames, not one row each (migration 24, issue
//! 18). They are some 94 % of an organisation's IdP events (a simulated 3,000-user day: 189,672
//! events, 178,000 of them SSOs), and correlation reads only those to the AWS applications, by
//! application and time: a row each, with four indexes over it, cost some 120 bytes an SSO
//! (BENCHMARKS.md, "The store per IdP record").
//!
//! A frame (`sso_blocks.frame`) holds up to [`FRAME_ROWS`] SSOs of one provider, each as
//! [`SsoRow`]: the columns `idp_events` held (strings by their `idp_strings` id, the application
//! by its `idp_app_refs` id), sorted by time and record, times and record ids written as
//! differences, encoded with postcard and compressed with zstd. Since version 2 a frame is
//! written column by column, and a user's other names (e-mail, user id, display name, name in
//! the application) as differences from the login's string id ([`Columns`]).
//! - The writer gathers a batch's SSOs by application: all SSOs of one record go into the frame
//!   of its first SSO's application, so correlation, which reads the AWS applications' SSOs,
//!   inflates their frames and few others. `sso_block_apps` names, for each application, the
//!   frames holding its SSOs and the latest time in each, so a reader seeks the frames of an
//!   application that reach a time.
//! - A record finds its SSOs through `raw_records.sso_block`: the frame holding them all.
//! - SSOs of one millisecond are read in the order of their records' row ids (the order the
//!   records were first stored), then as the record gave them.

use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trailproof_model::Millis;

/// SSOs per frame at most: a frame of 1,024 inflates in some 0.1 ms.
pub(crate) const FRAME_ROWS: usize = 1024;

/// One SSO as a frame holds it: `idp_events`' columns but the provider (the frame's) and the
/// kind (always `app_sso`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SsoRow {
    pub(crate) raw_id: i64,
    pub(crate) time_ms: Millis,
    pub(crate) outcome: String,
    pub(crate) tenant: Option<i64>,
    pub(crate) native_type: Option<i64>,
    pub(crate) outcome_reason: Option<i64>,
    pub(crate) login: Option<i64>,
    pub(crate) email: Option<i64>,
    pub(crate) user_id: Option<i64>,
    pub(crate) display_name: Option<i64>,
    pub(crate) app_username: Option<i64>,
    pub(crate) app: Option<i64>,
    pub(crate) session: Option<i64>,
    pub(crate) source_ip: Option<i64>,
    pub(crate) user_agent: Option<i64>,
    pub(crate) asn: Option<i64>,
    pub(crate) as_org: Option<i64>,
    pub(crate) country: Option<String>,
    pub(crate) mfa: Option<i64>,
    pub(crate) factors: Option<i64>,
    pub(crate) auth_requirement: Option<i64>,
    pub(crate) event_suffix: Option<String>,
}

impl SsoRow {
    /// Its event id, given its record's native id.
    pub(crate) fn event_id(&self, native_id: &str) -> String {
        format!("{native_id}{}", self.event_suffix.as_deref().unwrap_or(""))
    }

    /// The `idp_strings` ids this SSO points at.
    pub(crate) fn string_refs(&self) -> [Option<i64>; 15] {
        [
            self.session,
            self.login,
            self.email,
            self.user_id,
            self.display_name,
            self.app_username,
            self.source_ip,
            self.user_agent,
            self.tenant,
            self.native_type,
            self.outcome_reason,
            self.as_org,
            self.mfa,
            self.factors,
            self.auth_requirement,
        ]
    }
}

/// [`SsoRow`] as encoded: the time and record id as differences from the row before.
#[derive(Serialize, Deserialize)]
struct Encoded<'a> {
    raw_id_delta: i64,
    time_delta: i64,
    outcome: &'a str,
    refs: [Option<i64>; 15],
    app: Option<i64>,
    asn: Option<i64>,
    country: Option<&'a str>,
    event_suffix: Option<&'a str>,
}

/// A frame's rows as written since version 2: column by column (the time and record id as
/// differences from the row before), so that zstd finds each column's values next to each
/// other: outcomes, tenants, factors and the like cost next to nothing, where between the
/// rows' identifiers they were paid for in every row.
#[derive(Serialize, Deserialize, Default)]
struct Columns {
    raw_id_delta: Vec<i64>,
    time_delta: Vec<i64>,
    outcome: Vec<String>,
    refs: [Vec<Option<i64>>; 15],
    app: Vec<Option<i64>>,
    asn: Vec<Option<i64>>,
    country: Vec<Option<String>>,
    event_suffix: Vec<Option<String>>,
}

/// Where the login is among [`SsoRow::string_refs`], and the user's other names, which version 2
/// writes as differences from the login's string id: a user's names are met first together, so
/// their ids mostly differ by the same few, a column zstd makes next to nothing of.
const LOGIN: usize = 1;
const BY_LOGIN: [usize; 4] = [2, 3, 4, 5];

/// Ref `k` of an SSO whose login ref is `login`, written (`op` subtracting) or read (adding):
/// the user's other names relative to the login when both are there, the others as they are.
fn relative(k: usize, login: Option<i64>, value: Option<i64>, op: fn(i64, i64) -> i64) -> Option<i64> {
    match (login, value) {
        (Some(l), Some(v)) if BY_LOGIN.contains(&k) => Some(op(v, l)),
        _ => value,
    }
}

/// The first byte of a frame's data, before compression: the encoding's version. 1: a row
/// after another ([`Encoded`]); 2: column by column ([`Columns`]).
const FRAME_VERSION: u8 = 2;

/// Sorts `rows` into reading order: by time, then record (stable: a record's SSOs stay in the
/// order it gave them).
pub(crate) fn sort_rows(rows: &mut [SsoRow]) {
    rows.sort_by_key(|r| (r.time_ms, r.raw_id));
}

/// A frame of `rows` (sorted first, see [`sort_rows`]).
pub(crate) fn encode(rows: &mut [SsoRow]) -> Result<Vec<u8>> {
    sort_rows(rows);
    let mut c = Columns::default();
    let (mut raw_id, mut time) = (0i64, 0i64);
    for r in rows.iter() {
        c.raw_id_delta.push(r.raw_id.wrapping_sub(raw_id));
        c.time_delta.push(r.time_ms.wrapping_sub(time));
        c.outcome.push(r.outcome.clone());
        let refs = r.string_refs();
        for (k, (column, value)) in c.refs.iter_mut().zip(refs).enumerate() {
            column.push(relative(k, refs[LOGIN], value, i64::wrapping_sub));
        }
        c.app.push(r.app);
        c.asn.push(r.asn);
        c.country.push(r.country.clone());
        c.event_suffix.push(r.event_suffix.clone());
        raw_id = r.raw_id;
        time = r.time_ms;
    }
    let mut data = vec![FRAME_VERSION];
    data = postcard::to_extend(&c, data).map_err(corrupt_encoding)?;
    Ok(crate::raw::compress_block(&data))
}

fn corrupt_encoding(e: postcard::Error) -> StoreError {
    StoreError::Corrupt(format!("an SSO frame could not be encoded: {e}"))
}

/// The rows of a frame, in reading order. `block` names it in errors.
pub(crate) fn decode(frame: &[u8], block: i64) -> Result<Vec<SsoRow>> {
    let corrupt = |why: String| StoreError::Corrupt(format!("SSO frame {block}: {why}"));
    let data = crate::raw::decompress(frame).map_err(|e| corrupt(e.to_string()))?;
    let Some((&version, rest)) = data.split_first() else {
        return Err(corrupt("it is empty".into()));
    };
    if version == 1 {
        return decode_rows(rest, &corrupt);
    }
    if version != FRAME_VERSION {
        return Err(corrupt(format!("encoding version {version} is not known to this trailproof")));
    }
    let (c, rest) = postcard::take_from_bytes::<Columns>(rest).map_err(|e| corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} bytes follow its last column", rest.len())));
    }
    let n = c.raw_id_delta.len();
    let lengths =
        [c.time_delta.len(), c.outcome.len(), c.app.len(), c.asn.len(), c.country.len(), c.event_suffix.len()];
    if lengths.into_iter().chain(c.refs.iter().map(Vec::len)).any(|l| l != n) {
        return Err(corrupt(format!("its columns are not all {n} rows long")));
    }
    let mut refs = c.refs.map(Vec::into_iter);
    let mut out = Vec::with_capacity(n);
    let (mut raw_id, mut time) = (0i64, 0i64);
    let rows = c.raw_id_delta.into_iter().zip(c.time_delta).zip(c.outcome).zip(c.app).zip(c.asn).zip(c.country);
    for ((((((dr, dt), outcome), app), asn), country), event_suffix) in rows.zip(c.event_suffix) {
        raw_id = raw_id.wrapping_add(dr);
        time = time.wrapping_add(dt);
        let mut r: [Option<i64>; 15] = std::array::from_fn(|k| refs[k].next().flatten());
        let login = r[LOGIN];
        for (k, value) in r.iter_mut().enumerate() {
            *value = relative(k, login, *value, i64::wrapping_add);
        }
        out.push(row(raw_id, time, outcome, r, app, asn, country, event_suffix));
    }
    Ok(out)
}

/// An SSO from its columns (`refs` in the order of [`SsoRow::string_refs`]).
#[allow(clippy::too_many_arguments)]
fn row(
    raw_id: i64,
    time_ms: Millis,
    outcome: String,
    refs: [Option<i64>; 15],
    app: Option<i64>,
    asn: Option<i64>,
    country: Option<String>,
    event_suffix: Option<String>,
) -> SsoRow {
    let [
        session,
        login,
        email,
        user_id,
        display_name,
        app_username,
        source_ip,
        user_agent,
        tenant,
        native_type,
        outcome_reason,
        as_org,
        mfa,
        factors,
        auth_requirement,
    ] = refs;
    SsoRow {
        raw_id,
        time_ms,
        outcome,
        tenant,
        native_type,
        outcome_reason,
        login,
        email,
        user_id,
        display_name,
        app_username,
        app,
        session,
        source_ip,
        user_agent,
        asn,
        as_org,
        country,
        mfa,
        factors,
        auth_requirement,
        event_suffix,
    }
}

/// The rows of a frame of version 1 (`rest`: its data after the version byte).
fn decode_rows(rest: &[u8], corrupt: &dyn Fn(String) -> StoreError) -> Result<Vec<SsoRow>> {
    let (n, mut rest) = postcard::take_from_bytes::<u64>(rest).map_err(|e| corrupt(e.to_string()))?;
    // Each row takes at least a byte: a count past the bytes left is a lie, not a reason to
    // allocate.
    let n =
        usize::try_from(n).ok().filter(|n| *n <= rest.len()).ok_or_else(|| corrupt(format!("it claims {n} rows")))?;
    let mut out = Vec::with_capacity(n);
    let (mut raw_id, mut time) = (0i64, 0i64);
    for _ in 0..n {
        let (e, next) = postcard::take_from_bytes::<Encoded<'_>>(rest).map_err(|e| corrupt(e.to_string()))?;
        rest = next;
        raw_id = raw_id.wrapping_add(e.raw_id_delta);
        time = time.wrapping_add(e.time_delta);
        let (app, asn) = (e.app, e.asn);
        let (country, suffix) = (e.country.map(str::to_string), e.event_suffix.map(str::to_string));
        out.push(row(raw_id, time, e.outcome.to_string(), e.refs, app, asn, country, suffix));
    }
    if !rest.is_empty() {
        return Err(corrupt(format!("{} bytes follow its last row", rest.len())));
    }
    Ok(out)
}

/// A stored frame's provider and rows (`None`: no such frame).
pub(crate) fn read_block(conn: &Connection, block: i64) -> Result<Option<(String, Vec<SsoRow>)>> {
    let found: Option<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT provider, frame FROM sso_blocks WHERE id = ?1")?
        .query_row([block], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        None => Ok(None),
        Some((provider, frame)) if frame.is_empty() => Ok(Some((provider, Vec::new()))),
        Some((provider, frame)) => Ok(Some((provider, decode(&frame, block)?))),
    }
}

/// The event id of SSO `r`: its record's native id (through its block's facts) and its suffix.
pub(crate) fn event_id_of(conn: &Connection, ids: &mut crate::blocks::NativeIds, r: &SsoRow) -> Result<String> {
    Ok(r.event_id(&ids.of(conn, r.raw_id)?))
}

/// The SSOs whose event id is `event_id` of `provider`, with their frame and their record's
/// native id: found through the (at most two) records the id may belong to (see
/// [`crate::verdicts::RECORDS_OF_IDP_EVENT`]).
pub(crate) fn rows_of_event(conn: &Connection, provider: &str, event_id: &str) -> Result<Vec<(i64, String, SsoRow)>> {
    let records: Vec<(i64, String, i64)> = conn
        .prepare_cached(&format!(
            "SELECT id, {}, sso_block FROM raw_records AS r INDEXED BY raw_records_key
             WHERE {} AND sso_block IS NOT NULL",
            crate::blocks::NATIVE_ID_SQL,
            crate::verdicts::RECORDS_OF_IDP_EVENT
        ))?
        .query_map(params![provider, event_id, crate::verdicts::native_id_of(event_id)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (raw_id, native_id, block) in records {
        let Some((_, rows)) = read_block(conn, block)? else {
            return Err(StoreError::Corrupt(format!("raw record {native_id}: its SSO frame {block} is missing")));
        };
        for r in rows.into_iter().filter(|r| r.raw_id == raw_id) {
            if r.event_id(&native_id) == event_id {
                out.push((block, native_id.clone(), r));
            }
        }
    }
    Ok(out)
}

/// The application key of `sso_block_apps` for an SSO's application (0: none).
fn app_key(app: Option<i64>) -> i64 {
    app.unwrap_or(0)
}

/// The keys of `sso_block_apps` a frame of `rows` is sought by.
pub(crate) fn apps_of(rows: &[SsoRow]) -> BTreeSet<i64> {
    rows.iter().map(|r| app_key(r.app)).collect()
}

/// Writes frame `block` with `rows` (or removes it when there are none), and its rows of
/// `sso_block_apps`. The block's row must exist (a frame being gathered has one, empty);
/// `held` is [`apps_of`] what it holds now (the caller has read it; empty for a frame being
/// gathered), whose seek rows go.
pub(crate) fn store_block(conn: &Connection, block: i64, held: &BTreeSet<i64>, rows: &mut [SsoRow]) -> Result<()> {
    if !held.is_empty() {
        let max_ms: Option<Millis> = conn
            .prepare_cached("SELECT max_ms FROM sso_blocks WHERE id = ?1")?
            .query_row([block], |r| r.get(0))
            .optional()?;
        let mut del =
            conn.prepare_cached("DELETE FROM sso_block_apps WHERE app_ref = ?1 AND max_ms = ?2 AND block_id = ?3")?;
        for a in held {
            del.execute(params![a, max_ms, block])?;
        }
    }
    if rows.is_empty() {
        conn.prepare_cached("DELETE FROM sso_blocks WHERE id = ?1")?.execute([block])?;
        return Ok(());
    }
    let frame = encode(rows)?;
    let (min_ms, max_ms) = (rows[0].time_ms, rows[rows.len() - 1].time_ms);
    // A frame written for the first time may be pruned from its earliest time on; one written
    // again (rows taken out) keeps what the prune noted.
    conn.prepare_cached(
        "UPDATE sso_blocks SET min_ms = ?2, max_ms = ?3, events = ?4, frame = ?5,
            prune_from_ms = coalesce(prune_from_ms, ?2) WHERE id = ?1",
    )?
    .execute(params![block, min_ms, max_ms, rows.len() as i64, frame])?;
    let mut ins =
        conn.prepare_cached("INSERT OR IGNORE INTO sso_block_apps (app_ref, max_ms, block_id) VALUES (?1, ?2, ?3)")?;
    for a in apps_of(rows) {
        ins.execute(params![a, max_ms, block])?;
    }
    Ok(())
}

/// A new, empty frame row of `provider` (filled by [`store_block`]); its id.
pub(crate) fn new_block(conn: &Connection, provider: &str) -> Result<i64> {
    conn.prepare_cached("INSERT INTO sso_blocks (provider, min_ms, max_ms, events, frame) VALUES (?1, 0, 0, 0, x'')")?
        .execute([provider])?;
    Ok(conn.last_insert_rowid())
}

/// The frames holding SSOs to any of `apps` (their `idp_app_refs` ids) at `from..=to`, with
/// their provider and earliest time, by earliest time.
pub(crate) fn blocks_for(
    conn: &Connection,
    apps: &[i64],
    from: Millis,
    to: Millis,
) -> Result<Vec<(Millis, i64, String)>> {
    let mut ids = BTreeSet::new();
    let mut st = conn.prepare_cached("SELECT block_id FROM sso_block_apps WHERE app_ref = ?1 AND max_ms >= ?2")?;
    for a in apps {
        for id in st.query_map(params![a, from], |r| r.get::<_, i64>(0))? {
            ids.insert(id?);
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut st = conn.prepare_cached("SELECT min_ms, provider FROM sso_blocks WHERE id = ?1 AND min_ms <= ?2")?;
    for id in ids {
        if let Some((min_ms, provider)) =
            st.query_row(params![id, to], |r| Ok((r.get::<_, Millis>(0)?, r.get::<_, String>(1)?))).optional()?
        {
            out.push((min_ms, id, provider));
        }
    }
    out.sort();
    Ok(out)
}

/// Calls `f` with each SSO to `apps` at `from..=to` held by `blocks` (as [`blocks_for`] gives
/// them), in reading order: by time, then record, then as the record gave them. A frame is
/// inflated only once the SSOs before its earliest time are all given, so no more frames are
/// held at once than overlap in time.
pub(crate) fn merge(
    conn: &Connection,
    blocks: &[(Millis, i64, String)],
    apps: &BTreeSet<i64>,
    from: Millis,
    to: Millis,
    f: &mut dyn FnMut(&str, &SsoRow) -> Result<()>,
) -> Result<()> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // Open frames: their place in `blocks` and the rows kept of them.
    let mut open: Vec<(usize, Vec<SsoRow>)> = Vec::new();
    // (time, record, frame's place in `blocks`, row): the next row of each open frame.
    let mut heap: BinaryHeap<Reverse<(Millis, i64, usize, usize)>> = BinaryHeap::new();
    let mut next = 0;
    loop {
        while next < blocks.len() && heap.peek().is_none_or(|Reverse(h)| blocks[next].0 <= h.0) {
            let (_, id, _) = &blocks[next];
            let rows: Vec<SsoRow> = read_block(conn, *id)?
                .map(|(_, rows)| rows)
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.time_ms >= from && r.time_ms <= to && r.app.is_some_and(|a| apps.contains(&a)))
                .collect();
            if let Some(first) = rows.first() {
                heap.push(Reverse((first.time_ms, first.raw_id, open.len(), 0)));
                open.push((next, rows));
            }
            next += 1;
        }
        let Some(Reverse((_, _, o, i))) = heap.pop() else { break };
        let (b, rows) = &open[o];
        f(&blocks[*b].2, &rows[i])?;
        if let Some(r) = rows.get(i + 1) {
            heap.push(Reverse((r.time_ms, r.raw_id, o, i + 1)));
        } else {
            // The frame is done: give its memory back.
            open[o].1 = Vec::new();
        }
    }
    Ok(())
}

/// Rows a write batch gathers at most before it writes its largest frame early (some 3 MB): an
/// import of many applications would otherwise hold up to [`FRAME_ROWS`] rows for each.
const GATHER_MAX: usize = 8 * FRAME_ROWS;

/// The frames a write batch is filling: per provider and application, the frame open for it
/// (its row exists, empty, from [`new_block`]) and the rows gathered so far. A frame is written
/// once it holds [`FRAME_ROWS`] rows (or is the largest when the batch holds [`GATHER_MAX`]),
/// and the rest by [`Gather::finish`] before the batch commits.
#[derive(Debug, Default)]
pub(crate) struct Gather {
    open: std::collections::HashMap<(String, i64), i64>,
    rows: std::collections::HashMap<i64, Vec<SsoRow>>,
    total: usize,
}

impl Gather {
    /// The frame the SSOs of a record whose first SSO names `app` go into (opened if needed).
    pub(crate) fn target(&mut self, conn: &Connection, provider: &str, app: Option<i64>) -> Result<i64> {
        if self.total >= GATHER_MAX
            && let Some(largest) = self.rows.iter().max_by_key(|(_, r)| r.len()).map(|(b, _)| *b)
        {
            self.write(conn, largest)?;
        }
        let key = (provider.to_string(), app_key(app));
        if let Some(block) = self.open.get(&key) {
            if self.rows.get(block).is_none_or(|r| r.len() < FRAME_ROWS) {
                return Ok(*block);
            }
            let block = *block;
            self.write(conn, block)?;
        }
        let block = new_block(conn, provider)?;
        self.open.insert(key, block);
        self.rows.insert(block, Vec::new());
        Ok(block)
    }

    /// Adds a row to frame `block`, which [`Gather::target`] gave for its record.
    pub(crate) fn push(&mut self, block: i64, row: SsoRow) -> Result<()> {
        let rows = self.rows.get_mut(&block).ok_or_else(|| {
            StoreError::Corrupt(format!("an SSO of record {} was given frame {block}, not being filled", row.raw_id))
        })?;
        rows.push(row);
        self.total += 1;
        Ok(())
    }

    /// The rows of record `raw_id` if frame `block` is one being filled (`None`: it is stored).
    pub(crate) fn record_rows(&self, block: i64, raw_id: i64) -> Option<Vec<SsoRow>> {
        Some(self.rows.get(&block)?.iter().filter(|r| r.raw_id == raw_id).cloned().collect())
    }

    /// Takes out the rows of record `raw_id` if frame `block` is one being filled (`None`: it
    /// is not; it is stored).
    pub(crate) fn take_record(&mut self, block: i64, raw_id: i64) -> Option<Vec<SsoRow>> {
        let rows = self.rows.get_mut(&block)?;
        let (taken, kept): (Vec<SsoRow>, Vec<SsoRow>) =
            std::mem::take(rows).into_iter().partition(|r| r.raw_id == raw_id);
        *rows = kept;
        self.total -= taken.len();
        Some(taken)
    }

    fn write(&mut self, conn: &Connection, block: i64) -> Result<()> {
        let mut rows = self.rows.remove(&block).unwrap_or_default();
        self.total -= rows.len();
        self.open.retain(|_, b| *b != block);
        store_block(conn, block, &BTreeSet::new(), &mut rows)
    }

    /// Writes every frame being filled.
    pub(crate) fn finish(&mut self, conn: &Connection) -> Result<()> {
        let blocks: Vec<i64> = self.rows.keys().copied().collect();
        for block in blocks {
            self.write(conn, block)?;
        }
        Ok(())
    }
}

/// Removes record `raw_id`'s rows from stored frame `block`; returns them.
pub(crate) fn remove_record(conn: &Connection, block: i64, raw_id: i64) -> Result<Vec<SsoRow>> {
    let Some((_, rows)) = read_block(conn, block)? else { return Ok(Vec::new()) };
    let held = apps_of(&rows);
    let (taken, mut kept): (Vec<SsoRow>, Vec<SsoRow>) = rows.into_iter().partition(|r| r.raw_id == raw_id);
    if !taken.is_empty() {
        store_block(conn, block, &held, &mut kept)?;
    }
    Ok(taken)
}

/// Migration 24: moves the SSOs stored as rows of `idp_events` into frames, record by record as
/// the writer gathers them, notes each record's frame, and removes the rows and their index.
pub(crate) fn migrate_rows(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let mut gather = Gather::default();
    let mut current: Option<(i64, i64)> = None; // (record, its frame)
    {
        let mut st =
            tx.prepare(&format!("{} WHERE e.kind = 'app_sso' ORDER BY e.raw_id, e.id", crate::snapshot::idp_select()))?;
        let mut note = tx.prepare("UPDATE raw_records SET sso_block = ?2 WHERE id = ?1")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let r = crate::snapshot::IdpRow::read(r)?;
            let provider = r.provider.clone();
            let row = r.into_sso();
            let block = match current {
                Some((raw, block)) if raw == row.raw_id => block,
                _ => {
                    let block = gather.target(tx, &provider, row.app)?;
                    note.execute(params![row.raw_id, block])?;
                    current = Some((row.raw_id, block));
                    block
                }
            };
            gather.push(block, row)?;
        }
    }
    gather.finish(tx)?;
    tx.execute_batch(
        "DROP INDEX IF EXISTS idp_events_sso_app;
         DELETE FROM idp_events WHERE kind = 'app_sso';",
    )?;
    Ok(())
}

/// Takes a store back to what migration 23 left: its SSOs as rows of `idp_events` again (in
/// reading order), with their index, and no frames.
pub(crate) fn undo_frames(c: &Connection) -> Result<()> {
    let frames: Vec<(i64, String, Vec<u8>)> = c
        .prepare("SELECT id, provider, frame FROM sso_blocks ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut rows = Vec::new();
    for (id, provider, frame) in frames {
        if !frame.is_empty() {
            rows.extend(decode(&frame, id)?.into_iter().map(|r| (provider.clone(), r)));
        }
    }
    rows.sort_by_key(|(_, r)| (r.time_ms, r.raw_id));
    let mut ins = c
        .prepare(
            "INSERT INTO idp_events (provider, event_suffix, time_ms, kind, outcome, app_ref, session_ref, user_login_ref,
                user_email_ref, user_id_ref, display_name_ref, app_username_ref, source_ip_ref, user_agent_ref, tenant_ref,
                native_type_ref, outcome_reason_ref, asn, as_org_ref, country, mfa_ref, factors_ref, auth_requirement_ref,
                user_login_fold, raw_id)
             VALUES (?1, ?2, ?3, 'app_sso', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                ?21, ?22, NULL, ?23)",
        )?;
    for (p, r) in rows {
        ins.execute(params![
            p,
            r.event_suffix,
            r.time_ms,
            r.outcome,
            r.app,
            r.session,
            r.login,
            r.email,
            r.user_id,
            r.display_name,
            r.app_username,
            r.source_ip,
            r.user_agent,
            r.tenant,
            r.native_type,
            r.outcome_reason,
            r.asn,
            r.as_org,
            r.country,
            r.mfa,
            r.factors,
            r.auth_requirement,
            r.raw_id
        ])?;
    }
    c.execute_batch(
        "CREATE INDEX idp_events_sso_app ON idp_events (app_ref, time_ms) WHERE kind = 'app_sso';
         DROP TABLE sso_block_apps; DROP TABLE sso_blocks;
         ALTER TABLE raw_records DROP COLUMN sso_block;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(raw_id: i64, time_ms: Millis, app: i64) -> SsoRow {
        SsoRow {
            raw_id,
            time_ms,
            outcome: "success".into(),
            app: Some(app),
            login: Some(raw_id % 7),
            country: Some("NL".into()),
            ..Default::default()
        }
    }

    proptest! {
        /// A frame gives back what it was given, sorted by time and record.
        #[test]
        fn a_frame_reads_back_sorted(rows in proptest::collection::vec(
            (0i64..1_000_000, -5_000_000_000_000i64..5_000_000_000_000, 0i64..5, any::<Option<i64>>(),
             proptest::option::of("[a-z#0-9]{0,5}"), "[a-z]{0,8}"), 0..60),
            names in proptest::collection::vec(any::<[Option<i64>; 5]>(), 60)) {
            let mut given: Vec<SsoRow> = rows.iter().zip(names).map(|((id, t, app, asn, suffix, outcome), n)| SsoRow {
                raw_id: *id, time_ms: *t, app: Some(*app), asn: *asn, event_suffix: suffix.clone(),
                outcome: outcome.clone(), session: Some(*id ^ 3), login: n[0], email: n[1], user_id: n[2],
                display_name: n[3], app_username: n[4], ..Default::default()
            }).collect();
            let frame = encode(&mut given.clone())?;
            let back = decode(&frame, 1)?;
            given.sort_by_key(|r| (r.time_ms, r.raw_id));
            prop_assert_eq!(back, given);
        }
    }

    #[test]
    fn a_damaged_frame_is_an_error_not_a_panic() {
        let frame = encode(&mut [row(1, 10, 1), row(2, 20, 1)]).unwrap();
        let data = crate::raw::decompress(&frame).unwrap();
        for cut in 0..data.len() {
            let short = crate::raw::compress_block(&data[..cut]);
            assert!(decode(&short, 7).is_err(), "cut at {cut}");
        }
        let mut longer = data.clone();
        longer.push(0);
        assert!(decode(&crate::raw::compress_block(&longer), 7).is_err());
        let mut other = data;
        other[0] = 9;
        let e = decode(&crate::raw::compress_block(&other), 7).unwrap_err().to_string();
        assert!(e.contains("SSO frame 7") && e.contains("version 9"), "{e}");
        assert!(decode(b"not a frame", 7).is_err());
    }

    /// A frame written a row after another (version 1, migration 24 to 27) reads as before.
    #[test]
    fn a_frame_of_rows_reads_as_before() {
        let mut rows = vec![row(5, 10, 1), row(3, 20, 2)];
        rows[1].email = Some(40);
        rows[1].event_suffix = Some("#1".into());
        let mut data = vec![1u8];
        data = postcard::to_extend(&(rows.len() as u64), data).unwrap();
        let (mut raw_id, mut time) = (0i64, 0i64);
        for r in &rows {
            let e = Encoded {
                raw_id_delta: r.raw_id - raw_id,
                time_delta: r.time_ms - time,
                outcome: &r.outcome,
                refs: r.string_refs(),
                app: r.app,
                asn: r.asn,
                country: r.country.as_deref(),
                event_suffix: r.event_suffix.as_deref(),
            };
            (raw_id, time) = (r.raw_id, r.time_ms);
            data = postcard::to_extend(&e, data).unwrap();
        }
        assert_eq!(decode(&crate::raw::compress_block(&data), 1).unwrap(), rows);
        // Written again, it is version 2.
        let again = encode(&mut rows.clone()).unwrap();
        assert_eq!(crate::raw::decompress(&again).unwrap()[0], 2);
        assert_eq!(decode(&again, 1).unwrap(), rows);
    }

    /// Many applications at once: the batch never holds much more than [`GATHER_MAX`] rows, and
    /// every row ends in the frame its record was given.
    #[test]
    fn gathering_many_applications_writes_early_and_loses_nothing() {
        let store = crate::Store::open_in_memory().unwrap();
        let conn = store.conn();
        let mut g = Gather::default();
        let mut given = std::collections::BTreeMap::<i64, Vec<i64>>::new();
        for raw_id in 0..30_000i64 {
            let app = raw_id % 40;
            let block = g.target(conn, "okta", Some(app)).unwrap();
            g.push(block, row(raw_id, raw_id, app)).unwrap();
            given.entry(block).or_default().push(raw_id);
            assert!(g.total <= GATHER_MAX + 1, "{} rows held", g.total);
        }
        g.finish(conn).unwrap();
        assert_eq!(g.total, 0);
        let mut frames = 0;
        for (block, ids) in given {
            let (_, rows) = read_block(conn, block).unwrap().expect("each frame given was written");
            assert_eq!(rows.iter().map(|r| r.raw_id).collect::<Vec<_>>(), ids);
            assert!(rows.len() <= FRAME_ROWS);
            frames += 1;
        }
        let stored: i64 = conn.query_row("SELECT count(*) FROM sso_blocks", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, frames);
        // A frame no longer being filled takes no rows.
        assert!(g.push(1, row(1, 1, 1)).is_err());
    }

    #[test]
    fn merge_gives_every_kept_row_in_order_across_overlapping_frames() {
        let store = crate::Store::open_in_memory().unwrap();
        let conn = store.conn();
        // Three frames of two applications whose times interleave, and a fourth far later.
        let frames: Vec<Vec<SsoRow>> = vec![
            (0..50).map(|i| row(i, 100 + 3 * i, 1)).collect(),
            (50..100).map(|i| row(i, 90 + 2 * (i - 50), 2)).collect(),
            (100..130).map(|i| row(i, 100 + 3 * (i - 100), 1)).collect(),
            (130..140).map(|i| row(i, 10_000 + i, 1)).collect(),
        ];
        let mut all = Vec::new();
        for rows in &frames {
            let id = new_block(conn, "okta").unwrap();
            store_block(conn, id, &BTreeSet::new(), &mut rows.clone()).unwrap();
            all.extend(rows.iter().cloned());
        }
        for (apps, from, to) in [(vec![1, 2], 0, i64::MAX), (vec![1], 120, 200), (vec![2], 0, 95), (vec![3], 0, 1000)] {
            let set: BTreeSet<i64> = apps.iter().copied().collect();
            let blocks = blocks_for(conn, &apps, from, to).unwrap();
            let mut got = Vec::new();
            merge(conn, &blocks, &set, from, to, &mut |p, r| {
                assert_eq!(p, "okta");
                got.push(r.clone());
                Ok(())
            })
            .unwrap();
            let mut want: Vec<SsoRow> = all
                .iter()
                .filter(|r| r.time_ms >= from && r.time_ms <= to && set.contains(&r.app.unwrap()))
                .cloned()
                .collect();
            want.sort_by_key(|r| (r.time_ms, r.raw_id));
            assert_eq!(got, want, "apps {apps:?} {from}..={to}");
        }
        // Rewriting a frame moves its seek rows; emptying it removes it.
        let mut fewer = frames[1][..10].to_vec();
        store_block(conn, 2, &apps_of(&frames[1]), &mut fewer).unwrap();
        assert_eq!(blocks_for(conn, &[2], 110, i64::MAX).unwrap(), vec![]);
        assert_eq!(blocks_for(conn, &[2], 0, i64::MAX).unwrap().len(), 1);
        store_block(conn, 2, &apps_of(&fewer), &mut []).unwrap();
        assert_eq!(blocks_for(conn, &[2], 0, i64::MAX).unwrap(), vec![]);
        let n: i64 =
            conn.query_row("SELECT count(*) FROM sso_block_apps WHERE block_id = 2", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }
}
