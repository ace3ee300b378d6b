//! The text formats: terminal table, CSV, Markdown.

use crate::{ReportError, ReportOptions, Summary, clean, name};
use std::io::Write;
use trailproof_model::verdict::{Verdict, VerdictRecord};

fn who(r: &VerdictRecord) -> String {
    clean(r.session_name.as_deref().or(r.arn.as_deref()).unwrap_or("-"))
}

fn signals(r: &VerdictRecord) -> String {
    r.risk.signals.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// Cuts `s` to `width` characters (an ellipsis marks the cut), padded to `width`.
fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s}{}", " ".repeat(width - n))
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Enforced => "\x1b[32m",
        Verdict::NotEnforced => "\x1b[1;31m",
        Verdict::NoIdpLogin => "\x1b[1;35m",
        Verdict::Unknown => "\x1b[33m",
    }
}

fn summary_line(s: &Summary) -> String {
    let parts: Vec<String> = s.by_verdict.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{} sessions: {}", s.sessions, if parts.is_empty() { "none".into() } else { parts.join(", ") })
}

pub(crate) fn table(
    records: &[VerdictRecord],
    summary: &Summary,
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    writeln!(
        out,
        "{:<20} {:<13} {:<22} {:<17} {:<12} {:<8} {:<40} signals",
        "time", "verdict", "reason", "path", "account", "severity", "session"
    )?;
    for r in records {
        let verdict = fit(r.verdict.as_str(), 13);
        let verdict = if opts.color { format!("{}{verdict}\x1b[0m", colour(r.verdict)) } else { verdict };
        writeln!(
            out,
            "{:<20} {verdict} {:<22} {:<17} {:<12} {:<8} {} {}",
            clean(&r.time),
            r.reason.map(|x| x.as_str()).unwrap_or("-"),
            r.path.as_str(),
            fit(&clean(r.account_id.as_deref().unwrap_or("-")), 12),
            r.risk.severity.as_str(),
            fit(&who(r), 40),
            signals(r)
        )?;
    }
    writeln!(out, "{}", summary_line(summary))?;
    Ok(())
}

/// A cell from log data for a spreadsheet: control characters stripped, and a leading `=`, `+`,
/// `-`, `@` (or tab/CR, already stripped) neutralised with `'` so no cell is read as a formula.
fn cell(s: &str) -> String {
    let s = clean(s);
    if s.starts_with(['=', '+', '-', '@', '\u{FFFD}']) { format!("'{s}") } else { s }
}

pub(crate) fn csv(records: &[VerdictRecord], out: &mut dyn Write) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "time",
        "console_login_event_id",
        "account_id",
        "arn",
        "session_name",
        "source_ip",
        "user_agent",
        "path",
        "verdict",
        "reason",
        "identity_idp",
        "identity_user",
        "matched_by",
        "mfa_factors",
        "mfa_at",
        "severity",
        "score",
        "signals",
        "evidence",
        "version",
        "explanation",
    ])?;
    for r in records {
        let ev: Vec<String> = r.evidence.iter().map(|e| format!("{}:{}:{}", e.source.as_str(), e.role, e.id)).collect();
        w.write_record([
            cell(&r.time),
            cell(&r.console_login_event_id),
            cell(r.account_id.as_deref().unwrap_or("")),
            cell(r.arn.as_deref().unwrap_or("")),
            cell(r.session_name.as_deref().unwrap_or("")),
            cell(r.source_ip.as_deref().unwrap_or("")),
            cell(r.user_agent.as_deref().unwrap_or("")),
            r.path.as_str().into(),
            r.verdict.as_str().into(),
            r.reason.map(|x| x.as_str()).unwrap_or("").into(),
            r.identity.as_ref().map(|i| name(&i.idp)).unwrap_or_default(),
            cell(r.identity.as_ref().map(|i| i.user.as_str()).unwrap_or("")),
            r.identity.as_ref().map(|i| name(&i.matched_by)).unwrap_or_default(),
            cell(&r.mfa.as_ref().map(|m| m.factors.join(",")).unwrap_or_default()),
            cell(r.mfa.as_ref().and_then(|m| m.at.as_deref()).unwrap_or("")),
            r.risk.severity.as_str().into(),
            r.risk.score.to_string(),
            signals(r),
            cell(&ev.join(" ")),
            r.version.to_string(),
            cell(&r.explanation),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Attacker text for Markdown: made inert (U+FFFD for control characters), and every character
/// Markdown or HTML would interpret in a table cell escaped.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in clean(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn markdown(
    records: &[VerdictRecord],
    summary: &Summary,
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    writeln!(out, "## {}", md(&opts.title))?;
    writeln!(out)?;
    if let Some((a, b)) = &opts.range {
        writeln!(out, "Console sign-ins from {} to {}. ", md(a), md(b))?;
    }
    writeln!(out, "{}.", summary_line(summary))?;
    writeln!(out)?;
    writeln!(out, "| time | verdict | reason | path | account | severity | session | signals | reproduce |")?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    for r in records {
        writeln!(
            out,
            "| {} | **{}** | {} | {} | {} | {} | {} | {} | `trailproof lookup {}` |",
            md(&r.time),
            r.verdict.as_str().replace('_', "\\_"),
            r.reason.map(|x| x.as_str().replace('_', "\\_")).unwrap_or_else(|| "-".into()),
            r.path.as_str().replace('_', "\\_"),
            md(r.account_id.as_deref().unwrap_or("-")),
            r.risk.severity.as_str(),
            md(r.session_name.as_deref().or(r.arn.as_deref()).unwrap_or("-")),
            signals(r).replace('_', "\\_"),
            // Inside a code span only a backtick could end it; event ids never hold one, but
            // strip it anyway.
            clean(&r.console_login_event_id).replace(['`', '|'], "")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{hostile, record};
    use crate::{Format, render};
    use trailproof_model::verdict::Verdict;

    fn rendered(records: &[VerdictRecord], f: Format, color: bool) -> String {
        let mut buf = Vec::new();
        let opts = ReportOptions { color, title: "t".into(), ..Default::default() };
        render(records, f, &opts, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn table_strips_control_characters_and_colours_only_when_asked() {
        let recs = vec![record("e1", Verdict::Enforced), hostile("e2")];
        let plain = rendered(&recs, Format::Table, false);
        assert!(!plain.contains('\x1b'), "{plain:?}");
        assert_eq!(plain.lines().count(), 4, "header, two sessions, summary: {plain}");
        assert!(plain.ends_with("2 sessions: enforced 1, not_enforced 1\n"), "{plain}");
        let coloured = rendered(&recs, Format::Table, true);
        // Only our own colour codes: the ESC inside the hostile session name is gone.
        assert_eq!(coloured.matches('\x1b').count(), 4, "{coloured:?}");
    }

    #[test]
    fn csv_cells_never_start_a_formula_and_keep_one_row_per_session() {
        let recs = vec![record("e1", Verdict::Enforced), hostile("e2")];
        let out = rendered(&recs, Format::Csv, false);
        let mut rd = csv::Reader::from_reader(out.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        for row in &rows {
            for c in row.iter() {
                assert!(!c.starts_with(['=', '+', '-', '@', '\t', '\r']), "cell {c:?}");
                assert!(!c.contains('\x1b'), "cell {c:?}");
            }
        }
        let session = &rows[1][4];
        assert!(session.starts_with("'=HYPERLINK"), "{session}");
    }

    #[test]
    fn json_and_ndjson_carry_no_control_character() {
        // `jq -r .verdicts[].session_name` must not replay the escape on a terminal.
        let mut r = hostile("e\u{7}2");
        r.user_agent = Some("ua\u{9b}31m\r\nforged".into());
        for f in [Format::Json, Format::Ndjson] {
            let out = rendered(std::slice::from_ref(&r), f, false);
            for bad in ["\\u001b", "\\u0007", "\\r", "\\n", "\u{9b}"] {
                assert!(!out.contains(bad), "{f:?}: {bad:?} in {out}");
            }
            assert!(out.contains("<b>x</b>\u{FFFD}[2J"), "the rest is kept as data: {out}");
            let first: serde_json::Value =
                serde_json::from_str(out.lines().next().filter(|_| f == Format::Ndjson).unwrap_or(&out)).unwrap();
            let rec = if f == Format::Json { &first["verdicts"][0] } else { &first };
            assert_eq!(rec["console_login_event_id"], "e\u{FFFD}2");
        }
    }

    #[test]
    fn markdown_escapes_table_breaking_and_html_characters() {
        let out = rendered(&[hostile("e2")], Format::Md, false);
        let row = out.lines().find(|l| l.contains("e2")).unwrap();
        // 9 columns: 10 unescaped pipes.
        let pipes = row.match_indices('|').filter(|(i, _)| *i == 0 || &row[i - 1..*i] != "\\").count();
        assert_eq!(pipes, 10, "{row}");
        assert!(!out.contains("<script"), "{out}");
        assert!(out.contains("&lt;script&gt;") || !out.contains("script"), "{out}");
        assert!(row.contains("`trailproof lookup e2`"), "{row}");
    }
}
