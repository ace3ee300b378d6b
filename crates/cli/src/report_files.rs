//! Report files: rendered in each configured format and written atomically (`run`, `report`,
//! `demo`).

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use trailproof_model::verdict::VerdictRecord;

pub fn format_of(name: &str) -> anyhow::Result<trailproof_report::Format> {
    name.parse::<trailproof_report::Format>().map_err(|e| anyhow::anyhow!("run.report_formats: {e}"))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a
/// report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Renders `records` in every format of `formats` into `dir` as `<stem>.<ext>` and
/// `latest.<ext>`; returns the files written.
pub fn write_reports(
    records: &[VerdictRecord],
    formats: &[String],
    dir: &Path,
    stem: &str,
    opts: &trailproof_report::ReportOptions,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for f in formats {
        let format = format_of(f)?;
        let ext = format.extension();
        let mut buf = Vec::new();
        trailproof_report::render(records, format, opts, &mut buf).with_context(|| format!("rendering {f}"))?;
        let path = dir.join(format!("{stem}.{ext}"));
        write_atomic(&path, &buf)?;
        write_atomic(&dir.join(format!("latest.{ext}")), &buf)?;
        written.push(path);
    }
    Ok(written)
}
