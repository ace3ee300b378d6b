//! `trailproof import`.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use trailproof_ingest::{CoverageBasis, Format, ImportOptions, Progress, collect_inputs, import};
use trailproof_store::Store;

use crate::args::{Global, ImportArgs};
use crate::util;

pub fn run(g: &Global, a: &ImportArgs) -> anyhow::Result<ExitCode> {
    let source = a.source.source();
    let format = Format::for_source(source, a.format.as_deref())?;
    let covers = a.covers.as_deref().map(util::parse_span).transpose()?;
    let (inputs, manifests) = collect_inputs(&a.paths)?;
    let mut store = Store::open(&g.db).with_context(|| format!("opening {}", g.db.display()))?;
    let opts = ImportOptions {
        format,
        covers,
        scope: a.scope.clone(),
        threads: a.threads,
        bulk: a.bulk.choice(),
        ..ImportOptions::new(source)
    };

    let bar = util::show_progress(g.quiet).then(|| {
        let total: u64 = inputs.iter().map(|i| i.size()).sum();
        let pb = ProgressBar::new(total.max(1));
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_prefix(format!("importing {source}"));
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

    let c = &report.counts;
    println!(
        "imported {source} from {} input(s), {}: {} records read, {} stored, {} already present, {} skipped as irrelevant, {} quarantined",
        report.files,
        util::human_bytes(report.bytes),
        c.read,
        c.stored,
        c.duplicates,
        c.skipped,
        c.quarantined
    );
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
            "  coverage recorded: {source} {} {} ({basis})",
            util::inert(&cov.scope),
            util::interval(cov.start_ms, cov.end_ms)
        );
    }
    if report.coverage.len() > SHOWN {
        println!("  … and coverage for {} more scopes (see `trailproof status`)", report.coverage.len() - SHOWN);
    }
    if let Some(why) = &report.coverage_withheld {
        println!("  coverage NOT recorded: {why}");
    }
    if report.coverage.is_empty() && report.coverage_withheld.is_none() {
        println!(
            "  coverage: nothing recorded (no records with a time were read; pass --covers to vouch for an empty span)"
        );
    }
    for (input, why) in &report.failed_inputs {
        eprintln!("error: {}: {}", util::inert(input), util::inert(why));
    }
    if !report.failed_inputs.is_empty() {
        eprintln!(
            "error: {} input(s) could not be read to the end; what was read before the problem is stored",
            report.failed_inputs.len()
        );
        return Ok(ExitCode::from(util::EXIT_FAILURE));
    }
    if c.quarantined > 0 {
        return Ok(ExitCode::from(util::EXIT_QUARANTINE));
    }
    Ok(ExitCode::SUCCESS)
}
