//! `trailproof import`.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::process::ExitCode;
use trailproof_ingest::{CoverageBasis, Format, ImportOptions, ImportReport, Progress, collect_inputs, import};
use trailproof_model::Source;
use trailproof_store::{ImportCounts, Store};

use crate::args::{Global, ImportArgs};
use crate::util;

/// Records of another source than the one the command names were found (README, `--help`).
pub const EXIT_FOREIGN: u8 = 6;
const EXIT_USAGE: u8 = 2;

pub fn run(g: &Global, a: &ImportArgs) -> anyhow::Result<ExitCode> {
    let source = a.source.source();
    let format = match source {
        Some(s) => Format::for_source(s, a.format.as_deref())?,
        None if a.format.is_some() => {
            eprintln!("error: --format forces one source's record shape; name the source instead of `auto`");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        None => Format::Native,
    };
    let covers = a.covers.as_deref().map(util::parse_span).transpose()?;
    let cfg = util::load_config(g.config.as_deref())?;
    let (inputs, manifests) = collect_inputs(&a.paths)?;
    let mut store = Store::open(&g.db).with_context(|| format!("opening {}", g.db.display()))?;
    let base = match source {
        Some(s) => ImportOptions::new(s),
        None => ImportOptions::auto(),
    };
    let opts = ImportOptions {
        format,
        covers,
        scope: a.scope.clone(),
        threads: a.threads,
        bulk: a.bulk.choice(),
        future_skew_ms: i64::from(cfg.import.future_skew_hours) * 3_600_000,
        ..base
    };
    let what = source.map(|s| s.to_string()).unwrap_or_else(|| "auto".into());

    let bar = util::show_progress(g.quiet).then(|| {
        let total: u64 = inputs.iter().map(|i| i.size()).sum();
        let pb = ProgressBar::new(total.max(1));
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_prefix(format!("importing {what}"));
        pb
    });
    let mut on_progress = |p: &Progress| {
        if let Some(pb) = &bar {
            pb.set_position(p.bytes_done);
            pb.set_message(format!("{} records, {}/{} files", p.records, p.files_done, p.files_total));
        }
    };
    let report = import(&mut store, &inputs, &manifests, &opts, &mut on_progress)?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    print_summary(&what, source, &report);

    for (input, why) in &report.failed_inputs {
        eprintln!("error: {}: {}", util::inert(input), util::inert(why));
    }
    if !report.failed_inputs.is_empty() {
        eprintln!(
            "error: {} input(s) could not be read to the end or were not recognised; what was read before the problem is stored",
            report.failed_inputs.len()
        );
        return Ok(ExitCode::from(util::EXIT_FAILURE));
    }
    if report.foreign > 0 {
        print_foreign(source, &report);
        return Ok(ExitCode::from(EXIT_FOREIGN));
    }
    if report.counts.quarantined > 0 {
        return Ok(ExitCode::from(util::EXIT_QUARANTINE));
    }
    Ok(ExitCode::SUCCESS)
}

fn counts_line(c: &ImportCounts) -> String {
    format!(
        "{} records read, {} stored, {} already present, {} skipped as irrelevant, {} quarantined",
        c.read, c.stored, c.duplicates, c.skipped, c.quarantined
    )
}

fn print_summary(what: &str, source: Option<Source>, report: &ImportReport) {
    let c = &report.counts;
    let foreign = if report.foreign > 0 { format!(", {} of another source", report.foreign) } else { String::new() };
    println!(
        "imported {what} from {} input(s), {}: {}{foreign}",
        report.files,
        util::human_bytes(report.bytes),
        counts_line(c)
    );
    if source.is_none() {
        for (s, c) in &report.by_source {
            println!("  {s}: {}", counts_line(c));
        }
    }
    if !report.envelopes.is_empty() {
        let list: Vec<String> = report.envelopes.iter().map(|(e, n)| format!("{n} {e}")).collect();
        println!("  envelopes opened: {}", list.join(", "));
    }
    for (loc, reason) in &report.quarantine_examples {
        println!("  quarantined: {}: {}", util::inert(loc), util::inert(reason));
    }
    if c.quarantined > report.quarantine_examples.len() as u64 {
        println!("  … see `trailproof status` for all quarantine reasons");
    }
    const SHOWN: usize = 6;
    for cov in report.coverage.iter().take(SHOWN) {
        let basis = match cov.basis {
            CoverageBasis::Vouched => "as vouched by --covers",
            CoverageBasis::Manifest => "from coverage.json",
            CoverageBasis::Span => "span of the records read",
        };
        println!(
            "  coverage recorded: {} {} {} ({basis})",
            cov.source,
            util::inert(&cov.scope),
            util::interval(cov.start_ms, cov.end_ms)
        );
    }
    if report.coverage.len() > SHOWN {
        println!("  … and coverage for {} more scopes (see `trailproof status`)", report.coverage.len() - SHOWN);
    }
    if let Some(why) = &report.coverage_withheld {
        let label = if report.coverage.is_empty() { "coverage NOT recorded" } else { "coverage withheld in part" };
        println!("  {label}: {}", util::inert(why));
    }
    if report.coverage.is_empty() && report.coverage_withheld.is_none() && report.foreign == 0 {
        println!(
            "  coverage: nothing recorded (no records with a time were read; pass --covers to vouch for an empty span)"
        );
    }
}

/// The wrong source was named: what the records look like and the exact command to use.
fn print_foreign(source: Option<Source>, report: &ImportReport) {
    let named = source.map(|s| s.to_string()).unwrap_or_default();
    for (loc, looks) in &report.foreign_examples {
        eprintln!("  {}: {} {looks} record", util::inert(loc), article(looks.as_str()));
    }
    let mut by_source: BTreeMap<Source, Vec<&str>> = BTreeMap::new();
    for (input, looks, n) in &report.foreign_inputs {
        eprintln!("error: {}: {n} record(s) look like {looks} records, not {named} ones", util::inert(input));
        by_source.entry(*looks).or_default().push(input);
    }
    for (looks, files) in by_source {
        let files: Vec<String> = files.iter().map(|f| shell_word(f)).collect();
        eprintln!("  import them as {looks}: trailproof import {looks} {}", files.join(" "));
    }
    eprintln!(
        "error: {} record(s) of another source than {named} were not stored, and no coverage was recorded for their files; a file that mixes sources imports with `trailproof import auto PATH…`",
        report.foreign
    );
}

/// "a" or "an" before a source's name.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// A path as one shell word (quoted when it needs to be), neutralised for the terminal.
fn shell_word(s: &str) -> String {
    let s = util::inert(s).into_owned();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
