//! What each record comes to: envelopes unwrapped, the source named or detected, the source's
//! prefilter and parser. Shared by [`crate::import`], [`crate::ingest_page`] and
//! [`read_records`], so a record means the same thing however it is read.

use trailproof_envelope::{self as envelope, Envelope, Item};
use trailproof_jsonrec::Splitter;
use trailproof_model::{AwsEvent, IdpEvent, Millis, ParseError, Parsed, Source};

use crate::{Format, ImportOptions};
use trailproof_source_cloudtrail as cloudtrail;
use trailproof_source_entra as entra;
use trailproof_source_google as google;
use trailproof_source_okta as okta;

/// The normalized events of a kept record.
#[derive(Debug, Clone, PartialEq)]
pub enum Events {
    Aws(Vec<AwsEvent>),
    Idp(Vec<IdpEvent>),
}

/// What one record came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// Parsed and worth keeping (the store may still find it already present).
    Kept { source: Source, native_id: String, events: Events },
    /// Well-formed and not needed; its time and scope count for coverage.
    Irrelevant { source: Source, time_ms: Option<Millis>, scope: Option<String> },
    /// Could not be used. `source` is the one it is filed under.
    Quarantined { source: Source, reason: String },
    /// Imported as one source, it is another's (`looks_like`); not stored.
    Foreign { looks_like: Source },
}

/// One record's outcome and where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRead {
    /// "record 3 at byte 1204", and the envelopes it came out of.
    pub location: String,
    pub outcome: RecordOutcome,
}

/// What [`read_records`] found in one input.
#[derive(Debug, Clone, Default)]
pub struct ReadOutcome {
    pub records: Vec<RecordRead>,
    /// The outermost envelope of each record the splitter found that was one.
    pub envelopes: Vec<Envelope>,
    /// Why the input could not be read to the end, or was not recognised (the import fails).
    pub failure: Option<String>,
}

/// Reads one input's bytes as `trailproof import` does, without a store: every record's outcome
/// in order (records inside envelopes one by one). Duplicates are not detected (that is the
/// store's work).
pub fn read_records(opts: &ImportOptions, input: &[u8]) -> ReadOutcome {
    read_records_as(opts, input, true)
}

/// [`read_records`]; `whole`: the input is read as one in memory (as the import reads a small
/// file), else record by record (as it reads a large one).
fn read_records_as(opts: &ImportOptions, input: &[u8], whole: bool) -> ReadOutcome {
    let mut out = ReadOutcome::default();
    let mut reader = Reader::new(opts);
    if whole {
        reader.whole_input(input);
    }
    let mut splitter = Splitter::new(input, crate::split_wrappers(opts));
    let mut emit = |e: Emitted<'_>| match e {
        Emitted::Envelope(env) => out.envelopes.push(env),
        Emitted::Record { at, outcome, .. } => out.records.push(RecordRead { location: at.text(), outcome }),
    };
    loop {
        match splitter.next_record() {
            Ok(Some(rec)) => {
                if let Err(u) = reader.record(&rec, &mut emit) {
                    out.failure = Some(u.to_string());
                    return out;
                }
            }
            Ok(None) => break,
            Err(e) => {
                out.failure = Some(e.to_string());
                break;
            }
        }
    }
    if let Err(u) = reader.finish() {
        out.failure = Some(u.to_string());
    }
    out
}

/// What the reader hands out.
pub(crate) enum Emitted<'r> {
    /// A record the splitter found was this envelope.
    Envelope(Envelope),
    Record {
        at: Where<'r>,
        outcome: RecordOutcome,
        /// The record's bytes (inside its envelopes), to store or quarantine; copy what is kept.
        raw: &'r [u8],
        /// Whether the record's source was a guess (auto import: a record whose source could
        /// not be detected, a truncated tail, an envelope part that could not be read). Its
        /// quarantine then withholds coverage of every source, not just the one it is filed under.
        guessed: bool,
    },
}

/// An auto import of an input none of whose records is recognisably any source's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "none of the {records} record(s) read is recognisably CloudTrail, Okta, Entra ID, AD FS or Google Workspace; if it holds one source's records, name it: trailproof import SOURCE PATH"
)]
pub struct Unrecognised {
    pub records: usize,
}

/// Quarantines held while an auto import has not recognised any record of the input yet.
const HELD_MAX: usize = 10_000;

/// Records held before the input's source is known: (location, reason, bytes).
type Held = (String, String, Vec<u8>);

/// Reads the records of one input, keeping what the next record needs to know (an auto import's
/// source so far).
pub(crate) struct Reader<'o> {
    opts: &'o ImportOptions,
    /// Auto import: the source of the last record recognised in this input.
    last: Option<Source>,
    /// Auto import: quarantines met before any record was recognised, filed once one is.
    held: Vec<Held>,
    /// CloudTrail import of an input all in memory: its content scanned once for what the
    /// prefilter and the time/scope peek look for (see [`cloudtrail::FileScan`]).
    scan: Option<cloudtrail::FileScan>,
}

/// Where a record was found; made into text only for the records that need it (a skipped
/// record does not).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Where<'x> {
    /// The record at this index and byte offset of the input, inside these envelopes.
    At { index: u64, offset: u64, via: &'x [envelope::Step] },
    /// Already written (a held record).
    Text(&'x str),
}

impl Where<'_> {
    /// "record 3 at byte 1204", then ", log event 2 of a CloudWatch Logs subscription payload…".
    pub fn text(&self) -> String {
        match *self {
            Where::At { index, offset, via: [] } => format!("record {} at byte {}", index + 1, offset),
            Where::At { index, offset, via } => {
                format!("record {} at byte {}, {}", index + 1, offset, envelope::describe(via))
            }
            Where::Text(t) => t.to_string(),
        }
    }
}

/// Parses one record for the source.
fn parse_one(source: Source, format: Format, raw: &[u8]) -> Result<Parsed2, ParseError> {
    fn map<E>(p: Parsed<E>, f: fn(Vec<E>) -> Events) -> Parsed2 {
        match p {
            Parsed::Relevant { native_id, events } => Parsed2::Relevant { native_id, events: f(events) },
            Parsed::Irrelevant { time_ms, scope } => Parsed2::Irrelevant { time_ms, scope },
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

enum Parsed2 {
    Relevant { native_id: String, events: Events },
    Irrelevant { time_ms: Option<Millis>, scope: Option<String> },
}

impl<'o> Reader<'o> {
    pub fn new(opts: &'o ImportOptions) -> Reader<'o> {
        Reader { opts, last: None, held: Vec::new(), scan: None }
    }

    /// The input is `content`, all of it (the splitter reads nothing else, so a record's offset
    /// is its place in `content`). A CloudTrail import then seeks the prefilter's needles and the
    /// peek's keys once in the whole content rather than in each record, which gives each record
    /// the same answers (see [`cloudtrail::FileScan`]).
    pub fn whole_input(&mut self, content: &[u8]) {
        self.scan = match self.opts.source {
            Some(Source::Cloudtrail) => cloudtrail::FileScan::new(content),
            _ => None,
        };
    }

    /// The source a record that cannot be attributed is filed under, when known.
    fn fallback(&self) -> Option<Source> {
        self.opts.source.or(self.last)
    }

    /// A quarantine of a record whose source is a guess (or not known yet: held).
    fn quarantine_guessed(
        &mut self,
        at: Where<'_>,
        reason: String,
        raw: &[u8],
        emit: &mut dyn FnMut(Emitted<'_>),
    ) -> Result<(), Unrecognised> {
        match self.fallback() {
            Some(source) => {
                let guessed = self.opts.source.is_none();
                emit(Emitted::Record { at, outcome: RecordOutcome::Quarantined { source, reason }, raw, guessed });
                Ok(())
            }
            None => {
                if self.held.len() >= HELD_MAX {
                    return Err(Unrecognised { records: self.held.len() });
                }
                // The store keeps at most 64 KiB of a quarantined record; hold no more.
                let keep = raw.len().min(64 * 1024 + 1);
                self.held.push((at.text(), reason, raw[..keep].to_vec()));
                Ok(())
            }
        }
    }

    /// An auto import recognised `source`: held quarantines are filed under it.
    fn recognised(&mut self, source: Source, emit: &mut dyn FnMut(Emitted<'_>)) {
        self.last = Some(source);
        for (location, reason, raw) in std::mem::take(&mut self.held) {
            let outcome = RecordOutcome::Quarantined { source, reason };
            emit(Emitted::Record { at: Where::Text(&location), outcome, raw: &raw, guessed: true });
        }
    }

    /// At the end of the input: an auto import that recognised nothing fails the input.
    pub fn finish(&mut self) -> Result<(), Unrecognised> {
        if self.held.is_empty() { Ok(()) } else { Err(Unrecognised { records: std::mem::take(&mut self.held).len() }) }
    }

    /// One record as the splitter found it.
    pub fn record(
        &mut self,
        rec: &trailproof_jsonrec::Record<'_>,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) -> Result<(), Unrecognised> {
        let (index, offset) = (rec.index, rec.offset);
        if rec.truncated {
            let at = Where::At { index, offset, via: &[] };
            let why = rec.incomplete.unwrap_or(trailproof_jsonrec::Incomplete::EndOfInput);
            return self.quarantine_guessed(at, why.to_string(), rec.bytes, emit);
        }
        // Each item's outcome is handed on as it is found; the first error stops the rest.
        let mut result = Ok(());
        let envelope = envelope::unwrap_each(rec.bytes, &mut |item| {
            if result.is_err() {
                return;
            }
            result = match item {
                Item::Broken(b) => {
                    let reason = b.error.to_string();
                    self.quarantine_guessed(Where::At { index, offset, via: &b.via }, reason, &b.bytes, emit)
                }
                Item::Record(inner) => {
                    let at = Where::At { index, offset, via: &inner.via };
                    // The record the splitter found itself (in no envelope): a slice of the
                    // input at its offset.
                    let whole = inner.via.is_empty()
                        && matches!(&inner.bytes, std::borrow::Cow::Borrowed(b) if std::ptr::eq(*b, rec.bytes));
                    let in_input = whole.then_some(offset).and_then(|o| usize::try_from(o).ok());
                    self.inner(at, &inner.bytes, inner.source, in_input, emit)
                }
            };
        });
        if let Some(env) = envelope {
            emit(Emitted::Envelope(env));
        }
        result
    }

    /// One record out of its envelopes; `in_input`: the record is the input's bytes at this
    /// offset.
    fn inner(
        &mut self,
        at: Where<'_>,
        raw: &[u8],
        detected: Option<Source>,
        in_input: Option<usize>,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) -> Result<(), Unrecognised> {
        let source = match (self.opts.source, detected) {
            (Some(named), Some(d)) if d != named => {
                emit(Emitted::Record { at, outcome: RecordOutcome::Foreign { looks_like: d }, raw, guessed: false });
                return Ok(());
            }
            (Some(named), _) => named,
            (None, Some(d)) => {
                if self.last != Some(d) {
                    self.recognised(d, emit);
                }
                d
            }
            (None, None) => {
                let reason = "not recognisably a record of CloudTrail, Okta, Entra ID, AD FS or Google Workspace; if it is one, import it with its source named (trailproof import SOURCE PATH)".to_string();
                return self.quarantine_guessed(at, reason, raw, emit);
            }
        };
        let skipped = match (source, &self.scan, in_input) {
            (Source::Cloudtrail, Some(scan), Some(offset)) => {
                let rec = scan.record(raw, offset);
                (!rec.prefilter()).then(|| rec.peek_time_scope())
            }
            (Source::Cloudtrail, _, _) => (!cloudtrail::prefilter(raw)).then(|| cloudtrail::peek_time_scope(raw)),
            _ => None,
        }
        // Skipped without a parse only when it is a whole object with a readable time (the
        // splitter found where it ends); anything else (random bytes, a cut record, a record
        // without a time) is parsed, which quarantines what is not JSON. The prefilter's
        // promise makes this cheap: a parse of such a record is never `Relevant`.
        .filter(|(time, _)| time.is_some() && is_object(raw));
        let outcome = if let Some((time_ms, scope)) = skipped {
            RecordOutcome::Irrelevant { source, time_ms, scope }
        } else {
            match parse_one(source, self.opts.format, raw) {
                Ok(Parsed2::Irrelevant { time_ms, scope }) => RecordOutcome::Irrelevant { source, time_ms, scope },
                Ok(Parsed2::Relevant { native_id, events }) => {
                    // The Entra parser reads AD FS sign-ins (`ADFSSignInLogs`) as provider `adfs`:
                    // an event of another IdP than the command's source is that source's record.
                    let other = match &events {
                        Events::Idp(ev) => ev.iter().map(|e| e.provider.source()).find(|s| *s != source),
                        Events::Aws(_) => None,
                    };
                    match (other, self.opts.source) {
                        (Some(o), Some(_)) => RecordOutcome::Foreign { looks_like: o },
                        (kept, _) => {
                            let source = kept.unwrap_or(source);
                            match self.ambiguous(source, raw) {
                                Some(reason) => RecordOutcome::Quarantined { source, reason },
                                None => RecordOutcome::Kept { source, native_id, events },
                            }
                        }
                    }
                }
                Err(e) => RecordOutcome::Quarantined { source, reason: e.to_string() },
            }
        };
        let outcome = self.plausible(outcome);
        emit(Emitted::Record { at, outcome, raw, guessed: false });
        Ok(())
    }

    /// Why a kept record is ambiguous: a key it holds twice whose two values give other events
    /// (see [`crate::dupkeys`]).
    fn ambiguous(&self, source: Source, raw: &[u8]) -> Option<String> {
        let (key, first, last) = crate::dupkeys::both_readings(raw)?;
        let reading = |bytes: &[u8]| match parse_one(source, self.opts.format, bytes) {
            Ok(Parsed2::Relevant { native_id, events }) => Some((native_id, events)),
            _ => None,
        };
        (reading(&first) != reading(&last)).then(|| {
            format!(
                "the key `{}` appears twice in one object with values that read differently: which one counts would be a guess",
                trailproof_model::inert(&key)
            )
        })
    }

    /// A record whose time is implausible is quarantined (see [`crate::plausible`]).
    fn plausible(&self, outcome: RecordOutcome) -> RecordOutcome {
        let (now, skew) = (self.opts.now_ms, self.opts.future_skew_ms);
        let why = match &outcome {
            RecordOutcome::Irrelevant { source, time_ms: Some(t), .. } => {
                crate::plausible::implausible(*source, *t, now, skew).map(|w| (*source, w))
            }
            RecordOutcome::Kept { source, events, .. } => {
                let mut times: Box<dyn Iterator<Item = Millis>> = match events {
                    Events::Aws(ev) => Box::new(ev.iter().map(|e| e.time_ms)),
                    Events::Idp(ev) => Box::new(ev.iter().map(|e| e.time_ms)),
                };
                times.find_map(|t| crate::plausible::implausible(*source, t, now, skew)).map(|w| (*source, w))
            }
            _ => None,
        };
        match why {
            Some((source, reason)) => RecordOutcome::Quarantined { source, reason },
            None => outcome,
        }
    }
}

/// Whether `raw` is one whole JSON object as the splitter hands them out: `{` first, `}` last
/// (the splitter found its end by its nesting, so the braces between are balanced).
fn is_object(raw: &[u8]) -> bool {
    let trimmed = raw.trim_ascii();
    trimmed.first() == Some(&b'{') && trimmed.last() == Some(&b'}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record's outcome, location and envelope as the import gives them, whether the
    /// input is scanned once whole or read record by record.
    fn same_either_way(opts: &ImportOptions, input: &[u8]) {
        let (a, b) = (read_records_as(opts, input, true), read_records_as(opts, input, false));
        assert_eq!(a.records, b.records, "{}", String::from_utf8_lossy(input));
        assert_eq!((a.envelopes, a.failure), (b.envelopes, b.failure));
    }

    #[test]
    fn a_whole_input_reads_as_record_by_record() {
        let mut opts = ImportOptions::new(Source::Cloudtrail);
        opts.now_ms = trailproof_model::parse_time("2026-12-06T00:00:00Z").unwrap_or_default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/cloudtrail");
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".meta.json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            same_either_way(&opts, &bytes);
            all.extend_from_slice(&bytes);
            all.push(b'\n');
        }
        same_either_way(&opts, &all);
        // Skipped, kept, enveloped, implausible, cut, mentioned only in an ARN or a string.
        let rec = |source: &str, name: &str, time: &str| {
            format!(
                r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","eventID":"id-{name}-{time}","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/X"}}}}"#
            )
        };
        let records = [
            rec("ec2.amazonaws.com", "DescribeInstances", "2026-11-01T00:00:01Z"),
            rec("signin.amazonaws.com", "ConsoleLogin", "2026-11-01T00:00:02Z"),
            rec("sts.amazonaws.com", "AssumeRoleWithSAML", "2026-11-01T00:00:03Z"),
            rec("s3.amazonaws.com", "GetObject", "9999-11-01T00:00:03Z"),
            rec("s3.amazonaws.com", "GetObject", "not a time"),
            format!(
                r#"{{"detail-type":"AWS API Call via CloudTrail","detail":{}}}"#,
                rec("ec2.amazonaws.com", "RunInstances", "2026-11-01T00:00:04Z")
            ),
            format!(
                r#"{{"detail-type":"AWS Console Sign In via CloudTrail","detail":{}}}"#,
                rec("signin.amazonaws.com", "ConsoleLogin", "2026-11-01T00:00:05Z")
            ),
            r#"{"eventTime":"2026-11-01T00:00:06Z","note":"sso.amazonaws.com\"","awsRegion":"r"}"#.to_string(),
            r#"{"eventTime":"2026-11-01T00:00:07Z","eventSource":"sso.amazonaws.com","recipientAccountId":"1"}"#
                .to_string(),
        ];
        let page = format!(r#"{{"Records":[{}]}}"#, records.join(",\n"));
        same_either_way(&opts, page.as_bytes());
        same_either_way(&opts, records.join("\n").as_bytes());
        for cut in (0..page.len()).step_by(37) {
            same_either_way(&opts, &page.as_bytes()[..cut]);
            same_either_way(&opts, &page.as_bytes()[cut..]);
        }
        let read = read_records(&opts, page.as_bytes());
        let kept = read.records.iter().filter(|r| matches!(r.outcome, RecordOutcome::Kept { .. })).count();
        let skipped = read.records.iter().filter(|r| matches!(r.outcome, RecordOutcome::Irrelevant { .. })).count();
        let quarantined =
            read.records.iter().filter(|r| matches!(r.outcome, RecordOutcome::Quarantined { .. })).count();
        assert_eq!((kept, skipped, quarantined), (3, 3, 3), "{read:?}");
    }
}
