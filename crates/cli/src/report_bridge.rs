// TEMPORARY until crates/report lands: replaced by `pub use trailproof_report::*;`.
use trailproof_model::verdict::VerdictRecord;
pub enum Format { Table, Json, Ndjson, Csv, Md, Html }
pub struct ReportOptions { pub color: bool, pub generated_at: String, pub title: String, pub range: Option<(String, String)> }
pub fn render(records: &[VerdictRecord], _f: Format, _o: &ReportOptions, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(out, "{}", serde_json::to_string(records).unwrap_or_default())
}
