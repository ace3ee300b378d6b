//! Small helpers shared by the commands.

use std::io::IsTerminal;
use trailproof_model::{Millis, format_ms};

pub const EXIT_FAILURE: u8 = 1;
/// A usage error (bad flags or configuration), as clap exits.
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_QUARANTINE: u8 = 3;

pub fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Whether to draw progress bars: stderr is a terminal and the user did not ask for quiet.
pub fn show_progress(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// `2026-11-01T00:00:00Z → 2026-11-02T00:00:00Z (24h 0m)`.
pub fn interval(start: Millis, end: Millis) -> String {
    format!("{} → {} ({})", format_ms(start), format_ms(end), duration(end - start))
}

pub fn duration(ms: Millis) -> String {
    let s = ms / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 * 2 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Text that came from a record or a server, made inert for a terminal: the one function every
/// output uses (`trailproof_model::text`: U+FFFD for each control character and bidirectional
/// override). `inert_lines` keeps the line breaks of a message trailproof composed.
pub use trailproof_model::{inert, inert_lines, now_ms};

/// An error and its causes, `: `-separated like `{:#}`, without the causes that only repeat what
/// is already said (SQLite's "database or disk is full" comes through three layers that each
/// print it, and a bare "Error code 13" adds nothing).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let new = text.split(": ").any(|piece| {
            let piece = piece.trim();
            let code = piece.strip_prefix("Error code ").is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
            !piece.is_empty() && !code && !out.contains(piece)
        });
        if out.is_empty() {
            out = text;
        } else if new {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Parses `START/END` (RFC 3339 each).
pub fn parse_span(s: &str) -> anyhow::Result<(Millis, Millis)> {
    let (a, b) = s
        .split_once('/')
        .ok_or_else(|| anyhow::anyhow!("--covers takes START/END, e.g. 2026-11-01T00:00:00Z/2026-11-02T00:00:00Z"))?;
    let start = trailproof_model::parse_time(a).map_err(|e| anyhow::anyhow!("--covers start: {e}"))?;
    let end = trailproof_model::parse_time(b).map_err(|e| anyhow::anyhow!("--covers end: {e}"))?;
    anyhow::ensure!(start <= end, "--covers ends before it starts: {s}");
    Ok((start, end))
}

/// Prints what the job reports (`trailproof_pipeline::job::JobEvents`): summary lines on
/// stdout, errors, refusals and fixes on stderr. `echo`: print each collected source's line.
pub struct Printer {
    pub echo: bool,
}

impl trailproof_pipeline::job::JobEvents for Printer {
    fn collected(&mut self, s: &trailproof_pipeline::job::SourceOutcome) {
        if self.echo
            && let Some(line) = &s.line
        {
            println!("{line}");
        }
        if let Some(e) = &s.error {
            eprintln!("error: {e}");
        }
        if let Some(fix) = &s.fix {
            eprintln!("  fix: {fix}");
        }
    }

    fn dispatched(&mut self, summary: &trailproof_notify::DispatchSummary) {
        for s in &summary.sinks {
            for p in &s.planned {
                println!("{}", inert(p));
            }
            for r in s.rejections.iter().chain(&s.held) {
                eprintln!("error: ticket refused: {}", inert(r));
            }
            for n in &s.notes {
                eprintln!("note: {}", inert(n));
            }
            if let Some(e) = &s.error {
                let what = match s.stop {
                    Some(trailproof_notify::Stop::Setup) => "stopped (setup)",
                    _ => "stopped",
                };
                eprintln!("error: {} {what}: {}", inert(&s.name), inert(e));
            }
        }
    }

    fn stage(&mut self, l: &trailproof_pipeline::job::StageLine) {
        // One summary line per stage: the run's output, printed even with --quiet.
        println!(
            "{:<9} {:<6} {} ({:.1} s)",
            l.stage,
            if l.ok { "ok" } else { "FAILED" },
            l.text,
            l.elapsed.as_secs_f64()
        );
    }

    fn error(&mut self, message: &str) {
        eprintln!("error: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(inert("ok\u{1b}[31mred\u{7}"), "ok�[31mred�");
        assert_eq!(inert_lines("first\nsecond\u{1b}"), "first\nsecond�");
    }

    #[test]
    fn an_error_chain_says_each_thing_once() {
        #[derive(Debug)]
        struct Full;
        impl std::fmt::Display for Full {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Error code 13: database or disk is full")
            }
        }
        impl std::error::Error for Full {}
        #[derive(Debug)]
        struct Sqlite(Full);
        impl std::fmt::Display for Sqlite {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("database or disk is full")
            }
        }
        impl std::error::Error for Sqlite {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        #[derive(Debug)]
        struct Store(Sqlite);
        impl std::fmt::Display for Store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "database error: {}", self.0)
            }
        }
        impl std::error::Error for Store {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = anyhow::Error::new(Store(Sqlite(Full))).context("opening tp.db");
        assert_eq!(error_chain(&e), "opening tp.db: database error: database or disk is full");
        let e = anyhow::anyhow!("cannot read x.json").context("importing");
        assert_eq!(error_chain(&e), "importing: cannot read x.json");
    }

    #[test]
    fn spans() {
        assert!(parse_span("2026-11-01T00:00:00Z/2026-11-02T00:00:00Z").is_ok());
        assert!(parse_span("2026-11-02T00:00:00Z/2026-11-01T00:00:00Z").is_err());
        assert!(parse_span("2026-11-01T00:00:00Z").is_err());
        assert_eq!(duration(86_400_000), "24h 0m");
    }
}

/// Reads the configuration file, or the defaults when none is given.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<trailproof_model::config::Config> {
    let Some(path) = path else { return Ok(Default::default()) };
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
    let config: trailproof_model::config::Config =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
    let r = &config.retention;
    trailproof_model::config::RetentionConfig::check_verdict_days(r.keep_days, r.verdict_keep_days)
        .map_err(|e| anyhow::anyhow!("config {}: [retention]: {e}", path.display()))?;
    Ok(config)
}

/// Opens an existing database (commands that only read must not create an empty one).
pub fn open_existing(db: &std::path::Path) -> anyhow::Result<trailproof_store::Store> {
    if !db.exists() {
        anyhow::bail!(
            "no database at {}: import or collect something first (trailproof --db {} import <source> <path>) or pass --db",
            db.display(),
            db.display()
        );
    }
    trailproof_store::Store::open(db).map_err(|e| anyhow::anyhow!("opening {}: {e}", db.display()))
}

/// Why `--db` cannot be used, when it names a database server: only SQLite files are read by
/// this build. The URL is shown with its password masked.
pub fn unsupported_db(db: &std::path::Path) -> Option<String> {
    use trailproof_store::location::DbLocation;
    match DbLocation::parse(db) {
        DbLocation::Sqlite(_) => None,
        DbLocation::Postgres(url) => Some(format!(
            "--db {url}: this build stores in SQLite only (PostgreSQL is not supported yet); pass a database file path"
        )),
        DbLocation::OtherUrl(url) => {
            Some(format!("--db {url}: not a database trailproof can use; pass a SQLite database file path"))
        }
    }
}

/// Parses an RFC 3339 time, or a duration back from `now` (`90m`, `24h`, `7d`).
pub fn parse_time_or_ago(s: &str, now: Millis) -> anyhow::Result<Millis> {
    let t = s.trim();
    if let Some(unit) = t.chars().last().filter(|c| matches!(c, 's' | 'm' | 'h' | 'd' | 'w'))
        && let Ok(n) = t[..t.len() - 1].parse::<i64>()
    {
        let ms = match unit {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => 7 * 86_400_000,
        };
        return Ok(now - n * ms);
    }
    trailproof_model::parse_time(t).map_err(|e| anyhow::anyhow!("{e} (or give a duration such as 24h, 7d)"))
}

#[cfg(test)]
mod config_tests {
    #[test]
    fn the_example_configuration_parses_and_compiles() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/trailproof.example.toml");
        let cfg = super::load_config(Some(&path)).unwrap();
        assert_eq!(cfg.idp.len(), 2);
        trailproof_correlate::Compiled::new(&cfg).unwrap();
    }

    /// The commented `[[collect.elasticsearch]]` entry of the example configuration, uncommented,
    /// is valid and names every key of `ElasticSource` (each optional number set to its default).
    #[test]
    fn the_example_elasticsearch_source_names_every_key() {
        use trailproof_model::config::{Config, ElasticSource};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/trailproof.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("# [[collect.elasticsearch]]").unwrap();
        let block: String = text[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let cfg: Config = toml::from_str(&block).unwrap();
        let e = &cfg.collect.elasticsearch[0];
        let named: toml::Table =
            toml::from_str::<toml::Table>(&block).unwrap()["collect"]["elasticsearch"][0].as_table().unwrap().clone();
        let every = toml::Table::try_from(ElasticSource {
            overlap_minutes: Some(0),
            page_size: Some(0),
            requests_per_second: Some(0),
            cloudtrail_settling_minutes: Some(0),
            okta_settling_minutes: Some(0),
            entra_settling_minutes: Some(0),
            google_settling_minutes: Some(0),
            ..ElasticSource::default()
        })
        .unwrap();
        let keys = |t: &toml::Table| t.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&named), keys(&every));
        assert_eq!((e.overlap_minutes, e.page_size, e.keep_alive.as_str()), (Some(5), Some(1000), "5m"));
        assert_eq!(e.sources.len(), 4);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "[windows]\nbefore_minute = 5\n").unwrap();
        let e = super::load_config(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("before_minute"), "{e}");
    }
}
