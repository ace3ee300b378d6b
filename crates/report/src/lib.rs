//! Verdict reports: one function, [`render`], from stored [`VerdictRecord`]s to a terminal table,
//! JSON, NDJSON, CSV, Markdown, one self-contained HTML page, Elastic Common Schema documents
//! ([`ecs`], NDJSON) or OCSF events ([`ocsf`], NDJSON).
//!
//! Invariants:
//! - No I/O but the writer it is given; no clock (the caller passes `generated_at`).
//! - Every string that came from logs (session names, ARNs, user agents, user names, IPs) is
//!   attacker-controlled: control characters are made inert in every format, JSON and NDJSON
//!   included (`trailproof_model::text`: U+FFFD in their place), and each format escapes
//!   what is special to it (Markdown punctuation, spreadsheet formulas in CSV, HTML through maud's
//!   escaping and JSON embedded with `<`, `>`, `&` as `\u003c`…). The page's script only ever sets
//!   `textContent`.
//! - JSON keys are the verdict record's stable keys plus a `summary` object; the schema is
//!   `docs/report.schema.json` (a test checks real output against it).

pub mod ecs;
mod html;
pub mod ocsf;
mod text;

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use trailproof_model::text::inert_value;
use trailproof_model::verdict::VerdictRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
    Md,
    Html,
    /// One ECS verdict document per line (`docs/formats-ecs-ocsf.md`).
    Ecs,
    /// OCSF 1.x events, one per line: Authentication (3002) for the cited sign-ins, Detection
    /// Finding (2004) per verdict.
    Ocsf,
}

impl Format {
    pub const ALL: [Format; 8] =
        [Format::Table, Format::Json, Format::Ndjson, Format::Csv, Format::Md, Format::Html, Format::Ecs, Format::Ocsf];

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
            Format::Ecs => "ecs.ndjson",
            Format::Ocsf => "ocsf.ndjson",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
            Format::Ecs => "ecs",
            Format::Ocsf => "ocsf",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        let s = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s || (s == "markdown" && *f == Format::Md))
            .ok_or_else(|| format!("unknown report format {s:?} (table, json, ndjson, csv, md, html, ecs, ocsf)"))
    }
}

#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// ANSI colour in the table (the caller decides: a terminal, and `NO_COLOR` unset).
    pub color: bool,
    /// RFC 3339 time the report was made.
    pub generated_at: String,
    pub title: String,
    /// The range of console sign-in times the report covers, RFC 3339.
    pub range: Option<(String, String)>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { color: false, generated_at: String::new(), title: "trailproof report".into(), range: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding the report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Counts over the reported sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub sessions: u64,
    pub by_verdict: BTreeMap<String, u64>,
    /// Unknown verdicts by reason.
    pub by_reason: BTreeMap<String, u64>,
    pub by_path: BTreeMap<String, u64>,
    /// By the IdP the identity was matched at (`none` when no identity was matched).
    pub by_idp: BTreeMap<String, u64>,
    pub by_account: BTreeMap<String, u64>,
    pub by_severity: BTreeMap<String, u64>,
}

impl Summary {
    pub fn of(records: &[VerdictRecord]) -> Summary {
        let mut s = Summary { sessions: records.len() as u64, ..Summary::default() };
        for r in records {
            *s.by_verdict.entry(r.verdict.as_str().into()).or_default() += 1;
            if let Some(reason) = r.reason {
                *s.by_reason.entry(reason.as_str().into()).or_default() += 1;
            }
            *s.by_path.entry(r.path.as_str().into()).or_default() += 1;
            let idp = r.identity.as_ref().map(|i| name(&i.idp)).unwrap_or_else(|| "none".into());
            *s.by_idp.entry(idp).or_default() += 1;
            *s.by_account.entry(clean(r.account_id.as_deref().unwrap_or("-"))).or_default() += 1;
            *s.by_severity.entry(r.risk.severity.as_str().into()).or_default() += 1;
        }
        s
    }
}

/// The serde name of one of the model's enums.
pub(crate) fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Attacker-controlled text made inert by [`trailproof_model::text::inert`] (every control
/// character and bidirectional override replaced by U+FFFD), owned for the formats' escaping.
pub fn clean(s: &str) -> String {
    trailproof_model::inert(s).into_owned()
}

#[derive(Serialize)]
struct JsonReport<'a> {
    summary: &'a Summary,
    verdicts: &'a [VerdictRecord],
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    summary: &'a Summary,
}

/// Renders `records` (oldest first, as the store returns them) in `format` to `out`.
pub fn render(
    records: &[VerdictRecord],
    format: Format,
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    render_with(records, format, opts, &ocsf::RelatedEvents::default(), out)
}

/// [`render`], with the stored records the verdicts cite: OCSF output gives the sign-ins among
/// them as Authentication events (the other formats name evidence by id only).
pub fn render_with(
    records: &[VerdictRecord],
    format: Format,
    opts: &ReportOptions,
    related: &ocsf::RelatedEvents,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let summary = Summary::of(records);
    match format {
        // JSON keeps every string of the records inert too: `jq -r` must not replay an escape.
        Format::Json => {
            let report = inert_value(&JsonReport { summary: &summary, verdicts: records })?;
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            for r in records {
                serde_json::to_writer(&mut *out, &inert_value(r)?)?;
                writeln!(out)?;
            }
            serde_json::to_writer(&mut *out, &inert_value(&SummaryLine { summary: &summary })?)?;
            writeln!(out)?;
        }
        Format::Table => text::table(records, &summary, opts, out)?,
        Format::Csv => text::csv(records, out)?,
        Format::Md => text::markdown(records, &summary, opts, out)?,
        Format::Html => out.write_all(html::page(records, &summary, opts).as_bytes())?,
        Format::Ecs => {
            for r in records {
                serde_json::to_writer(&mut *out, &ecs::document(r))?;
                writeln!(out)?;
            }
        }
        Format::Ocsf => {
            for ev in ocsf::events(records, related) {
                serde_json::to_writer(&mut *out, &ev)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Verdict records for tests (this crate's and the CLI's): a plain one and a hostile one.
#[doc(hidden)]
pub mod testdata;
