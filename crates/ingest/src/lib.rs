//! File import: the pipeline behind `trailproof import`.
//!
//! ```text
//! inputs ──► worker threads (one file at a time each):                  ──► writer (caller's thread)
//!            open (gzip by magic) → split records (jsonrec) → unwrap        batches into one transaction
//!            envelopes → source named or detected → prefilter → parse       each, coverage at the end
//!            (source crate) → compress raw
//! ```
//!
//! Each record the splitter finds is unwrapped (`trailproof-envelope`: EventBridge, CloudWatch
//! Logs / Firehose, Okta Event Hooks, Splunk, Elastic `event.original`), and each record inside
//! goes to its source: the one the command names (`import okta …`), or, for `import auto …`, the
//! one its keys name (`trailproof_envelope::sniff`), record by record, so a mixed file is fine.
//! A record of another source than the one named is **foreign**: not stored, counted, and the
//! import fails naming the source it looks like.
//!
//! Invariants:
//! - Nothing is lost silently: every record found (inside its envelopes) is counted exactly once
//!   as stored, updated, duplicate, skipped, quarantined or foreign, and `read` is their sum. An
//!   IdP record already stored with other content is *updated*: the later version replaces the
//!   normalized events (the earlier bytes are kept; see `trailproof_store::Batch::insert_idp_record`);
//!   the same bytes again, or other bytes with the same events, are a duplicate. An auto
//!   import of an input none of whose records is recognisable fails that input instead (its
//!   records are not counted: the input is reported as failed).
//! - Memory is bounded by the channel (a few batches) and the largest record, not the input,
//!   plus, per worker, one small file read whole (at most 16 MiB, and 64 MiB decompressed;
//!   see [`input::open_whole`]).
//! - Coverage is recorded only when it can be vouched for: from `--covers`, from a directory's
//!   `coverage.json`, or from the span of the records read. Span coverage is decided per input
//!   file ([`coverage`]): a problem in one file (a quarantined or foreign record, a tail that
//!   could not be read) withholds the span around that file's records only; a problem file with
//!   no datable record withholds everything of its source. A foreign record anywhere withholds
//!   `--covers` and `coverage.json` coverage too (the command named the wrong source).

pub mod checkpoint;
pub mod coverage;
mod dupkeys;
pub mod input;
pub mod manifest;
pub mod plausible;
mod read;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

use trailproof_envelope::{Envelope, PAGE_WRAPPERS};
use trailproof_jsonrec::{Splitter, WrapperPath};
use trailproof_model::{IdpEvent, Millis, Source};
use trailproof_store::{Batch, ImportCounts, Origin, RawRef, Store, StoreError, Stored, raw};

pub use coverage::Withheld;
pub use input::{Input, collect_inputs};
pub use read::{Events, ReadOutcome, RecordOutcome, RecordRead, read_records};

use read::{Emitted, Reader};
use trailproof_source_cloudtrail as cloudtrail;
use trailproof_source_entra as entra;

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
    /// Okta and Google have one shape each; an auto import detects each record's shape.
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
                // Graph holds no AD FS sign-ins.
                Some(s) => entra::Format::parse(s)
                    .filter(|f| !(source == Source::Adfs && *f == entra::Format::Graph))
                    .ok_or_else(bad)?,
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

/// The wrapper objects each source's own files come in (see `trailproof-jsonrec`).
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
    /// The source the command names; `None` (`import auto`) detects each record's source.
    pub source: Option<Source>,
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
    /// The time the import runs at: no coverage is recorded past it, and a record later than it
    /// plus `future_skew_ms` is quarantined ([`plausible`]).
    pub now_ms: Millis,
    /// How far past `now_ms` a record's time may lie (clock skew); default one day.
    pub future_skew_ms: Millis,
}

impl ImportOptions {
    pub fn new(source: Source) -> ImportOptions {
        ImportOptions {
            source: Some(source),
            format: Format::for_source(source, None).unwrap_or(Format::Native),
            covers: None,
            scope: None,
            threads: 0,
            batch_size: 50_000,
            bulk: None,
            now_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as Millis),
            future_skew_ms: plausible::DEFAULT_FUTURE_SKEW_MS,
        }
    }

    /// `import auto`: each record's source is detected.
    pub fn auto() -> ImportOptions {
        ImportOptions { source: None, format: Format::Native, ..ImportOptions::new(Source::Cloudtrail) }
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
    pub source: Source,
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
    pub basis: CoverageBasis,
}

/// What an import did: the numbers its summary prints.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Every source together; `read` also counts the foreign records.
    pub counts: ImportCounts,
    /// Per source the records were filed under (the named one, or each detected one).
    pub by_source: BTreeMap<Source, ImportCounts>,
    /// Records of another source than the one the command names: not stored.
    pub foreign: u64,
    /// Per input with foreign records: the input and the source most of them look like.
    pub foreign_inputs: Vec<(String, Source, u64)>,
    /// The first foreign records, as `(location, the source it looks like)`.
    pub foreign_examples: Vec<(String, Source)>,
    /// How many records the splitter found were each envelope.
    pub envelopes: BTreeMap<Envelope, u64>,
    pub files: u64,
    /// Bytes read from the inputs (compressed size for gzip files).
    pub bytes: u64,
    /// The first quarantine reasons, as `(location, reason)`.
    pub quarantine_examples: Vec<(String, String)>,
    /// Inputs that could not be read to the end (or, in an auto import, were not recognised),
    /// with why. Non-empty means the import is incomplete and the caller must exit non-zero.
    pub failed_inputs: Vec<(String, String)>,
    pub coverage: Vec<CoverageRecorded>,
    /// Span coverage withheld, and because of which input.
    pub withheld: Vec<Withheld>,
    /// Why coverage was not recorded (in part or at all), in a sentence, when it was not.
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

enum Item {
    /// `raw`: `(start, len)` of the record's bytes in its chunk's block.
    Relevant {
        source: Source,
        native_id: String,
        input: usize,
        location: String,
        raw: (usize, usize),
        /// `trailproof_store::content_hash` of an IdP record's bytes (computed here, on the
        /// parse workers), so the writer tells a later version from a copy; CloudTrail records
        /// do not change once delivered (`None`).
        hash: Option<i64>,
        events: Events,
    },
    Quarantine {
        source: Source,
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

/// What a worker learnt of one input (the writer counts what it stores).
#[derive(Default)]
struct Local {
    skipped: BTreeMap<Source, u64>,
    quarantined: u64,
    foreign: BTreeMap<Source, u64>,
    foreign_examples: Vec<(String, Source)>,
    /// (source, scope) -> (min, max) of record times.
    span: BTreeMap<(Source, String), (Millis, Millis)>,
    all: Option<(Millis, Millis)>,
    problem: coverage::Touches,
    envelopes: BTreeMap<Envelope, u64>,
    /// Records counted so far (for progress and error messages).
    read: u64,
}

impl Local {
    fn new() -> Local {
        Local::default()
    }
}

enum Msg {
    Items(Chunk),
    Done { input: usize, local: Local, error: Option<String> },
}

const MAX_EXAMPLES: usize = 5;

/// What the splitter splits by: the named source's own page wrappers (each wrapper the splitter
/// probes for costs it time on every record: all six took a CloudTrail import 10 % longer), or,
/// for an auto import, every source's ([`PAGE_WRAPPERS`]). A page of another source that the
/// splitter leaves whole is opened by `trailproof_envelope::unwrap`, so its records are still
/// named one by one.
pub(crate) fn split_wrappers(opts: &ImportOptions) -> &'static [WrapperPath] {
    match opts.source {
        Some(s) => wrappers(s),
        None => PAGE_WRAPPERS,
    }
}

/// Records per chunk: a worker sends them to the writer with their raw bytes in one block
/// (zstd, `trailproof_store::raw`). A block of 1,024 records compresses 9 % smaller than one of
/// 256 and wastes less of its last overflow page (3,000-user day: see migration 18).
const CHUNK: usize = 1024;

fn note_span(local: &mut Local, source: Source, scope: Option<String>, t: Millis) {
    let key = (source, scope.unwrap_or_else(|| "*".to_string()));
    let e = local.span.entry(key).or_insert((t, t));
    *e = (e.0.min(t), e.1.max(t));
    local.all = Some(local.all.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
}

fn idp_scope(e: &IdpEvent) -> Option<String> {
    e.tenant.clone()
}

/// Turns what the reader made of a record into what must be written, counting the rest.
fn take(e: Emitted<'_>, opts: &ImportOptions, input: usize, local: &mut Local, chunk: &mut Gather) {
    let (at, outcome, raw, guessed) = match e {
        Emitted::Envelope(env) => {
            *local.envelopes.entry(env).or_default() += 1;
            return;
        }
        Emitted::Record { at, outcome, raw, guessed } => (at, outcome, raw, guessed),
    };
    local.read += 1;
    match outcome {
        RecordOutcome::Irrelevant { source, time_ms, scope } => {
            *local.skipped.entry(source).or_default() += 1;
            if let Some(t) = time_ms {
                note_span(local, source, scope, t);
            }
        }
        RecordOutcome::Kept { source, native_id, events } => {
            match &events {
                Events::Aws(ev) => ev.iter().for_each(|e| note_span(local, source, cloudtrail::scope_of(e), e.time_ms)),
                Events::Idp(ev) => ev.iter().for_each(|e| note_span(local, source, idp_scope(e), e.time_ms)),
            }
            let hash = match &events {
                Events::Idp(_) => Some(trailproof_store::content_hash(raw)),
                Events::Aws(_) => None,
            };
            let raw = chunk.block.push_id(raw, &native_id);
            chunk.items.push(Item::Relevant { source, native_id, input, location: at.text(), raw, hash, events });
        }
        RecordOutcome::Quarantined { source, reason } => {
            local.quarantined += 1;
            if guessed {
                local.problem = coverage::Touches::All;
            } else {
                local.problem.add(source);
            }
            chunk.items.push(Item::Quarantine { source, input, location: at.text(), reason, raw: raw.to_vec() });
        }
        RecordOutcome::Foreign { looks_like } => {
            *local.foreign.entry(looks_like).or_default() += 1;
            if let Some(named) = opts.source {
                local.problem.add(named);
            }
            if local.foreign_examples.len() < MAX_EXAMPLES {
                local.foreign_examples.push((at.text(), looks_like));
            }
        }
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
    names: &[String],
    chunks: &[Chunk],
    report: &mut ImportReport,
) -> Result<(), IngestError> {
    // (source, native id, chunk, input, location, place in the block, content hash, events)
    type Relevant<'c> = (Source, &'c str, usize, usize, &'c str, (usize, usize), Option<i64>, &'c Events);
    let mut order: Vec<Relevant<'_>> = Vec::new();
    for (c, chunk) in chunks.iter().enumerate() {
        for item in &chunk.items {
            match item {
                Item::Relevant { source, native_id, input, location, raw, hash, events } => {
                    order.push((*source, native_id, c, *input, location, *raw, *hash, events))
                }
                Item::Quarantine { source, input, location, reason, raw } => {
                    let at = Origin { origin: &names[*input], location };
                    batch.quarantine(*source, at, reason, raw)?;
                    report.by_source.entry(*source).or_default().quarantined += 1;
                    if report.quarantine_examples.len() < MAX_EXAMPLES {
                        report.quarantine_examples.push((format!("{} {}", names[*input], location), reason.clone()));
                    }
                }
            }
        }
    }
    // In the order of the store's index of records (`native_key`, migration 20), so that it is
    // walked once per batch instead of hit at random. Stable: of equal ids, the one read first
    // stays first (and a later one read with other content replaces it: the last version read
    // wins).
    order.sort_by_cached_key(|r| (r.0, trailproof_store::native_key(r.0.as_str(), r.1), r.1));
    let mut block_ids: Vec<Option<i64>> = vec![None; chunks.len()];
    let mut new_in_block = vec![false; chunks.len()];
    for (source, native_id, c, input, location, (start, len), hash, events) in order {
        let at = Origin { origin: &names[input], location };
        let block_id = match block_ids[c] {
            Some(id) => id,
            // Every record pushed into the block, stored or not (see `raw::Block::push_id`).
            None => {
                let pushed = chunks[c].items.iter().filter_map(|item| match item {
                    Item::Relevant { native_id, raw: (start, len), .. } => Some((native_id.as_str(), *start, *len)),
                    Item::Quarantine { .. } => None,
                });
                *block_ids[c].insert(batch.insert_block_of(&chunks[c].block, pushed)?)
            }
        };
        let raw = RawRef::InBlock { block_id, start, len };
        let stored = match events {
            Events::Aws(ev) => batch.insert_aws(native_id, at, raw, ev)?,
            Events::Idp(ev) => batch.insert_idp_record(source, native_id, at, raw, hash, ev)?,
        };
        let counts = report.by_source.entry(source).or_default();
        match stored {
            Stored::New => {
                new_in_block[c] = true;
                counts.stored += 1
            }
            Stored::Updated => {
                new_in_block[c] = true;
                counts.updated += 1
            }
            Stored::Duplicate => counts.duplicates += 1,
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
/// files come in, envelopes unwrapped) into an open batch. The caller adds its checkpoint and
/// coverage to the same batch and commits: a page and its cursor land together or not at all.
/// A record of another source than `opts.source` is quarantined (an API page holds one
/// source's records; such a record is a surprise worth seeing).
pub fn ingest_page(
    batch: &mut Batch<'_>,
    opts: &ImportOptions,
    origin: &str,
    page: &[u8],
) -> Result<PageReport, IngestError> {
    let named = opts.source.ok_or_else(|| IngestError::Page {
        origin: origin.to_string(),
        why: "a page is read as one named source's".into(),
    })?;
    // The first version of a record on the page is kept; a later page replaces it.
    let started = batch.started_ms();
    batch.keep_first_since(started);
    let mut splitter = Splitter::new(page, split_wrappers(opts));
    let mut reader = Reader::new(opts);
    reader.whole_input(page);
    let mut local = Local::new();
    let names = [origin.to_string()];
    let mut report = ImportReport::default();
    let mut chunk = Gather::default();
    loop {
        let rec = match splitter.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(IngestError::Page { origin: origin.to_string(), why: e.to_string() }),
        };
        // A named source never holds records back (`Reader::record` cannot fail).
        let _ = reader.record(&rec, &mut |e| {
            let e = match e {
                Emitted::Record { at, outcome: RecordOutcome::Foreign { looks_like }, raw, guessed } => {
                    let reason = format!("a record of {looks_like}, not of {named}");
                    Emitted::Record { at, outcome: RecordOutcome::Quarantined { source: named, reason }, raw, guessed }
                }
                other => other,
            };
            take(e, opts, 0, &mut local, &mut chunk)
        });
    }
    write_chunks(batch, &names, &[chunk.finish()], &mut report)?;
    let mut counts = report.by_source.remove(&named).unwrap_or_default();
    counts.skipped = local.skipped.values().sum();
    counts.read = counts.stored + counts.updated + counts.duplicates + counts.skipped + counts.quarantined;
    let span = local.span.into_iter().map(|((_, k), v)| (k, v)).collect();
    Ok(PageReport { counts, span, quarantine_examples: report.quarantine_examples })
}

/// Reads one input to the end, sending batches of items.
fn read_input(
    opts: &ImportOptions,
    inputs: &[Input],
    idx: usize,
    counter: Arc<AtomicU64>,
    tx: &mpsc::SyncSender<Msg>,
    bufs: &mut input::Buffers,
) -> (Local, Option<String>) {
    let mut local = Local::new();
    if let Input::Unreadable { why, .. } = &inputs[idx] {
        return (local, Some(why.clone()));
    }
    let opened = match input::open_whole(&inputs[idx], counter, bufs) {
        Ok(r) => r,
        Err(e) => return (local, Some(format!("cannot open: {e}"))),
    };
    let mut records = Reader::new(opts);
    if opened.whole {
        records.whole_input(&opened.head);
    }
    let mut splitter = Splitter::with_head(opened.head, opened.rest, split_wrappers(opts));
    let mut chunk = Gather::default();
    let error = loop {
        let rec = match splitter.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break records.finish().err().map(|u| u.to_string()),
            Err(e) => break Some(format!("{e} (after {} records)", local.read)),
        };
        if let Err(u) = records.record(&rec, &mut |e| take(e, opts, idx, &mut local, &mut chunk)) {
            break Some(u.to_string());
        }
        if (chunk.items.len() >= CHUNK || chunk.block.len() >= trailproof_store::raw::BLOCK_BYTES)
            && tx.send(Msg::Items(std::mem::take(&mut chunk).finish())).is_err()
        {
            return (local, Some("import stopped".into()));
        }
    };
    if !chunk.items.is_empty() {
        let _ = tx.send(Msg::Items(chunk.finish()));
    }
    bufs.give_back(splitter.into_buffer());
    (local, error)
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
        // An auto import may bring IdP events: judged as one (the rebuild of an empty table is cheap).
        None => bulk_worthwhile(opts.source.unwrap_or(Source::Okta), bytes_total, store.idp_rows_estimate()?),
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
    let mut spans: Vec<Option<coverage::InputSpan>> = vec![None; inputs.len()];
    let mut prog = Progress { files_total: inputs.len() as u64, bytes_total, ..Default::default() };
    let mut read_so_far = 0u64;

    let result: Result<(), IngestError> = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, counter) = (&next, counter.clone());
            scope.spawn(move || {
                let mut bufs = input::Buffers::default();
                loop {
                    let idx = next.fetch_add(1, Ordering::Relaxed);
                    if idx >= inputs.len() {
                        break;
                    }
                    let (local, error) = read_input(opts, inputs, idx, counter.clone(), &tx, &mut bufs);
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
                        batch.keep_first_since(started);
                        write_chunks(&mut batch, &names, &pending, &mut report)?;
                        batch.commit()?;
                        if let Some(c) = copier {
                            c.restart_if_long(store, trailproof_store::RESTART_BYTES)?;
                        }
                        pending.clear();
                        in_batch = 0;
                    }
                }
                Msg::Done { input, local, error } => {
                    read_so_far += local.read;
                    for (s, n) in &local.skipped {
                        report.by_source.entry(*s).or_default().skipped += n;
                    }
                    for (env, n) in &local.envelopes {
                        *report.envelopes.entry(*env).or_default() += n;
                    }
                    let foreign: u64 = local.foreign.values().sum();
                    if foreign > 0 {
                        report.foreign += foreign;
                        if let Some((&looks, _)) = local.foreign.iter().max_by_key(|(_, n)| **n) {
                            report.foreign_inputs.push((names[input].clone(), looks, foreign));
                        }
                        for ex in local.foreign_examples.iter().cloned() {
                            if report.foreign_examples.len() < MAX_EXAMPLES {
                                report.foreign_examples.push((format!("{} {}", names[input], ex.0), ex.1));
                            }
                        }
                    }
                    let mut problem = local.problem.clone();
                    let mut why = Vec::new();
                    if local.quarantined > 0 {
                        why.push(format!("{} record(s) quarantined", local.quarantined));
                    }
                    if foreign > 0 {
                        why.push(format!("{foreign} record(s) of another source"));
                    }
                    if let Some(e) = &error {
                        why.push(format!("not read to the end ({e})"));
                        // What could not be read may be any source's.
                        problem = match opts.source {
                            Some(s) => {
                                let mut t = problem;
                                t.add(s);
                                t
                            }
                            None => coverage::Touches::All,
                        };
                        report.failed_inputs.push((names[input].clone(), e.clone()));
                    }
                    spans[input] = Some(coverage::InputSpan {
                        name: names[input].clone(),
                        in_manifest: matches!(&inputs[input], Input::File { manifest_dir: Some(_), .. }),
                        spans: local.span,
                        all: local.all,
                        problem,
                        why: (!why.is_empty()).then(|| why.join(", ")),
                    });
                    prog.files_done += 1;
                }
            }
            prog.bytes_done = counter.load(Ordering::Relaxed);
            let c = report.by_source.values().fold(0, |a, c| a + c.stored + c.updated + c.duplicates + c.quarantined);
            prog.records = read_so_far.max(c);
            progress(&prog);
        }
        let mut batch = store.batch()?;
        // Of two versions of a record in one import, the first read is kept (a later import
        // replaces it).
        batch.keep_first_since(started);
        write_chunks(&mut batch, &names, &pending, &mut report)?;
        batch.commit()?;
        Ok(())
    });
    result?;
    report.bytes = counter.load(Ordering::Relaxed);
    if let Some(named) = opts.source {
        report.by_source.entry(named).or_default();
    }
    for c in report.by_source.values_mut() {
        c.read = c.skipped + c.stored + c.updated + c.duplicates + c.quarantined;
    }
    for c in report.by_source.values() {
        report.counts.add(c);
    }
    report.counts.read += report.foreign;

    let spans: Vec<coverage::InputSpan> = spans.into_iter().flatten().collect();
    // The sources the import is about: the named one, or every one a record was filed under.
    let sources: BTreeSet<Source> = match opts.source {
        Some(s) => BTreeSet::from([s]),
        None => report.by_source.keys().copied().collect(),
    };

    // Coverage, in one transaction with the import log lines.
    let mut batch = store.batch()?;
    let mut reasons: Vec<String> = Vec::new();
    // What is recorded, then recorded in one place: no coverage past `now`.
    let mut recorded: Vec<CoverageRecorded> = Vec::new();
    if report.foreign > 0 && (opts.covers.is_some() || !manifests.is_empty()) {
        reasons.push(
            "records of another source were found, so what --covers or coverage.json states is not recorded either"
                .into(),
        );
    } else if let Some((start, end)) = opts.covers {
        for &source in &sources {
            let mut scopes: BTreeSet<String> = spans
                .iter()
                .flat_map(|i| i.spans.keys())
                .filter(|(s, _)| *s == source)
                .map(|(_, k)| k.clone())
                .collect();
            if let Some(s) = &opts.scope {
                scopes = BTreeSet::from([s.clone()]);
            } else if scopes.is_empty() {
                scopes.insert("*".into());
            }
            for scope in scopes {
                recorded.push(CoverageRecorded {
                    source,
                    scope,
                    start_ms: start,
                    end_ms: end,
                    basis: CoverageBasis::Vouched,
                });
            }
        }
    } else {
        for m in manifests {
            // The sources of the records under the manifest's directory (the named source).
            let under: BTreeSet<Source> = match opts.source {
                Some(s) => BTreeSet::from([s]),
                None => inputs
                    .iter()
                    .zip(&spans_sources(&spans, inputs))
                    .filter(
                        |(i, _)| matches!(i, Input::File { manifest_dir: Some(d), .. } if Some(d) == m.dir.as_ref()),
                    )
                    .flat_map(|(_, s)| s.iter().copied())
                    .collect(),
            };
            for source in under {
                let scope = opts.scope.clone().unwrap_or_else(|| m.scope.clone());
                recorded.push(CoverageRecorded {
                    source,
                    scope,
                    start_ms: m.start_ms,
                    end_ms: m.end_ms,
                    basis: CoverageBasis::Manifest,
                });
            }
        }
    }
    if opts.covers.is_none() {
        let cov = coverage::span_coverage(&spans, &sources, opts.scope.as_deref());
        for (source, scope, start, end) in cov.recorded {
            recorded.push(CoverageRecorded { source, scope, start_ms: start, end_ms: end, basis: CoverageBasis::Span });
        }
        if !cov.withheld.is_empty() {
            let everything = cov.withheld.iter().any(|w| w.span.is_none());
            let mut seen = BTreeSet::new();
            let list: Vec<String> = cov
                .withheld
                .iter()
                .filter(|w| seen.insert(w.input.as_str()))
                .map(|w| format!("{} ({})", w.input, w.why))
                .collect();
            let what = if everything {
                "span coverage not recorded: an input with a problem has no record with a time to bound what it may hide"
            } else {
                "span coverage withheld from the last clean record before to the first clean record after each input with a problem"
            };
            reasons.push(format!(
                "{what}: {}; fix them and re-import, or pass --covers START/END to vouch for the span",
                list.join("; ")
            ));
        }
        report.withheld = cov.withheld;
    }
    // Nothing is vouched for past the present (records within the future skew are kept, but
    // what happens after `now` is not known yet).
    let mut past_now = false;
    for mut c in recorded {
        if c.end_ms > opts.now_ms {
            past_now = true;
            if c.start_ms > opts.now_ms {
                continue;
            }
            c.end_ms = opts.now_ms;
        }
        batch.add_coverage(c.source, &c.scope, c.start_ms, c.end_ms)?;
        report.coverage.push(c);
    }
    if past_now {
        reasons.push(format!(
            "nothing is recorded as covered after now ({}): what happens later is not known yet",
            trailproof_model::format_ms(opts.now_ms)
        ));
    }
    if !reasons.is_empty() {
        report.coverage_withheld = Some(reasons.join("; "));
    }
    let origin = if names.len() == 1 { names[0].clone() } else { format!("{} inputs", names.len()) };
    for (source, counts) in &report.by_source {
        batch.log_import(*source, &origin, started, counts)?;
    }
    batch.commit()?;
    Ok(report)
}

/// The sources each input's records were filed under.
fn spans_sources(spans: &[coverage::InputSpan], inputs: &[Input]) -> Vec<BTreeSet<Source>> {
    let by_name: BTreeMap<&str, BTreeSet<Source>> =
        spans.iter().map(|s| (s.name.as_str(), s.spans.keys().map(|(src, _)| *src).collect())).collect();
    inputs.iter().map(|i| by_name.get(i.name().as_str()).cloned().unwrap_or_default()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Entra sign-in as Graph lists it before and after its MFA step is aggregated onto it.
    fn signin(mfa: bool) -> String {
        let steps = if mfa {
            r#"[{"authenticationMethod":"Password","succeeded":true,"authenticationStepResultDetail":"Correct password"},
                {"authenticationMethod":"Mobile app notification","succeeded":true,"authenticationStepResultDetail":"MFA successfully completed"}]"#
        } else {
            r#"[{"authenticationMethod":"Password","succeeded":true,"authenticationStepResultDetail":"Correct password"}]"#
        };
        format!(
            r#"{{"id":"si-1","createdDateTime":"2026-01-10T10:00:00Z","userPrincipalName":"a@example.com","appId":"aws",
                "appDisplayName":"AWS","resourceTenantId":"t-1","status":{{"errorCode":0}},"authenticationRequirement":"{}",
                "authenticationDetails":{steps}}}"#,
            if mfa { "multiFactorAuthentication" } else { "singleFactorAuthentication" }
        )
    }

    fn page(store: &mut Store, body: &str) -> PageReport {
        let mut opts = ImportOptions::new(Source::Entra);
        opts.format = Format::Entra(entra::Format::Graph);
        let mut batch = store.batch().unwrap();
        let r = ingest_page(&mut batch, &opts, "test page", format!(r#"{{"value":[{body}]}}"#).as_bytes()).unwrap();
        batch.commit().unwrap();
        r
    }

    #[test]
    fn a_page_with_a_later_version_of_a_stored_record_counts_it_as_updated() {
        let mut store = Store::open_in_memory().unwrap();
        let c = page(&mut store, &signin(false)).counts;
        assert_eq!((c.read, c.stored, c.updated, c.duplicates), (1, 1, 0, 0));
        let c = page(&mut store, &signin(false)).counts;
        assert_eq!((c.read, c.stored, c.updated, c.duplicates), (1, 0, 0, 1));
        let c = page(&mut store, &signin(true)).counts;
        assert_eq!((c.read, c.stored, c.updated, c.duplicates), (1, 0, 1, 0));
        let e = store.idp_event(trailproof_model::Idp::Entra, "si-1").unwrap().unwrap();
        assert_eq!(e.mfa, trailproof_model::MfaClaim::Verified);
        assert_eq!(store.rejudge_queue().unwrap().len(), 1);
        // Both versions on one page: the first read is kept, the other counts as a duplicate.
        let mut other = Store::open_in_memory().unwrap();
        let c = page(&mut other, &format!("{},{}", signin(false), signin(true))).counts;
        assert_eq!((c.read, c.stored, c.updated, c.duplicates), (2, 1, 0, 1));
        let e = other.idp_event(trailproof_model::Idp::Entra, "si-1").unwrap().unwrap();
        assert_eq!(e.mfa, trailproof_model::MfaClaim::SingleFactor);
    }
}
