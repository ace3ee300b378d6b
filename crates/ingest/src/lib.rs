//! File import: the pipeline behind `trailproof import`.
//!
//! ```text
//! inputs ──► worker threads (one file at a time each):            ──► writer (caller's thread)
//!            open (gzip by magic) → split records (jsonrec)            batches into one transaction
//!            → prefilter → parse (source crate) → compress raw         each, coverage at the end
//! ```
//!
//! Invariants:
//! - Nothing is lost silently: every record found is counted exactly once as stored, duplicate,
//!   skipped or quarantined, and `read` is their sum.
//! - Memory is bounded by the channel (a few batches) and the largest record, not the input.
//! - Coverage is recorded only when it can be vouched for: from `--covers`, from a directory's
//!   `coverage.json`, or from the span of the records read, and in the last case only when every
//!   input was read to the end and nothing was quarantined (a record we could not read might be
//!   the one that matters).

pub mod input;
pub mod manifest;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

use trailproof_jsonrec::{Splitter, WrapperPath};
use trailproof_model::{AwsEvent, IdpEvent, Millis, ParseError, Parsed, Source};
use trailproof_store::{Batch, ImportCounts, Origin, RawRef, Store, StoreError, Stored, raw};

pub use input::{Input, collect_inputs};

use trailproof_source_cloudtrail as cloudtrail;
use trailproof_source_entra as entra;
use trailproof_source_google as google;
use trailproof_source_okta as okta;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}")]
    Path { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid coverage manifest: {why}")]
    Manifest { path: PathBuf, why: String },
    #[error("--format {format:?} is not a {src} format; choose one of: {choices}")]
    Format { src: Source, format: String, choices: &'static str },
    #[error("{origin}: {why}")]
    Page { origin: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The record shape to expect, per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Cloudtrail(cloudtrail::Format),
    Entra(entra::Format),
    /// Okta and Google have one shape each.
    Native,
}

impl Format {
    /// Reads `--format` for a source; `None` means auto-detect.
    pub fn for_source(source: Source, s: Option<&str>) -> Result<Format, IngestError> {
        let choices = Format::choices(source);
        let bad = || IngestError::Format { src: source, format: s.unwrap_or_default().to_string(), choices };
        match source {
            Source::Cloudtrail => Ok(Format::Cloudtrail(match s {
                None => cloudtrail::Format::Auto,
                Some(s) => cloudtrail::Format::parse(s).ok_or_else(bad)?,
            })),
            Source::Entra | Source::Adfs => Ok(Format::Entra(match s {
                None => entra::Format::Auto,
                Some(s) => entra::Format::parse(s).ok_or_else(bad)?,
            })),
            Source::Okta | Source::Google => match s {
                None | Some("auto") | Some("native") => Ok(Format::Native),
                Some(_) => Err(bad()),
            },
        }
    }

    pub fn choices(source: Source) -> &'static str {
        match source {
            Source::Cloudtrail => "auto, native, lookup-events, ecs",
            Source::Entra => "auto, graph, azure-monitor, log-analytics",
            Source::Adfs => "auto, azure-monitor, log-analytics",
            Source::Okta | Source::Google => "auto, native",
        }
    }
}

/// The wrapper objects each source's files come in (see `trailproof-jsonrec`).
pub fn wrappers(source: Source) -> &'static [WrapperPath] {
    match source {
        Source::Cloudtrail => &[&["Records"], &["Events"], &["hits", "hits"]],
        Source::Okta => &[&["hits", "hits"]],
        Source::Entra | Source::Adfs => &[&["value"], &["records"]],
        Source::Google => &[&["items"]],
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub source: Source,
    pub format: Format,
    /// `--covers START/END`: the user vouches the inputs hold every record of that span.
    pub covers: Option<(Millis, Millis)>,
    /// Overrides the coverage scope the records name (or `*` when they name none).
    pub scope: Option<String>,
    /// Parse threads; 0 = one per core.
    pub threads: usize,
    /// Records per transaction; the writer holds a transaction's records to write them sorted
    /// (see `write_chunks`). Each commit writes every page it touched, and a day's records touch
    /// every page of the unique indexes that deduplicate them: committing every 50,000 records
    /// rather than every 5,000 took a bulk import of 1.5 million Okta records from 116 s to
    /// 71 s (written as read). Sorted, 100,000 per commit took Okta and Entra 36.8 s and 31.6 s
    /// against 37.9 s and 34.1 s at 50,000, but peak memory went from 218 and 253 MB to 343 and
    /// 409 MB.
    pub batch_size: usize,
    /// Drop the secondary IdP indexes during the import and rebuild them at the end (see
    /// `trailproof_store::IndexSuspension`). `None`: for a large import into a store without
    /// IdP events (see [`bulk_worthwhile`]).
    pub bulk: Option<bool>,
}

impl ImportOptions {
    pub fn new(source: Source) -> ImportOptions {
        ImportOptions {
            source,
            format: Format::for_source(source, None).unwrap_or(Format::Native),
            covers: None,
            scope: None,
            threads: 0,
            batch_size: 50_000,
            bulk: None,
        }
    }
}

/// How the recorded coverage was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageBasis {
    /// `--covers`.
    Vouched,
    /// A directory's `coverage.json`.
    Manifest,
    /// The span of the records read.
    Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageRecorded {
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
    pub basis: CoverageBasis,
}

/// What an import did: the numbers its summary prints.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub counts: ImportCounts,
    pub files: u64,
    /// Bytes read from the inputs (compressed size for gzip files).
    pub bytes: u64,
    /// The first quarantine reasons, as `(location, reason)`.
    pub quarantine_examples: Vec<(String, String)>,
    /// Inputs that could not be read to the end, with why. Non-empty means the import is
    /// incomplete and the caller must exit non-zero.
    pub failed_inputs: Vec<(String, String)>,
    pub coverage: Vec<CoverageRecorded>,
    /// Why span coverage was not recorded, when it was not.
    pub coverage_withheld: Option<String>,
}

/// Progress, reported from the writer after each batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub records: u64,
}

enum Events {
    Aws(Vec<AwsEvent>),
    Idp(Vec<IdpEvent>),
}

enum Item {
    /// `raw`: `(start, len)` of the record's bytes in its chunk's block.
    Relevant {
        native_id: String,
        input: usize,
        location: String,
        raw: (usize, usize),
        events: Events,
    },
    Quarantine {
        input: usize,
        location: String,
        reason: String,
        raw: Vec<u8>,
    },
}

/// Items being gathered, with the raw bytes of the relevant ones appended to one block as they
/// are read (one copy of each record).
#[derive(Default)]
struct Gather {
    items: Vec<Item>,
    block: raw::Block,
}

impl Gather {
    /// The chunk, its block compressed here (by the worker that parsed it, so the single
    /// writer only stores it).
    fn finish(self) -> Chunk {
        Chunk { items: self.items, block: self.block.finish() }
    }
}

/// Items with the raw records of the relevant ones compressed together in one block.
struct Chunk {
    items: Vec<Item>,
    block: Vec<u8>,
}

#[derive(Default)]
struct Local {
    read: u64,
    skipped: u64,
    /// scope -> (min, max) of record times.
    span: BTreeMap<String, (Millis, Millis)>,
}

enum Msg {
    Items(Chunk),
    Done { input: usize, local: Local, error: Option<String> },
}

const MAX_EXAMPLES: usize = 5;

/// Records per chunk: a worker sends them to the writer with their raw bytes in one block.
const CHUNK: usize = 256;

fn location(index: u64, offset: u64) -> String {
    format!("record {} at byte {}", index + 1, offset)
}

/// One record's parse, whatever the source.
enum One {
    Relevant { native_id: String, events: Events },
    Irrelevant { time_ms: Option<Millis>, scope: Option<String> },
}

/// Parses one record for the source.
fn parse_one(source: Source, format: Format, raw: &[u8]) -> Result<One, ParseError> {
    fn map<E>(p: Parsed<E>, f: fn(Vec<E>) -> Events) -> One {
        match p {
            Parsed::Relevant { native_id, events } => One::Relevant { native_id, events: f(events) },
            Parsed::Irrelevant { time_ms, scope } => One::Irrelevant { time_ms, scope },
        }
    }
    Ok(match (source, format) {
        (Source::Cloudtrail, Format::Cloudtrail(f)) => map(cloudtrail::parse_record(raw, f)?, Events::Aws),
        (Source::Cloudtrail, _) => map(cloudtrail::parse_record(raw, cloudtrail::Format::Auto)?, Events::Aws),
        (Source::Entra | Source::Adfs, Format::Entra(f)) => map(entra::parse_record(raw, f)?, Events::Idp),
        (Source::Entra | Source::Adfs, _) => map(entra::parse_record(raw, entra::Format::Auto)?, Events::Idp),
        (Source::Okta, _) => map(okta::parse_record(raw)?, Events::Idp),
        (Source::Google, _) => map(google::parse_record(raw)?, Events::Idp),
    })
}

fn note_span(local: &mut Local, scope: Option<String>, t: Millis) {
    let key = scope.unwrap_or_else(|| "*".to_string());
    let e = local.span.entry(key).or_insert((t, t));
    e.0 = e.0.min(t);
    e.1 = e.1.max(t);
}

fn idp_scope(e: &IdpEvent) -> Option<String> {
    e.tenant.clone()
}

/// Turns one record into what must be written (nothing for a skipped record), counting it; a
/// relevant record's bytes go into `block`.
fn record_item(
    opts: &ImportOptions,
    rec: &trailproof_jsonrec::Record<'_>,
    input: usize,
    local: &mut Local,
    block: &mut raw::Block,
) -> Option<Item> {
    let source = opts.source;
    local.read += 1;
    let loc = location(rec.index, rec.offset);
    if rec.truncated {
        return Some(Item::Quarantine {
            input,
            location: loc,
            reason: "input ends inside this record (truncated file?)".into(),
            raw: rec.bytes.to_vec(),
        });
    }
    if source == Source::Cloudtrail && !cloudtrail::prefilter(rec.bytes) {
        local.skipped += 1;
        let (t, scope) = cloudtrail::peek_time_scope(rec.bytes);
        if let Some(t) = t {
            note_span(local, scope, t);
        }
        return None;
    }
    match parse_one(source, opts.format, rec.bytes) {
        Ok(One::Irrelevant { time_ms, scope }) => {
            local.skipped += 1;
            if let Some(t) = time_ms {
                note_span(local, scope, t);
            }
            None
        }
        Ok(One::Relevant { native_id, events }) => {
            match &events {
                Events::Aws(ev) => ev.iter().for_each(|e| note_span(local, cloudtrail::scope_of(e), e.time_ms)),
                Events::Idp(ev) => ev.iter().for_each(|e| note_span(local, idp_scope(e), e.time_ms)),
            }
            Some(Item::Relevant { native_id, input, location: loc, raw: block.push(rec.bytes), events })
        }
        Err(e) => Some(Item::Quarantine { input, location: loc, reason: e.to_string(), raw: rec.bytes.to_vec() }),
    }
}

/// Writes chunks of items into the batch, counting them in `report`.
///
/// The relevant records are written in the order of their native ids, not as read. The unique
/// indexes that deduplicate them are keyed by native id, which is random (a UUID for Okta and
/// Entra), so records written as read land on random pages of those indexes, and once the
/// indexes outgrow the page cache every record costs a page read and a page write. Written in
/// order, a batch walks each index once. (A model in Python of 1.5 million records with random
/// ids into two such indexes, 50,000 per commit, 64 MiB of page cache: 39.7 s as read, 24.8 s
/// sorted. trailproof's own figures are in BENCHMARKS.md.) Of records with the same native id,
/// the first read is stored and the others count as duplicates, as before.
///
/// Each chunk's block is stored with the first of its records written, and removed again if
/// none of them was new.
fn write_chunks(
    batch: &mut Batch<'_>,
    source: Source,
    names: &[String],
    chunks: &[Chunk],
    report: &mut ImportReport,
) -> Result<(), IngestError> {
    // (native id, chunk, input, location, place in the block, events)
    type Relevant<'c> = (&'c str, usize, usize, &'c str, (usize, usize), &'c Events);
    let mut order: Vec<Relevant<'_>> = Vec::new();
    for (c, chunk) in chunks.iter().enumerate() {
        for item in &chunk.items {
            match item {
                Item::Relevant { native_id, input, location, raw, events } => {
                    order.push((native_id, c, *input, location, *raw, events))
                }
                Item::Quarantine { input, location, reason, raw } => {
                    let at = Origin { origin: &names[*input], location };
                    batch.quarantine(source, at, reason, raw)?;
                    report.counts.quarantined += 1;
                    if report.quarantine_examples.len() < MAX_EXAMPLES {
                        report.quarantine_examples.push((format!("{} {}", names[*input], location), reason.clone()));
                    }
                }
            }
        }
    }
    // Stable: of equal ids, the one read first stays first.
    order.sort_by(|a, b| a.0.cmp(b.0));
    let mut block_ids: Vec<Option<i64>> = vec![None; chunks.len()];
    let mut new_in_block = vec![false; chunks.len()];
    for (native_id, c, input, location, (start, len), events) in order {
        let at = Origin { origin: &names[input], location };
        let block_id = match block_ids[c] {
            Some(id) => id,
            None => *block_ids[c].insert(batch.insert_block(&chunks[c].block)?),
        };
        let raw = RawRef::InBlock { block_id, start, len };
        let stored = match events {
            Events::Aws(ev) => batch.insert_aws(native_id, at, raw, ev)?,
            Events::Idp(ev) => batch.insert_idp(source, native_id, at, raw, ev)?,
        };
        match stored {
            Stored::New => {
                new_in_block[c] = true;
                report.counts.stored += 1
            }
            Stored::Duplicate => report.counts.duplicates += 1,
        }
    }
    for (id, new) in block_ids.into_iter().zip(new_in_block) {
        if let Some(id) = id
            && !new
        {
            batch.delete_block(id)?;
        }
    }
    Ok(())
}

/// What one page of records did (collectors: the page and its cursor go in one batch).
#[derive(Debug, Clone, Default)]
pub struct PageReport {
    pub counts: ImportCounts,
    /// Per coverage scope, the earliest and latest record time on the page.
    pub span: BTreeMap<String, (Millis, Millis)>,
    pub quarantine_examples: Vec<(String, String)>,
}

/// Parses and stores one page of records (an API response body, in any container the source's
/// files come in) into an open batch. The caller adds its checkpoint and coverage to the same
/// batch and commits: a page and its cursor land together or not at all.
pub fn ingest_page(
    batch: &mut Batch<'_>,
    opts: &ImportOptions,
    origin: &str,
    page: &[u8],
) -> Result<PageReport, IngestError> {
    let mut splitter = Splitter::new(page, wrappers(opts.source));
    let mut local = Local::default();
    let names = [origin.to_string()];
    let mut report = ImportReport::default();
    let mut chunk = Gather::default();
    loop {
        let rec = match splitter.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(IngestError::Page { origin: origin.to_string(), why: e.to_string() }),
        };
        if let Some(item) = record_item(opts, &rec, 0, &mut local, &mut chunk.block) {
            chunk.items.push(item);
        }
    }
    write_chunks(batch, opts.source, &names, &[chunk.finish()], &mut report)?;
    report.counts.read = local.read;
    report.counts.skipped = local.skipped;
    Ok(PageReport { counts: report.counts, span: local.span, quarantine_examples: report.quarantine_examples })
}

/// Reads one input to the end, sending batches of items.
fn read_input(
    opts: &ImportOptions,
    inputs: &[Input],
    idx: usize,
    counter: Arc<AtomicU64>,
    tx: &mpsc::SyncSender<Msg>,
) -> (Local, Option<String>) {
    let mut local = Local::default();
    let reader = match input::open(&inputs[idx], counter) {
        Ok(r) => r,
        Err(e) => return (local, Some(format!("cannot open: {e}"))),
    };
    let mut splitter = Splitter::new(reader, wrappers(opts.source));
    let mut chunk = Gather::default();
    loop {
        let rec = match splitter.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Msg::Items(std::mem::take(&mut chunk).finish()));
                let why = format!("{e} (after {} records)", local.read);
                return (local, Some(why));
            }
        };
        if let Some(item) = record_item(opts, &rec, idx, &mut local, &mut chunk.block) {
            chunk.items.push(item);
        }
        if chunk.items.len() >= CHUNK && tx.send(Msg::Items(std::mem::take(&mut chunk).finish())).is_err() {
            return (local, Some("import stopped".into()));
        }
    }
    if !chunk.items.is_empty() {
        let _ = tx.send(Msg::Items(chunk.finish()));
    }
    (local, None)
}

/// Whether an IdP import of `input_bytes` should drop the secondary indexes and rebuild them:
/// when it brings some 100,000 records or more into a store that holds no IdP events yet.
/// Records are counted as one per KiB of input (Google records are ~0.7 KiB, Okta ~2 KiB and
/// Entra ~2.8 KiB).
///
/// Since migration 9 the indexes by user and session leave out SSOs, and the one by application
/// takes SSOs in (application, time) order, so keeping them up costs little; a rebuild, though,
/// reads every stored event once per index. Measured on the 50,000-user day (2 cores): the Okta
/// day into an empty store took 40.8 s bulk and 42.3 s with the indexes up (means of 2), and the
/// Entra day into the store holding Okta's took 54.8 s bulk and 37.9 s with the indexes up.
pub fn bulk_worthwhile(source: Source, input_bytes: u64, stored_idp_rows: i64) -> bool {
    let records = (input_bytes / 1024) as i64;
    source != Source::Cloudtrail && records >= 100_000 && stored_idp_rows == 0
}

/// Imports the inputs into the store. Per-record problems are quarantined and counted; an
/// input that cannot be read to the end is reported in `failed_inputs` (the other inputs are
/// still imported).
pub fn import(
    store: &mut Store,
    inputs: &[Input],
    manifests: &[manifest::Entry],
    opts: &ImportOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<ImportReport, IngestError> {
    let bytes_total: u64 = inputs.iter().map(Input::size).sum();
    let bulk = match opts.bulk {
        Some(b) => b,
        None => bulk_worthwhile(opts.source, bytes_total, store.idp_rows_estimate()?),
    };
    let suspension = if bulk { store.suspend_indexes()? } else { None };
    let copier = store.copy_wal_in_background()?;
    let result = import_records(store, copier.as_ref(), inputs, manifests, opts, progress);
    if let Some(c) = copier {
        c.stop(store)?;
    }
    // Rebuilt on failure too; if this process dies first, the next open rebuilds them.
    if let Some(s) = suspension {
        store.resume_indexes(s)?;
    }
    result
}

fn import_records(
    store: &mut Store,
    copier: Option<&trailproof_store::WalCopier>,
    inputs: &[Input],
    manifests: &[manifest::Entry],
    opts: &ImportOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<ImportReport, IngestError> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0);
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
    } else {
        opts.threads
    }
    .clamp(1, inputs.len().max(1));
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let bytes_total: u64 = inputs.iter().map(Input::size).sum();
    let counter = Arc::new(AtomicU64::new(0));
    let next = AtomicUsize::new(0);
    // Room for a batch's worth of chunks: while the writer writes one batch, the workers parse
    // the next instead of stopping a few chunks ahead (Okta day at 50,000 users, one run each:
    // 27.8 s against 29.2 s with room for 8 chunks, peak memory 341 MB against 296 MB).
    let capacity = (opts.batch_size / CHUNK).max(threads * 4);
    let (tx, rx) = mpsc::sync_channel::<Msg>(capacity);
    let mut report = ImportReport { files: inputs.len() as u64, ..Default::default() };
    let mut span: BTreeMap<String, (Millis, Millis)> = BTreeMap::new();
    let mut prog = Progress { files_total: inputs.len() as u64, bytes_total, ..Default::default() };

    let result: Result<(), IngestError> = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, counter) = (&next, counter.clone());
            scope.spawn(move || {
                loop {
                    let idx = next.fetch_add(1, Ordering::Relaxed);
                    if idx >= inputs.len() {
                        break;
                    }
                    let (local, error) = read_input(opts, inputs, idx, counter.clone(), &tx);
                    if tx.send(Msg::Done { input: idx, local, error }).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // The writer: this thread. Chunks wait until a batch is full, then go in together,
        // sorted (see `write_chunks`).
        let mut pending: Vec<Chunk> = Vec::new();
        let mut in_batch = 0usize;
        for msg in rx {
            match msg {
                Msg::Items(chunk) => {
                    in_batch += chunk.items.len();
                    pending.push(chunk);
                    if in_batch >= opts.batch_size.max(1) {
                        let mut batch = store.batch()?;
                        write_chunks(&mut batch, opts.source, &names, &pending, &mut report)?;
                        batch.commit()?;
                        if let Some(c) = copier {
                            c.restart_if_long(store, trailproof_store::RESTART_BYTES)?;
                        }
                        pending.clear();
                        in_batch = 0;
                    }
                }
                Msg::Done { input, local, error } => {
                    report.counts.read += local.read;
                    report.counts.skipped += local.skipped;
                    let in_manifest = matches!(&inputs[input], Input::File { in_manifest_dir: true, .. });
                    if !in_manifest {
                        for (k, (lo, hi)) in local.span {
                            let e = span.entry(k).or_insert((lo, hi));
                            e.0 = e.0.min(lo);
                            e.1 = e.1.max(hi);
                        }
                    }
                    if let Some(e) = error {
                        report.failed_inputs.push((names[input].clone(), e));
                    }
                    prog.files_done += 1;
                }
            }
            prog.bytes_done = counter.load(Ordering::Relaxed);
            prog.records =
                report.counts.read.max(report.counts.stored + report.counts.duplicates + report.counts.quarantined);
            progress(&prog);
        }
        let mut batch = store.batch()?;
        write_chunks(&mut batch, opts.source, &names, &pending, &mut report)?;
        batch.commit()?;
        Ok(())
    });
    result?;
    report.bytes = counter.load(Ordering::Relaxed);
    report.counts.read =
        report.counts.skipped + report.counts.stored + report.counts.duplicates + report.counts.quarantined;

    // Coverage, in one transaction with the import log line.
    let mut batch = store.batch()?;
    if let Some((start, end)) = opts.covers {
        let mut scopes: Vec<String> = span.keys().cloned().collect();
        if let Some(s) = &opts.scope {
            scopes = vec![s.clone()];
        } else if scopes.is_empty() {
            scopes.push("*".into());
        }
        for scope in scopes {
            batch.add_coverage(opts.source, &scope, start, end)?;
            report.coverage.push(CoverageRecorded {
                scope,
                start_ms: start,
                end_ms: end,
                basis: CoverageBasis::Vouched,
            });
        }
    } else {
        for m in manifests {
            let scope = opts.scope.clone().unwrap_or_else(|| m.scope.clone());
            batch.add_coverage(opts.source, &scope, m.start_ms, m.end_ms)?;
            report.coverage.push(CoverageRecorded {
                scope,
                start_ms: m.start_ms,
                end_ms: m.end_ms,
                basis: CoverageBasis::Manifest,
            });
        }
        if !report.failed_inputs.is_empty() {
            report.coverage_withheld =
                Some(format!("{} input(s) could not be read to the end", report.failed_inputs.len()));
        } else if !span.is_empty() {
            if report.counts.quarantined > 0 {
                report.coverage_withheld = Some(format!(
                    "{} record(s) were quarantined and may have been the ones that matter; fix them and re-import, or pass --covers START/END to vouch for the span",
                    report.counts.quarantined
                ));
            } else {
                let mut merged: BTreeMap<String, (Millis, Millis)> = BTreeMap::new();
                for (k, (lo, hi)) in span {
                    let key = opts.scope.clone().unwrap_or(k);
                    let e = merged.entry(key).or_insert((lo, hi));
                    e.0 = e.0.min(lo);
                    e.1 = e.1.max(hi);
                }
                for (scope, (lo, hi)) in merged {
                    batch.add_coverage(opts.source, &scope, lo, hi)?;
                    report.coverage.push(CoverageRecorded {
                        scope,
                        start_ms: lo,
                        end_ms: hi,
                        basis: CoverageBasis::Span,
                    });
                }
            }
        }
    }
    let origin = if names.len() == 1 { names[0].clone() } else { format!("{} inputs", names.len()) };
    batch.log_import(opts.source, &origin, started, &report.counts)?;
    batch.commit()?;
    Ok(report)
}
