//! Records arrive in envelopes: an EventBridge event around a CloudTrail record, a CloudWatch
//! Logs subscription payload (base64 of gzip, in a Lambda event or a Firehose delivery) around
//! many, an Okta Event Hook delivery, a Splunk export row, an Elastic document that kept the
//! original. [`unwrap`] takes one record as the splitter found it and gives the records inside
//! (zero or more), each with the envelopes it came out of; the envelopes' own fields are ignored
//! (shared decision D6: a record in an envelope gives exactly what the record alone gives).
//! [`sniff`] says which source a record is from. Both are pure: bytes in, values out.
//!
//! # Envelopes recognised (by their top-level keys)
//!
//! | envelope | recognised by | the records inside | vendor documentation |
//! |---|---|---|---|
//! | EventBridge event | `detail-type` and `detail` | `detail` (CloudTrail for `aws.*` sources: "AWS Console Sign In via CloudTrail", "AWS API Call via CloudTrail"; whatever a partner source puts there) | <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-signin.html> (Sign-In events delivered via CloudTrail), <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html> |
//! | CloudWatch Logs subscription payload (decoded) | `logEvents` with `messageType`, `logGroup` or `owner` | each `logEvents[].message` (a string holding the record); a `CONTROL_MESSAGE` holds none | <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html> |
//! | the same delivered to Lambda | `awslogs.data` | base64 of gzip of a subscription payload | same page, "Subscription filters with AWS Lambda" |
//! | Firehose HTTP endpoint delivery | `records` with `requestId` (or a transformation Lambda's `invocationId` / `deliveryStreamArn`) | each `records[].data`: base64 of a record, or of gzip of a subscription payload (what CloudWatch Logs sends through Firehose) | <https://docs.aws.amazon.com/firehose/latest/dev/httpdeliveryrequestresponse.html> |
//! | one Firehose record (what the splitter hands out of `records`) | only `data` (and `recordId`, `approximateArrivalTimestamp`, `kinesisRecordMetadata`, `metadata`), a string | as above | same |
//! | Okta Event Hook delivery | `data.events` with `eventType` / `eventTypeVersion` / `cloudEventsVersion` | each `data.events[]`, a System Log LogEvent | <https://developer.okta.com/docs/concepts/event-hooks/> |
//! | Splunk event | `_raw`, a string | the string (the event as indexed) | <https://docs.splunk.com/Splexicon:Raw> |
//! | Splunk export row (`search/jobs/export`, `output_mode=json`) | `result` with `preview` / `offset` / `lastrow` | `result._raw`; a row without `_raw` (a table of fields) cannot be read and says so | <https://docs.splunk.com/Documentation/Splunk/latest/RESTREF/RESTsearch#search.2Fjobs.2Fexport> (line format UNCONFIRMED beyond public examples) |
//! | Elasticsearch search hit | `_source`, an object | `_source` | <https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html> |
//! | Elastic document that kept the original | `event.original` (nested or dotted) holding a JSON object | the original record; an `event.original` that is not a JSON object leaves the document as it is (the source's parser reads its ECS fields) | <https://www.elastic.co/guide/en/ecs/current/ecs-event.html#field-event-original> |
//!
//! The AWS pages (EventBridge, CloudWatch Logs, Firehose) and Okta's Event Hooks page were read
//! for this crate, as were the public examples kept in fixtures/real/envelope; the Splunk and
//! Elastic pages are cited for the field names only (`_raw`, `result`, `_source`,
//! `event.original`), the exact export line format is UNCONFIRMED beyond those examples.
//!
//! Envelopes nest (a Splunk `_raw` holding an EventBridge event, a Firehose record holding a
//! subscription payload whose messages are CloudTrail records) up to [`MAX_DEPTH`]. Decoded
//! data (base64, then gzip when it starts with gzip's magic) may hold several records (NDJSON,
//! concatenated objects, an array, a page such as `{"Records":[…]}`): they are split as files
//! are ([`PAGE_WRAPPERS`]). A blob is refused past [`MAX_DECODED`] bytes decompressed, and one
//! call decodes at most [`MAX_TOTAL_DECODED`] bytes in all. Anything that is not an envelope
//! passes through unchanged and borrowed. A page object that reaches [`unwrap`] unsplit (one of
//! [`PAGE_WRAPPERS`] the splitter was not given, e.g. a Graph page in an import named
//! `cloudtrail`) gives its records, each unwrapped in turn.
//!
//! A part that cannot be read (bad base64, bad gzip, a `logEvents` entry without a `message`)
//! is an [`Item::Broken`] next to the readable records of the same envelope, so one bad record
//! does not hide its neighbours.
//!
//! # Cost
//!
//! Deciding needs the top-level keys only. The first key of most records decides at once (a
//! CloudTrail record starts with `eventVersion`, a LookupEvents event with `EventId`, an Okta
//! event with `actor` then `client`… see [`sniff`]), so a plain record costs a few dozen
//! nanoseconds and no allocation of its bytes; other records cost one walk over their top-level
//! keys (no JSON parse), and only envelopes are parsed further.
//!
//! # Source detection ([`sniff`])
//!
//! From the top-level keys (and, for Elastic documents, the integration's namespace object):
//! CloudTrail native and LookupEvents (`eventVersion`, `eventID`, `eventSource`, `eventName`,
//! `userIdentity`, `awsRegion`, `recipientAccountId`, `CloudTrailEvent`, `EventId`, …) or ECS
//! `aws.cloudtrail`; Okta (`uuid`, `published`, `legacyEventType`, `displayMessage`,
//! `authenticationContext`, …) or ECS `okta`; Entra Graph (`createdDateTime`), Azure Monitor
//! `category` / Log Analytics `Category` or `Type` naming sign-in logs, Log Analytics
//! `TimeGenerated` with `UserPrincipalName`, or ECS `azure.signinlogs`; AD FS when that category
//! is `ADFSSignInLogs`; Google Reports (`kind` `admin#reports#activity`, or `id` object, `events`
//! and `actor`) or ECS `google_workspace`. `None` when the keys say none of these.

mod scan;
mod sniff;

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use trailproof_jsonrec::{Splitter, WrapperPath};
use trailproof_model::Source;

pub use sniff::sniff;

/// Envelopes nested deeper than this are refused ([`EnvelopeError::TooDeep`]).
pub const MAX_DEPTH: usize = 6;
/// The most bytes one base64 blob may decode (and decompress) to.
pub const MAX_DECODED: usize = 64 << 20;
/// The most bytes one [`unwrap`] call decodes in all.
pub const MAX_TOTAL_DECODED: usize = 256 << 20;

/// The page wrappers of every source's exports, so that any source's page is split wherever it
/// turns up: CloudTrail `{"Records":[…]}` and LookupEvents `{"Events":[…]}`, Elasticsearch
/// `{"hits":{"hits":[…]}}`, Graph `{"value":[…]}`, Azure Monitor and Firehose
/// `{"records":[…]}`, Google Reports `{"items":[…]}`. No source's record has one of these keys
/// holding an array at its top.
pub const PAGE_WRAPPERS: &[WrapperPath] =
    &[&["Records"], &["Events"], &["hits", "hits"], &["value"], &["records"], &["items"]];

/// A kind of envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Envelope {
    EventBridge,
    /// A decoded CloudWatch Logs subscription payload.
    CloudWatchLogs,
    /// `{"awslogs":{"data":…}}`, what a subscription delivers to Lambda.
    CloudWatchLogsLambda,
    FirehoseDelivery,
    FirehoseRecord,
    OktaEventHook,
    /// An event with `_raw`.
    SplunkEvent,
    /// A `search/jobs/export` row: `{"preview":…,"result":{"_raw":…}}`.
    SplunkExport,
    ElasticHit,
    /// An Elastic document's `event.original`.
    ElasticOriginal,
}

impl Envelope {
    pub const ALL: [Envelope; 10] = [
        Envelope::EventBridge,
        Envelope::CloudWatchLogs,
        Envelope::CloudWatchLogsLambda,
        Envelope::FirehoseDelivery,
        Envelope::FirehoseRecord,
        Envelope::OktaEventHook,
        Envelope::SplunkEvent,
        Envelope::SplunkExport,
        Envelope::ElasticHit,
        Envelope::ElasticOriginal,
    ];

    /// A short name, for summaries ("3 EventBridge events").
    pub fn name(self) -> &'static str {
        match self {
            Envelope::EventBridge => "EventBridge event",
            Envelope::CloudWatchLogs => "CloudWatch Logs subscription payload",
            Envelope::CloudWatchLogsLambda => "CloudWatch Logs Lambda event (awslogs)",
            Envelope::FirehoseDelivery => "Firehose HTTP endpoint delivery",
            Envelope::FirehoseRecord => "Firehose record",
            Envelope::OktaEventHook => "Okta Event Hook delivery",
            Envelope::SplunkEvent => "Splunk event (_raw)",
            Envelope::SplunkExport => "Splunk export row",
            Envelope::ElasticHit => "Elasticsearch hit (_source)",
            Envelope::ElasticOriginal => "Elastic document (event.original)",
        }
    }

    fn part(self, index: Option<usize>) -> String {
        let n = index.map(|i| format!(" {i}")).unwrap_or_default();
        match self {
            Envelope::EventBridge => "the detail of an EventBridge event".into(),
            Envelope::CloudWatchLogs => format!("log event{n} of a CloudWatch Logs subscription payload"),
            Envelope::CloudWatchLogsLambda => "the awslogs.data of a CloudWatch Logs Lambda event".into(),
            Envelope::FirehoseDelivery => format!("the data of record{n} of a Firehose HTTP endpoint delivery"),
            Envelope::FirehoseRecord => "the data of a Firehose record".into(),
            Envelope::OktaEventHook => format!("event{n} of an Okta Event Hook delivery"),
            Envelope::SplunkEvent => "the _raw of a Splunk event".into(),
            Envelope::SplunkExport => "the result._raw of a Splunk export row".into(),
            Envelope::ElasticHit => "the _source of an Elasticsearch hit".into(),
            Envelope::ElasticOriginal => "the event.original of an Elastic document".into(),
        }
    }
}

impl std::fmt::Display for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One envelope a record came out of, and where in it (1-based, for envelopes that hold several).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub envelope: Envelope,
    pub index: Option<usize>,
}

/// Where a record came from, innermost envelope first: "log event 2 of a CloudWatch Logs
/// subscription payload, in the data of record 1 of a Firehose HTTP endpoint delivery".
/// Empty for a record that came in no envelope.
pub fn describe(via: &[Step]) -> String {
    via.iter().rev().map(|s| s.envelope.part(s.index)).collect::<Vec<_>>().join(", in ")
}

/// A record found inside (or, with an empty `via`, a record that came in no envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inner<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// The envelopes it came out of, outermost first.
    pub via: Vec<Step>,
    /// The source its top-level keys name ([`sniff`]).
    pub source: Option<Source>,
}

/// A part of an envelope that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken<'a> {
    /// The smallest enclosing piece that failed (a `records[]` element, a log event, the envelope).
    pub bytes: Cow<'a, [u8]>,
    /// The envelopes it sits in, outermost first (the failing one included).
    pub via: Vec<Step>,
    pub error: EnvelopeError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Record(Inner<'a>),
    Broken(Broken<'a>),
}

impl Item<'_> {
    fn into_owned(self) -> Item<'static> {
        match self {
            Item::Record(r) => {
                Item::Record(Inner { bytes: Cow::Owned(r.bytes.into_owned()), via: r.via, source: r.source })
            }
            Item::Broken(b) => {
                Item::Broken(Broken { bytes: Cow::Owned(b.bytes.into_owned()), via: b.via, error: b.error })
            }
        }
    }
}

/// What one record as split turned out to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped<'a> {
    /// The outermost envelope, `None` for a plain record.
    pub envelope: Option<Envelope>,
    /// The records inside, and the parts that could not be read, in order.
    pub items: Vec<Item<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("{what} is not valid base64 ({why})")]
    Base64 { what: &'static str, why: String },
    #[error("{what} starts as gzip but does not decompress ({why})")]
    Gzip { what: &'static str, why: String },
    #[error("{what} decodes to more than {limit} bytes")]
    TooLarge { what: &'static str, limit: usize },
    #[error("envelopes nested more than {0} deep")]
    TooDeep(usize),
    #[error("{0}")]
    Malformed(String),
}

/// The records inside `bytes` (see the crate docs). A record in no envelope comes back as the
/// one item, borrowed.
pub fn unwrap(bytes: &[u8]) -> Unwrapped<'_> {
    let mut items = Vec::with_capacity(1);
    let envelope = unwrap_each(bytes, &mut |i| items.push(i));
    Unwrapped { envelope, items }
}

/// [`unwrap`], handing each item to `f` as it is found instead of collecting them; returns the
/// outermost envelope.
pub fn unwrap_each<'a>(bytes: &'a [u8], f: &mut dyn FnMut(Item<'a>)) -> Option<Envelope> {
    let mut w = Walker { budget: MAX_TOTAL_DECODED };
    let kind = classify(bytes);
    let envelope = kind.envelope();
    w.process(bytes, kind, &[], 0, f);
    envelope
}

/// What the top-level keys say a value is.
enum Kind<'b> {
    Plain(Option<Source>),
    EventBridge {
        detail: &'b [u8],
    },
    CloudWatchLogs {
        log_events: &'b [u8],
        control: bool,
    },
    Lambda {
        awslogs: &'b [u8],
    },
    FirehoseDelivery {
        records: &'b [u8],
    },
    FirehoseRecord {
        data: &'b [u8],
    },
    OktaHook {
        events: &'b [u8],
    },
    SplunkEvent {
        raw: &'b [u8],
    },
    SplunkExport {
        result: &'b [u8],
    },
    ElasticHit {
        source: &'b [u8],
    },
    ElasticOriginal {
        original: String,
    },
    /// A page object the splitter did not split (a wrapper it was not told of): its records.
    Page {
        records: &'b [u8],
    },
}

impl Kind<'_> {
    fn envelope(&self) -> Option<Envelope> {
        Some(match self {
            Kind::Plain(_) | Kind::Page { .. } => return None,
            Kind::EventBridge { .. } => Envelope::EventBridge,
            Kind::CloudWatchLogs { .. } => Envelope::CloudWatchLogs,
            Kind::Lambda { .. } => Envelope::CloudWatchLogsLambda,
            Kind::FirehoseDelivery { .. } => Envelope::FirehoseDelivery,
            Kind::FirehoseRecord { .. } => Envelope::FirehoseRecord,
            Kind::OktaHook { .. } => Envelope::OktaEventHook,
            Kind::SplunkEvent { .. } => Envelope::SplunkEvent,
            Kind::SplunkExport { .. } => Envelope::SplunkExport,
            Kind::ElasticHit { .. } => Envelope::ElasticHit,
            Kind::ElasticOriginal { .. } => Envelope::ElasticOriginal,
        })
    }
}

/// The keys a Firehose record may have (transformation input adds `recordId`,
/// `approximateArrivalTimestamp`, `kinesisRecordMetadata`; dynamic partitioning `metadata`).
const FIREHOSE_RECORD_KEYS: [&[u8]; 5] =
    [b"data", b"recordId", b"approximateArrivalTimestamp", b"kinesisRecordMetadata", b"metadata"];

#[derive(Default)]
struct Seen<'b> {
    detail_type: bool,
    detail: Option<&'b [u8]>,
    message_type: Option<&'b [u8]>,
    log_events: Option<&'b [u8]>,
    cwl_hint: bool,
    awslogs: Option<&'b [u8]>,
    firehose_hint: bool,
    records: Option<&'b [u8]>,
    data: Option<&'b [u8]>,
    other_than_firehose_record: bool,
    hook_hint: bool,
    raw: Option<&'b [u8]>,
    result: Option<&'b [u8]>,
    splunk_hint: bool,
    es_source: Option<&'b [u8]>,
    event: Option<&'b [u8]>,
    event_original: Option<&'b [u8]>,
    page: Option<&'b [u8]>,
}

fn classify(b: &[u8]) -> Kind<'_> {
    let mut seen = Seen::default();
    let mut hints = sniff::Hints::default();
    scan::each_key(b, |k, v| {
        match k {
            b"detail-type" => seen.detail_type = true,
            b"detail" => seen.detail = Some(v),
            b"messageType" => seen.message_type = Some(v),
            b"logEvents" => seen.log_events = Some(v),
            b"logGroup" | b"owner" => seen.cwl_hint = true,
            b"awslogs" => seen.awslogs = Some(v),
            b"requestId" | b"invocationId" | b"deliveryStreamArn" => seen.firehose_hint = true,
            b"records" => seen.records = Some(v),
            b"data" => seen.data = Some(v),
            b"eventType" | b"eventTypeVersion" | b"cloudEventsVersion" => seen.hook_hint = true,
            b"_raw" => seen.raw = Some(v),
            b"result" => seen.result = Some(v),
            b"preview" | b"offset" | b"lastrow" => seen.splunk_hint = true,
            b"_source" => seen.es_source = Some(v),
            b"event" => seen.event = Some(v),
            b"event.original" => seen.event_original = Some(v),
            _ => {}
        }
        if matches!(k, b"Records" | b"Events" | b"value" | b"records" | b"items") && scan::is_array(v) {
            seen.page = Some(v);
        } else if k == b"hits" && scan::is_object(v) {
            seen.page = scan::get(v, b"hits").filter(|h| scan::is_array(h)).or(seen.page);
        }
        if !FIREHOSE_RECORD_KEYS.contains(&k) {
            seen.other_than_firehose_record = true;
        }
        hints.key(k, v)
    });
    if hints.decided.is_some() {
        return Kind::Plain(hints.decided);
    }
    if let (true, Some(detail)) = (seen.detail_type, seen.detail) {
        return Kind::EventBridge { detail };
    }
    if let Some(log_events) = seen.log_events
        && (seen.message_type.is_some() || seen.cwl_hint)
    {
        let control = seen.message_type.and_then(scan::raw_str) == Some(b"CONTROL_MESSAGE");
        return Kind::CloudWatchLogs { log_events, control };
    }
    if let Some(awslogs) = seen.awslogs.filter(|v| scan::is_object(v)) {
        return Kind::Lambda { awslogs };
    }
    if let (true, Some(records)) = (seen.firehose_hint, seen.records.filter(|v| scan::is_array(v))) {
        return Kind::FirehoseDelivery { records };
    }
    if let Some(data) = seen.data {
        if !seen.other_than_firehose_record && data.first() == Some(&b'"') {
            return Kind::FirehoseRecord { data };
        }
        if seen.hook_hint
            && scan::is_object(data)
            && let Some(events) = scan::get(data, b"events").filter(|v| scan::is_array(v))
        {
            return Kind::OktaHook { events };
        }
    }
    if let Some(raw) = seen.raw.filter(|v| v.first() == Some(&b'"')) {
        return Kind::SplunkEvent { raw };
    }
    if let (true, Some(result)) = (seen.splunk_hint, seen.result.filter(|v| scan::is_object(v))) {
        return Kind::SplunkExport { result };
    }
    if let Some(source) = seen.es_source.filter(|v| scan::is_object(v)) {
        return Kind::ElasticHit { source };
    }
    let original = seen
        .event_original
        .or_else(|| seen.event.filter(|v| scan::is_object(v)).and_then(|e| scan::get(e, b"original")));
    if let Some(original) = original.and_then(scan::string).filter(|s| is_json_object(s.as_bytes())) {
        return Kind::ElasticOriginal { original };
    }
    if let Some(records) = seen.page {
        return Kind::Page { records };
    }
    Kind::Plain(hints.source())
}

/// Whether `b` is one whole JSON object (what an `event.original` worth unwrapping holds).
fn is_json_object(b: &[u8]) -> bool {
    b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
}

struct Walker {
    /// Decoded bytes this call may still produce.
    budget: usize,
}

fn with(via: &[Step], envelope: Envelope, index: Option<usize>) -> Vec<Step> {
    let mut v = via.to_vec();
    v.push(Step { envelope, index });
    v
}

impl Walker {
    /// Takes a value found inside an envelope: classifies it and goes on.
    fn descend<'a>(&mut self, bytes: Cow<'a, [u8]>, via: Vec<Step>, depth: usize, out: &mut dyn FnMut(Item<'a>)) {
        if depth > MAX_DEPTH {
            out(Item::Broken(Broken { bytes, via, error: EnvelopeError::TooDeep(MAX_DEPTH) }));
            return;
        }
        match bytes {
            Cow::Borrowed(b) => {
                let kind = classify(b);
                self.process(b, kind, &via, depth, out);
            }
            Cow::Owned(v) => {
                let kind = classify(&v);
                if let Kind::Plain(source) = &kind {
                    let source = *source;
                    drop(kind);
                    out(Item::Record(Inner { bytes: Cow::Owned(v), via, source }));
                    return;
                }
                self.process(&v, kind, &via, depth, &mut |i| out(i.into_owned()));
            }
        }
    }

    fn process<'a>(&mut self, b: &'a [u8], kind: Kind<'a>, via: &[Step], depth: usize, out: &mut dyn FnMut(Item<'a>)) {
        let broken = |bytes: &'a [u8], via: Vec<Step>, why: String| {
            Item::Broken(Broken { bytes: Cow::Borrowed(bytes), via, error: EnvelopeError::Malformed(why) })
        };
        match kind {
            Kind::Plain(source) => out(Item::Record(Inner { bytes: Cow::Borrowed(b), via: via.to_vec(), source })),
            Kind::EventBridge { detail } => {
                let via = with(via, Envelope::EventBridge, None);
                if scan::is_object(detail) {
                    self.descend(Cow::Borrowed(detail), via, depth + 1, out);
                } else {
                    out(broken(b, via, "an EventBridge event whose detail is not an object".into()));
                }
            }
            Kind::CloudWatchLogs { log_events, control } => {
                if control {
                    return;
                }
                let mut n = 0;
                let ok = scan::each_element(log_events, |e| {
                    n += 1;
                    let via = with(via, Envelope::CloudWatchLogs, Some(n));
                    match scan::get(e, b"message").and_then(scan::string) {
                        Some(m) => self.descend(Cow::Owned(m.into_bytes()), via, depth + 1, out),
                        None => out(broken(e, via, "a CloudWatch Logs log event without a message string".into())),
                    }
                });
                if !ok {
                    let via = with(via, Envelope::CloudWatchLogs, None);
                    out(broken(
                        b,
                        via,
                        "a CloudWatch Logs subscription payload whose logEvents is not an array".into(),
                    ));
                }
            }
            Kind::Lambda { awslogs } => {
                let via = with(via, Envelope::CloudWatchLogsLambda, None);
                match scan::get(awslogs, b"data").and_then(scan::string) {
                    Some(data) => self.blob(&data, "awslogs.data", b, via, depth, out),
                    None => {
                        out(broken(b, via, "a CloudWatch Logs Lambda event whose awslogs.data is not a string".into()))
                    }
                }
            }
            Kind::FirehoseDelivery { records } => {
                let mut n = 0;
                scan::each_element(records, |r| {
                    n += 1;
                    let via = with(via, Envelope::FirehoseDelivery, Some(n));
                    match scan::get(r, b"data").and_then(scan::string) {
                        Some(data) => self.blob(&data, "records[].data", r, via, depth, out),
                        None => out(broken(r, via, "a Firehose record without a data string".into())),
                    }
                });
            }
            Kind::FirehoseRecord { data } => {
                let via = with(via, Envelope::FirehoseRecord, None);
                match scan::string(data) {
                    Some(data) => self.blob(&data, "data", b, via, depth, out),
                    None => out(broken(b, via, "a Firehose record whose data is not a string".into())),
                }
            }
            Kind::OktaHook { events } => {
                let mut n = 0;
                scan::each_element(events, |e| {
                    n += 1;
                    self.descend(Cow::Borrowed(e), with(via, Envelope::OktaEventHook, Some(n)), depth + 1, out);
                });
            }
            Kind::SplunkEvent { raw } => {
                let via = with(via, Envelope::SplunkEvent, None);
                match scan::string(raw) {
                    Some(s) => self.descend(Cow::Owned(s.into_bytes()), via, depth + 1, out),
                    None => out(broken(b, via, "a Splunk event whose _raw is not a valid string".into())),
                }
            }
            Kind::SplunkExport { result } => {
                let via = with(via, Envelope::SplunkExport, None);
                match scan::get(result, b"_raw").and_then(scan::string) {
                    Some(s) => self.descend(Cow::Owned(s.into_bytes()), via, depth + 1, out),
                    None => out(broken(
                        b,
                        via,
                        "a Splunk export row without result._raw (export the events themselves: keep _raw in the search, e.g. `| fields _raw`)".into(),
                    )),
                }
            }
            Kind::ElasticHit { source } => {
                self.descend(Cow::Borrowed(source), with(via, Envelope::ElasticHit, None), depth + 1, out)
            }
            Kind::Page { records } => {
                scan::each_element(records, |e| self.descend(Cow::Borrowed(e), via.to_vec(), depth + 1, out));
            }
            Kind::ElasticOriginal { original } => self.descend(
                Cow::Owned(original.into_bytes()),
                with(via, Envelope::ElasticOriginal, None),
                depth + 1,
                out,
            ),
        }
    }

    /// base64 (then gzip) data: the records it holds.
    fn blob<'a>(
        &mut self,
        data: &str,
        what: &'static str,
        holder: &'a [u8],
        via: Vec<Step>,
        depth: usize,
        out: &mut dyn FnMut(Item<'a>),
    ) {
        let fail = |error| Item::Broken(Broken { bytes: Cow::Borrowed(holder), via: via.clone(), error });
        let decoded = match self.decode(data, what) {
            Ok(d) => d,
            Err(e) => return out(fail(e)),
        };
        let mut splitter = Splitter::new(&decoded[..], PAGE_WRAPPERS).max_record(MAX_DECODED);
        loop {
            match splitter.next_record() {
                Ok(Some(r)) if r.truncated => {
                    let why = r.incomplete.map_or_else(|| "ends inside a record".to_string(), |i| i.to_string());
                    out(fail(EnvelopeError::Malformed(format!("{what}: {why}"))));
                }
                Ok(Some(r)) => {
                    let bytes = r.bytes.to_vec();
                    self.descend(Cow::Owned(bytes), via.clone(), depth + 1, out);
                }
                Ok(None) => break,
                Err(e) => {
                    out(fail(EnvelopeError::Malformed(format!("{what}: {e}"))));
                    break;
                }
            }
        }
    }

    fn decode(&mut self, data: &str, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
        const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let limit = MAX_DECODED.min(self.budget);
        if data.len() / 4 * 3 > limit {
            return Err(EnvelopeError::TooLarge { what, limit });
        }
        let raw = ENGINE.decode(data.trim()).map_err(|e| EnvelopeError::Base64 { what, why: e.to_string() })?;
        let out = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| EnvelopeError::Gzip { what, why: e.to_string() })?;
            out
        } else {
            raw
        };
        if out.len() > limit {
            return Err(EnvelopeError::TooLarge { what, limit });
        }
        self.budget -= out.len();
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
