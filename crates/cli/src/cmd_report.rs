//! `trailproof report`: stored verdicts in any of the report crate's formats.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::args::{Global, ReportArgs, ReportFormat};
use crate::util;

pub fn run(g: &Global, a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let store = util::open_existing(&g.db)?;
    let now = util::now_ms();
    let from = a.since.as_deref().map(|s| util::parse_time_or_ago(s, now)).transpose()?.unwrap_or(i64::MIN);
    let to = a
        .until
        .as_deref()
        .map(|s| trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--until: {e}")))
        .transpose()?
        .unwrap_or(i64::MAX);
    let records = store.verdicts(from, to)?;
    // Verdicts removed on purpose by retention are not in the report: say so (not in the report
    // itself, which holds only what is stored).
    if let Some(cut) = store.retention_state()?.and_then(|r| r.verdicts_before_ms)
        && from < cut
        && !g.quiet
    {
        eprintln!(
            "note: the verdicts of sessions before {} were removed by retention (verdict_keep_days); the report holds the later ones",
            trailproof_model::format_ms(cut)
        );
    }
    let to_terminal = a.out.is_none() && std::io::stdout().is_terminal();
    let opts = trailproof_report::ReportOptions {
        color: a.format == ReportFormat::Table
            && to_terminal
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        generated_at: trailproof_model::format_ms(now),
        title: "trailproof report".into(),
        range: Some((
            a.since.as_ref().map(|_| trailproof_model::format_ms(from)).unwrap_or_else(|| "the first session".into()),
            a.until.as_ref().map(|_| trailproof_model::format_ms(to)).unwrap_or_else(|| "the last session".into()),
        )),
    };
    let related = if a.format == ReportFormat::Ocsf { related_events(&store, &records)? } else { Default::default() };
    let mut buf = Vec::new();
    trailproof_report::render_with(&records, a.format.format(), &opts, &related, &mut buf)?;
    match &a.out {
        Some(path) => {
            trailproof_pipeline::job::write_atomic(path, &buf)?;
            if !g.quiet {
                eprintln!("wrote {} sessions as {} to {}", records.len(), a.format.format().as_str(), path.display());
            }
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The stored records the verdicts cite (for OCSF's Authentication events); a record no longer
/// stored is only named by id.
pub fn related_events(
    store: &trailproof_store::Store,
    records: &[trailproof_model::verdict::VerdictRecord],
) -> anyhow::Result<trailproof_report::ocsf::RelatedEvents> {
    use trailproof_report::ocsf::RelatedEvent;
    let mut out = trailproof_report::ocsf::RelatedEvents::default();
    for r in records {
        for e in &r.evidence {
            if out.get(e.source, &e.id).is_some() {
                continue;
            }
            let found = match e.source.idp() {
                None => store.aws_event(&e.id)?.map(|x| RelatedEvent::Aws(Box::new(x))),
                Some(idp) => store.idp_event(idp, &e.id)?.map(|x| RelatedEvent::Idp(Box::new(x))),
            };
            if let Some(ev) = found {
                out.insert(e.source, &e.id, ev);
            }
        }
    }
    Ok(out)
}
