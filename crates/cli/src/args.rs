//! Command-line flags, declared once.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "trailproof",
    version,
    about = "Was MFA enforced for this AWS console session?",
    long_about = "trailproof collects CloudTrail and the sign-in logs of Okta, Microsoft Entra ID and Google \
Workspace into one SQLite database, joins every federated ConsoleLogin to the IdP login behind it, and \
states whether MFA was enforced, with the evidence.\n\n\
Start with `trailproof import` to load exported logs, then `trailproof status` to see what is stored.",
    after_help = "Exit codes: 0 success; 1 operational failure (missing or unreadable input, database error); \
2 usage error; 3 finished, but some records were quarantined (see `trailproof status`); \
4 `run` found sessions at or above run.fail_on_severity; 5 another `run` holds the database's lock; \
6 `import` found records of another source than the one named (the message names it)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct Global {
    /// SQLite database file (created if missing).
    #[arg(long, global = true, env = "TRAILPROOF_DB", default_value = "trailproof.db", value_name = "PATH")]
    pub db: PathBuf,
    /// Configuration file (TOML; see config/trailproof.example.toml). Without one, defaults
    /// apply and every IdP present in the database is searched.
    #[arg(long, global = true, env = "TRAILPROOF_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print only errors and the final summary; no progress display.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import exported log files (or standard input) into the database: one source's, or any
    /// (`import auto`).
    #[command(
        long_about = "Import exported log files (or standard input) into the database.\n\n\
Name the source (cloudtrail, okta, entra, adfs, google), or say `auto`: each record's source is then detected \
from its keys, record by record, so one file may mix sources. Naming a source and finding another source's \
records fails the import (exit 6), names the source they look like and the command to use; nothing of those \
records is stored and no coverage is recorded for their file.\n\n\
Files may be gzip-compressed (detected by content) and hold a JSON array, NDJSON, a single record, \
or a page/wrapper object ({\"Records\":[..]}, {\"Events\":[..]}, {\"value\":[..]}, \
{\"records\":[..]}, {\"items\":[..]}, Elasticsearch {\"hits\":{\"hits\":[..]}}). Directories are read \
recursively (*.json, *.json.gz, *.ndjson, *.jsonl, *.gz, *.log; CloudTrail-Digest folders are skipped).\n\n\
Envelopes are opened wherever records arrive in them, and their own fields ignored: EventBridge events \
(detail-type + detail), CloudWatch Logs subscription payloads (logEvents[].message; also base64+gzip as \
{\"awslogs\":{\"data\":..}} and in Firehose records), Firehose HTTP endpoint deliveries \
(records[].data, base64, gzip when compressed), Okta Event Hook deliveries (data.events[]), Splunk events \
and export rows (_raw, result._raw), Elasticsearch hits (_source) and Elastic documents that kept \
event.original. Envelopes may nest.\n\n\
Importing the same data twice stores nothing new. A record that cannot be parsed is quarantined with \
the reason (and the envelope it came out of) and never aborts the file.\n\n\
Coverage: trailproof only says \"no IdP login\" or \"no MFA\" for times it knows it holds every record of. \
An import records the span of the records it read per source and scope, or exactly what --covers states, \
or what a directory's coverage.json states. A problem in one file (a quarantined or foreign record, a tail \
that could not be read) withholds only the stretch around that file's records, from the last clean record \
before them to the first clean record after them; a problem file without any dated record withholds the \
source's span altogether.",
        after_help = "Examples:\n  \
trailproof --db tp.db import cloudtrail ./AWSLogs/\n  \
trailproof --db tp.db import cloudtrail lookup-events.json\n  \
trailproof --db tp.db import okta okta-logs.json --covers 2026-11-01T00:00:00Z/2026-11-02T00:00:00Z\n  \
trailproof --db tp.db import entra signins.json\n  \
trailproof --db tp.db import adfs adfs-signins.json\n  \
trailproof --db tp.db import google login.json saml.json\n  \
trailproof --db tp.db import auto firehose-export/ splunk-export.json eventbridge.ndjson\n  \
cat records.ndjson | trailproof --db tp.db import okta -\n\n\
Exit codes: 0 everything read was stored or skipped; 1 an input is missing, unreadable, or (auto) not \
recognised; 2 usage error; 3 finished with quarantined records; 6 records of another source than the one \
named (1 outranks 6, 6 outranks 3)."
    )]
    Import(ImportArgs),
    /// Show what is stored: counts per source and event kind, coverage, quarantine.
    Status(StatusArgs),
    /// Judge every stored console session: was MFA enforced? Stores versioned verdicts.
    #[command(long_about = "Judge every stored console session: was MFA enforced?\n\n\
Each successful ConsoleLogin gets one verdict (enforced, not_enforced, no_idp_login, or unknown with \
the reason) with the evidence it rests on and risk signals. Verdicts are stored; running again on \
the same data changes nothing, and a verdict that changes because late records arrived gets a new \
version. The rules are in docs/judging.md.")]
    Correlate(CorrelateArgs),
    /// Report stored verdicts: terminal table, JSON, NDJSON, CSV, Markdown or an HTML page.
    #[command(after_help = "Examples:\n  \
trailproof --db tp.db report --since 24h\n  \
trailproof --db tp.db report --since 7d --format html --out report.html\n  \
trailproof --db tp.db report --format csv --out verdicts.csv\n  \
trailproof --db tp.db report --format ndjson | jq 'select(.verdict == \"not_enforced\")'")]
    Report(ReportArgs),
    /// Explain one session: its verdict, explanation and the timeline of records behind it.
    #[command(after_help = "Examples:\n  \
trailproof --db tp.db lookup arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com\n  \
trailproof --db tp.db lookup 5f4cb814-8c1e-4a35-9bb6-3c3a4bbd5ee0 --format json")]
    Lookup(LookupArgs),
    /// Serve a simulated data directory over the vendors' real APIs (Okta System Log, Microsoft
    /// token + Graph sign-ins, Google token + Reports, CloudTrail LookupEvents), for testing
    /// collectors and demos. Runs until interrupted.
    #[command(after_help = "Faults (repeat --fault, or separate with ';'):\n  \
429:P | 429:burst=N[,every=M][,after=K]    throttling (P = 0.2 or 20%)\n  \
5xx:P[,status=S] | 5xx:burst=N...         server errors (default 503)\n  \
slow:200ms   drop:P   trunc:P[,mode=close|cut]   ttl:30s (tokens expire)   late:5m[,jitter=10m]\n  \
on:okta+entra+google+cloudtrail+tokens     which endpoints the faults hit\n\n\
Example:\n  trailproof simulate --out ./sim && trailproof emulate --data ./sim --listen 127.0.0.1:8443 --fault 429:10%")]
    Emulate(EmulateArgs),
    /// Write a simulated organisation's logs in each source's native format, with ground-truth
    /// labels: for tests, demos and benchmarks.
    #[command(
        long_about = "Write a simulated organisation's logs in each source's native format, with ground-truth labels.\n\n\
Writes OUT/AWSLogs/ (a CloudTrail S3 trail tree of .json.gz files, delivery-time names, duplicates, \
ordinary API noise), OUT/okta/, OUT/entra/, OUT/google/ (API pages, each with a coverage.json), \
OUT/labels.ndjson (the expected verdict of every console session), OUT/org.toml (the organisation as \
trailproof configuration) and OUT/truth.json (record counts). Same seed, same bytes. The scenario \
catalogue is crates/simulate/README.md.",
        after_help = "Example:\n  trailproof simulate --seed 7 --users 500 --days 3 --out ./sim\n  \
for s in cloudtrail:AWSLogs okta entra google; do trailproof --db sim.db import ${s%%:*} ./sim/${s#*:}; done"
    )]
    Simulate(SimulateArgs),
    /// The whole job on a built-in simulated organisation: no accounts, no network.
    #[command(long_about = "The whole job on a built-in simulated organisation: no accounts, no network.\n\n\
Generates a labelled organisation (Okta, Entra ID and Google Workspace users signing in to AWS through \
SAML, IAM Identity Center and federation brokers, plus attacks and gaps), imports its logs, judges \
every console session, writes the verdicts to OUT/verdicts.json, and checks every verdict against the \
simulator's ground truth. Then try `trailproof --db OUT/trailproof.db lookup <ARN>`.")]
    Demo(DemoArgs),
    /// Collect from the configured sources' APIs into the database: incrementally from each
    /// source's checkpoint, or a backfill with --since.
    #[command(
        long_about = "Collect from the configured sources' APIs into the database.\n\n\
Without --since, each source continues from its checkpoint (re-reading `collect.overlap_minutes` so late \
events are caught); the first run starts `collect.initial_lookback_hours` back. With --since (and \
--until) it backfills that range on a stream of its own. Every page of records is stored together with \
its checkpoint, so a run killed at any moment resumes without gaps or duplicates, and coverage is \
recorded only for what completed. Okta, Entra ID and Google run concurrently, CloudTrail sources beside \
them, each paced at its vendor's rate limit. Secrets are read from the environment variables or files \
the configuration names, and never printed.",
        after_help = "Examples:\n  \
trailproof --config trailproof.toml collect\n  \
trailproof --config trailproof.toml collect --source okta --since 2026-10-01T00:00:00Z\n  \
trailproof --config trailproof.toml collect --until 2026-11-02T00:00:00Z"
    )]
    Collect(CollectArgs),
    /// Check each configured source: credentials, reachability, permission to read the logs.
    Check,
    /// The scheduled batch: collect → correlate → report → notify, one summary line per stage.
    #[command(
        long_about = "The scheduled batch: collect → correlate → report → notify, one summary line per stage.\n\n\
Meant for cron, a systemd timer or a Kubernetes CronJob (examples in config/schedule/). A lock keeps two \
runs off one database; the [run] section of the configuration says what is re-judged, which reports are \
written where, and which findings set the exit code.",
        after_help = RUN_AFTER_HELP
    )]
    Run(RunArgs),
    /// Deliver queued verdicts to the [[notify]] sinks: Jira, ServiceNow, PagerDuty, Slack, webhooks.
    #[command(after_help = NOTIFY_AFTER_HELP)]
    Notify(NotifyArgs),
    /// Remove the records no later judgement can need: retention, by hand (also the last stage of
    /// `run` when [retention] is enabled).
    #[command(
        long_about = "Remove the records no later judgement can need (retention).\n\n\
Console sessions older than the window are sealed: their verdicts stay, with the records they cite \
(`lookup` still shows them), and they are never judged again. Records older than what a session inside \
the window can read (about 37 hours before the window; Google sign-ins: the Google look-back too) are \
removed, with their coverage; what the \"new IP / user agent / role / ASN / country\" signals need of them \
is kept as per-identity aggregates, so no verdict or signal changes. A session not judged yet holds the \
window back. The work goes in small transactions (a kill loses nothing; run it again to finish), under \
the same locks as an import, and the space goes back to the file system by incremental vacuum in \
bounded steps (stores created before this version reuse it instead).\n\n\
Verdicts stay until removed on purpose: --keep-verdict-days N (or [retention] verdict_keep_days) removes \
those of sessions older than N days (N at least the records' window), with their earlier versions, \
their ticket-queue rows (opened tickets stay) and the records only they cite; one a notification sink has not sent yet stays. \
Without it the store keeps growing by each judged session's verdict and evidence (some 10 KB).\n\n\
Nothing is removed by default: without --keep-days, prune needs [retention] enabled = true in the \
configuration.",
        after_help = "Examples:\n  \
trailproof --db tp.db prune --keep-days 30 --dry-run\n  \
trailproof --db tp.db prune --keep-days 30 --keep-verdict-days 400\n  \
trailproof --db tp.db --config trailproof.toml prune"
    )]
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Keep this many days (default: [retention] keep_days, when [retention] is enabled).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_days: Option<u32>,
    /// Also remove the verdicts of sessions older than N days (at least --keep-days), with their
    /// earlier versions and the records only they cite (default: [retention] verdict_keep_days,
    /// when [retention] is enabled; otherwise verdicts stay).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_verdict_days: Option<u32>,
    /// The present (RFC 3339); default: now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Say what would go and how many bytes that frees, without removing anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Only this source.
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
    /// Backfill from this time (RFC 3339, or a duration back such as 7d).
    #[arg(long, value_name = "TIME|DURATION")]
    pub since: Option<String>,
    /// Up to this time (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to write the demo's data, database and reports.
    #[arg(long, default_value = "trailproof-demo", value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = 150)]
    pub users: u32,
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    /// Read CloudTrail through the S3 collector from a local moto server (installed by
    /// `bash crates/emulate/scripts/moto-s3.sh install`; uploading the tree takes a minute or
    /// two). Without it, or without moto, the collector reads the trail tree from disk.
    #[arg(long)]
    pub s3: bool,
    /// Read the four sources through the emulated Elasticsearch (the Elastic integrations' data
    /// streams) with `[[collect.elasticsearch]]`, and write every verdict version back into it
    /// with a `[[notify]] kind = "elasticsearch"` sink.
    #[arg(long, conflicts_with = "s3")]
    pub elastic: bool,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Output directory (created; files of the same names are overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = 500)]
    pub users: u32,
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// First day (RFC 3339); default 2026-11-01T00:00:00Z.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// Share of CloudTrail records that are ordinary API calls (raise it for bigger corpora:
    /// 0.999 writes ten times the records of 0.99).
    #[arg(long, default_value_t = 0.99)]
    pub noise_ratio: f64,
    /// IdP events unrelated to AWS per user per day.
    #[arg(long, default_value_t = 20)]
    pub idp_noise: u32,
    /// AWS accounts (1–9).
    #[arg(long, default_value_t = 3)]
    pub accounts: u32,
}

#[derive(Args, Debug)]
pub struct EmulateArgs {
    /// The data directory (as written by `trailproof simulate`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Address to listen on (loopback unless you mean it).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Inject faults; see below.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,
    /// Seed of every fault decision (same seed, same faults).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Enforce the vendors' documented rate limits (429 / ThrottlingException past them).
    #[arg(long)]
    pub rate_limits: bool,
    /// Emulated clock: wall, frozen:RFC3339, running:RFC3339 (events become visible as it passes).
    #[arg(long, default_value = "wall", value_name = "MODE")]
    pub clock: String,
}

#[derive(Args, Debug)]
pub struct CorrelateArgs {
    /// Judge ConsoleLogins up to this time (RFC 3339); default: now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Judge only ConsoleLogins at or after this time (RFC 3339, or a duration back from --now
    /// such as 24h or 7d); default: all stored.
    #[arg(long, value_name = "TIME|DURATION")]
    pub since: Option<String>,
    /// Judge at most about this many sessions at a time (fewer when --slice-mb is reached). Memory
    /// follows the slice, not the number of sessions judged; a session's verdict does not depend
    /// on it.
    #[arg(long, value_name = "N", default_value_t = trailproof_pipeline::JudgeOptions::default().slice_sessions,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub slice_sessions: u64,
    /// Hold about this many megabytes of records per slice (0: no bound): in a larger
    /// organisation more is read around each session, and slices then hold fewer sessions, so
    /// memory stays about the same. A session's verdict does not depend on it.
    #[arg(long, value_name = "MB", default_value_t = trailproof_pipeline::JudgeOptions::default().slice_bytes / 1_000_000)]
    pub slice_mb: u64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One line per session (colour on a terminal unless NO_COLOR is set).
    Table,
    /// {"summary": …, "verdicts": […]}; schema in docs/report.schema.json.
    Json,
    /// One verdict record per line, then a {"summary": …} line.
    Ndjson,
    /// For spreadsheets (cells that would start a formula are prefixed with ').
    Csv,
    /// A Markdown table for tickets and chats.
    Md,
    /// One self-contained page: counts, a chart over time, a sortable and filterable table, each
    /// session's evidence on click.
    Html,
    /// Elastic Common Schema documents, one per line (docs/formats-ecs-ocsf.md; schema in
    /// docs/ecs-verdict.schema.json).
    Ecs,
    /// OCSF 1.x events, one per line: the cited sign-ins as Authentication (3002), each verdict
    /// as a Detection Finding (2004) (docs/formats-ecs-ocsf.md).
    Ocsf,
}

impl ReportFormat {
    pub fn format(self) -> trailproof_report::Format {
        use trailproof_report::Format;
        match self {
            ReportFormat::Table => Format::Table,
            ReportFormat::Json => Format::Json,
            ReportFormat::Ndjson => Format::Ndjson,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Md => Format::Md,
            ReportFormat::Html => Format::Html,
            ReportFormat::Ecs => Format::Ecs,
            ReportFormat::Ocsf => Format::Ocsf,
        }
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Only sessions at or after this time (RFC 3339, or a duration back from now such as 24h).
    #[arg(long, value_name = "TIME|DURATION")]
    pub since: Option<String>,
    /// Only sessions before this time (RFC 3339); default: all.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Write to this file (atomically: a reader never sees half a report) instead of standard
    /// output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct LookupArgs {
    /// A session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/NAME, federated-user/NAME, an IAM user
    /// ARN) or a ConsoleLogin eventID.
    #[arg(value_name = "ARN|EVENT_ID")]
    pub target: String,
    #[arg(long, value_enum, default_value_t = LookupFormat::Text)]
    pub format: LookupFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceArg {
    Cloudtrail,
    Okta,
    Entra,
    Google,
}

impl SourceArg {
    pub fn source(self) -> trailproof_model::Source {
        use trailproof_model::Source;
        match self {
            SourceArg::Cloudtrail => Source::Cloudtrail,
            SourceArg::Okta => Source::Okta,
            SourceArg::Entra => Source::Entra,
            SourceArg::Google => Source::Google,
        }
    }
}

/// What `import` reads: one source's records, or any (`auto`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// Detect each record's source from its keys (a file may mix sources).
    Auto,
    Cloudtrail,
    Okta,
    Entra,
    /// AD FS sign-ins from Entra's diagnostic logs (category ADFSSignInLogs).
    Adfs,
    Google,
}

impl ImportSource {
    /// `None` for `auto`.
    pub fn source(self) -> Option<trailproof_model::Source> {
        use trailproof_model::Source;
        Some(match self {
            ImportSource::Auto => return None,
            ImportSource::Cloudtrail => Source::Cloudtrail,
            ImportSource::Okta => Source::Okta,
            ImportSource::Entra => Source::Entra,
            ImportSource::Adfs => Source::Adfs,
            ImportSource::Google => Source::Google,
        })
    }
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Which source the files come from, or `auto` to detect each record's.
    #[arg(value_enum)]
    pub source: ImportSource,
    /// Files or directories to import; `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Force a record shape instead of detecting it per record (with a named source only).
    /// cloudtrail: native, lookup-events, ecs; entra: graph, azure-monitor, log-analytics;
    /// adfs: azure-monitor, log-analytics.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Vouch that the inputs hold every record of this span: START/END in RFC 3339.
    #[arg(long, value_name = "START/END")]
    pub covers: Option<String>,
    /// Coverage scope to record instead of the one the records name
    /// (Okta records name none: `*`).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Parser threads (default: one per core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
    /// Drop the IdP indexes during the import and rebuild them at the end. A little faster for
    /// a large import into an empty database, slower into one that holds IdP events (the
    /// rebuild reads them all), and readers opened meanwhile cannot query by user or
    /// application until it ends. auto: for an IdP import of about 100 MB or more (some
    /// 100,000 records, counted as one per KiB) into a database without IdP events.
    #[arg(long, value_enum, default_value_t = BulkArg::Auto)]
    pub bulk: BulkArg,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkArg {
    Auto,
    Always,
    Never,
}

impl BulkArg {
    pub fn choice(self) -> Option<bool> {
        match self {
            BulkArg::Auto => None,
            BulkArg::Always => Some(true),
            BulkArg::Never => Some(false),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFormat {
    #[default]
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Do everything but send: collect, judge and write the reports, then print the tickets that
    /// would be sent and leave them queued.
    #[arg(long)]
    pub dry_run: bool,
    /// Skip collection (for databases fed by `trailproof import`).
    #[arg(long)]
    pub no_collect: bool,
    /// Judge and report as of this time (RFC 3339) instead of now: for replays and tests.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

pub const RUN_AFTER_HELP: &str = "\
Stages: collect (every [collect] source, from its checkpoint; coverage ends each source's settling \
time before now, docs/source-lag.md) → correlate (re-judges the sessions of the last \
run.rejudge_hours, so late records update verdicts, and any older session that rested on an IdP \
record completed since it was stored) → report (run.report_formats into \
run.report_dir: report-<time>.<ext> and latest.<ext>) → notify (delivers new and changed verdicts \
to the [[notify]] sinks through the outbox) → prune (with [retention] enabled: records older than \
retention.keep_days that no later judgement needs; see `trailproof prune --help`). A stage that fails does not stop the later ones: \
verdicts only rest on the data whose coverage is recorded, so missing data gives `unknown`, never \
a wrong verdict.

Exit codes:
  0  every stage succeeded and no finding reached run.fail_on_severity
  1  a stage failed (a source not collected, a report not written, tickets left undelivered);
     takes precedence over 4, since the findings may then be incomplete
  2  usage error (bad flags or configuration)
  4  findings: a session of the report window at or above run.fail_on_severity
  5  another `trailproof run` holds the lock on this database

Scheduling examples: config/schedule/ (cron, systemd timer, Kubernetes CronJob).

Examples:
  trailproof --db /var/lib/trailproof/tp.db --config /etc/trailproof.toml run
  trailproof --config trailproof.toml run --dry-run
  trailproof --config trailproof.toml run --no-collect   # logs arrive by `trailproof import`";

#[derive(Args, Debug)]
pub struct NotifyArgs {
    /// Print what would be sent, send nothing, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub const NOTIFY_AFTER_HELP: &str = "\
Every verdict version trailproof stores is queued (the outbox, written with the verdict). For each \
[[notify]] sink, notify creates one ticket per session (dedup key: account + ConsoleLogin event id), \
comments on it when a later version of the verdict differs (PagerDuty: pages again only when the \
severity rises, else a change event), and closes it when the session turns out enforced \
(close_on_enforced; Jira through close_transition, else a closing comment). A ticket is never \
created twice: trailproof looks it up before creating it again. A setup error (credentials, \
permission, project, issue type, channel, routing key) stops the sink with its queue kept and says \
what to fix; a ticket refused for its content is reported and not retried for that version; a \
ticket deleted at the service is recreated or skipped (on_gone). A new sink starts with the last \
day's verdicts (backfill = true: all). See docs/ticket-sinks.md.

Exit codes: 0 delivered (or nothing to do); 1 a sink stopped (its tickets stay queued) or refused a \
ticket; 2 usage.

Examples:
  trailproof --config trailproof.toml notify --dry-run
  trailproof --config trailproof.toml notify";
