//! The HTML report: one self-contained page (inline style and script, inline SVG chart, no
//! external asset). Built with maud, which escapes every interpolated string; each session is a
//! `<tbody>` of two rows (the session and its hidden evidence timeline), so sorting and filtering
//! move and hide whole sessions. The script never builds markup from data: it toggles `hidden`,
//! reorders elements and sets `textContent`.
//!
//! The page reads its controls from the URL fragment on load (`#q=alice&verdict=not_enforced&
//! sort=score&dir=desc&open=EVENT_ID`), so a link can share a filtered view.

use crate::{ReportOptions, Summary, clean, name};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::BTreeMap;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};
use trailproof_model::{Millis, format_ms, parse_time};

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1d2330;background:#fafbfc}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.meta{color:#5b6475;margin-bottom:1rem}
.cards{display:flex;gap:.6rem;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.5rem .8rem;min-width:7rem}
.card b{display:block;font-size:1.4rem}
.counts{display:flex;gap:1.2rem;flex-wrap:wrap}.counts table{border-collapse:collapse;background:#fff}
.counts td,.counts th{border:1px solid #e3e6ec;padding:.15rem .5rem;text-align:left}
.enforced{color:#1a7f37}.not_enforced{color:#c62828;font-weight:600}.no_idp_login{color:#8e24aa;font-weight:600}.unknown{color:#b26a00}
svg text{font-size:10px;fill:#5b6475}
.controls{margin:.6rem 0;display:flex;gap:.6rem;align-items:center}
input,select{font:inherit;padding:.2rem .4rem}
table.sessions{border-collapse:collapse;width:100%;background:#fff}
table.sessions th{cursor:pointer;text-align:left;background:#eef1f5;border-bottom:2px solid #cfd5de;padding:.3rem .4rem;white-space:nowrap}
table.sessions th[data-dir=asc]::after{content:" \25B2"}table.sessions th[data-dir=desc]::after{content:" \25BC"}
table.sessions td{border-bottom:1px solid #edf0f4;padding:.25rem .4rem;vertical-align:top}
tr.session{cursor:pointer}tr.session:hover{background:#f3f6fb}
tr.detail td{background:#f7f9fc}
.timeline{margin:.2rem 0 .4rem 1rem;padding:0}.timeline li{margin:.15rem 0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
"#;

const SCRIPT: &str = r#"
(function () {
  "use strict";
  var table = document.getElementById("sessions");
  var q = document.getElementById("q");
  var vsel = document.getElementById("verdict");
  var shown = document.getElementById("shown");
  function apply() {
    var needle = q.value.trim().toLowerCase();
    var v = vsel.value;
    var n = 0;
    Array.prototype.forEach.call(table.tBodies, function (tb) {
      var ok = (!v || tb.dataset.verdict === v) && (!needle || tb.dataset.text.indexOf(needle) >= 0);
      tb.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  function sortBy(th, dir) {
    var key = th.dataset.key;
    var num = th.dataset.num === "1";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("data-dir"); });
    th.dataset.dir = dir;
    var bodies = Array.prototype.slice.call(table.tBodies);
    bodies.sort(function (a, b) {
      var x = a.dataset[key] || "", y = b.dataset[key] || "";
      if (num) { x = Number(x); y = Number(y); }
      var c = x < y ? -1 : (x > y ? 1 : 0);
      if (c === 0) { c = a.dataset.time < b.dataset.time ? -1 : (a.dataset.time > b.dataset.time ? 1 : 0); }
      return dir === "asc" ? c : -c;
    });
    bodies.forEach(function (b) { table.appendChild(b); });
  }
  function toggle(tb, open) {
    var row = tb.rows[0], detail = tb.rows[1];
    detail.hidden = !open;
    row.setAttribute("aria-expanded", String(open));
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.addEventListener("click", function () { sortBy(th, th.dataset.dir === "asc" ? "desc" : "asc"); });
  });
  table.addEventListener("click", function (e) {
    var row = e.target.closest("tr.session");
    if (row) { toggle(row.parentNode, row.parentNode.rows[1].hidden); }
  });
  q.addEventListener("input", apply);
  vsel.addEventListener("change", apply);
  var h = new URLSearchParams(location.hash.slice(1));
  if (h.has("q")) { q.value = h.get("q"); }
  if (h.has("verdict")) { vsel.value = h.get("verdict"); }
  if (h.has("sort")) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (th.dataset.key === h.get("sort")) { sortBy(th, h.get("dir") === "desc" ? "desc" : "asc"); }
    });
  }
  if (h.has("open")) {
    Array.prototype.forEach.call(table.tBodies, function (tb) { if (tb.dataset.id === h.get("open")) { toggle(tb, true); } });
  }
  apply();
  document.body.dataset.ready = "1";
})();
"#;

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn opt(s: &Option<String>) -> String {
    clean(s.as_deref().unwrap_or("-"))
}

/// A chart bucket: its start and the sessions per verdict in it.
type Bucket = (Millis, BTreeMap<Verdict, u64>);

/// Counts per time bucket and verdict, for the chart, with the bucket length.
fn buckets(records: &[VerdictRecord]) -> (Millis, Vec<Bucket>) {
    let times: Vec<(Millis, Verdict)> =
        records.iter().filter_map(|r| parse_time(&r.time).ok().map(|t| (t, r.verdict))).collect();
    let (Some(lo), Some(hi)) = (times.iter().map(|t| t.0).min(), times.iter().map(|t| t.0).max()) else {
        return (3_600_000, Vec::new());
    };
    let hour = 3_600_000;
    let step = if hi - lo <= 3 * 24 * hour { hour } else { 24 * hour };
    let first = lo - lo.rem_euclid(step);
    let n = ((hi - first) / step + 1) as usize;
    let mut out: Vec<Bucket> = (0..n.min(2_000)).map(|i| (first + i as Millis * step, BTreeMap::new())).collect();
    for (t, v) in times {
        let i = ((t - first) / step) as usize;
        if let Some(b) = out.get_mut(i) {
            *b.1.entry(v).or_default() += 1;
        }
    }
    (step, out)
}

fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Enforced => "#2e9d4f",
        Verdict::NotEnforced => "#d32f2f",
        Verdict::NoIdpLogin => "#8e24aa",
        Verdict::Unknown => "#f0a202",
    }
}

fn chart(records: &[VerdictRecord]) -> Markup {
    let (step, bs) = buckets(records);
    if bs.is_empty() {
        return html! { p { "No sessions in this report." } };
    }
    let max = bs.iter().map(|(_, m)| m.values().sum::<u64>()).max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (900.0_f64, 180.0_f64, 34.0_f64, 22.0_f64);
    let bw = ((w - left) / bs.len() as f64).max(1.0);
    let scale = (h - bottom - 6.0) / max as f64;
    let label_every = (bs.len() / 12).max(1);
    html! {
        svg id="chart" width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img"
            aria-label="Console sessions per verdict over time" {
            text x="0" y="10" { (max) }
            text x="0" y=(h - bottom) { "0" }
            @for (i, (t, m)) in bs.iter().enumerate() {
                @let x = left + i as f64 * bw;
                @let mut y = h - bottom;
                @for v in Verdict::ALL {
                    @let n = m.get(&v).copied().unwrap_or(0);
                    @if n > 0 {
                        @let bh = n as f64 * scale;
                        @let top = { y -= bh; y };
                        rect x=(format!("{x:.1}")) y=(format!("{top:.1}")) width=(format!("{:.1}", (bw - 1.0).max(0.5)))
                            height=(format!("{bh:.1}")) fill=(colour(v)) {
                            title { (format_ms(*t)) " " (v.as_str()) ": " (n) }
                        }
                    }
                }
                @if i % label_every == 0 {
                    text x=(format!("{x:.1}")) y=(h - 6.0) {
                        @let s = format_ms(*t);
                        (if step < 86_400_000 { s.get(5..13).unwrap_or(&s).replace('T', " ") + "h" } else { s.get(0..10).unwrap_or(&s).to_string() })
                    }
                }
            }
        }
        div .counts {
            @for v in Verdict::ALL {
                span { span style=(format!("color:{}", colour(v))) { "■ " } (v.as_str()) }
            }
        }
    }
}

fn count_table(title: &str, m: &BTreeMap<String, u64>) -> Markup {
    html! {
        table {
            tr { th { (title) } th { "sessions" } }
            @for (k, n) in m { tr { td { (k) } td { (n) } } }
        }
    }
}

fn session(r: &VerdictRecord) -> Markup {
    let who = clean(r.session_name.as_deref().or(r.arn.as_deref()).unwrap_or("-"));
    let signals: Vec<&str> = r.risk.signals.iter().map(|s| s.as_str()).collect();
    let text = [
        r.time.as_str(),
        r.console_login_event_id.as_str(),
        r.verdict.as_str(),
        r.reason.map(|x| x.as_str()).unwrap_or(""),
        r.path.as_str(),
        r.account_id.as_deref().unwrap_or(""),
        r.arn.as_deref().unwrap_or(""),
        r.session_name.as_deref().unwrap_or(""),
        r.source_ip.as_deref().unwrap_or(""),
        r.user_agent.as_deref().unwrap_or(""),
        r.identity.as_ref().map(|i| i.user.as_str()).unwrap_or(""),
        &signals.join(" "),
    ]
    .join(" ")
    .to_lowercase();
    let severity = r.risk.severity.as_str();
    html! {
        tbody data-id=(clean(&r.console_login_event_id)) data-verdict=(r.verdict.as_str()) data-text=(clean(&text))
            data-time=(clean(&r.time)) data-severity=(severity_rank(r.risk.severity)) data-score=(r.risk.score)
            data-account=(opt(&r.account_id)) data-session=(who) data-path=(r.path.as_str()) {
            tr .session aria-expanded="false" {
                td .mono { (clean(&r.time)) }
                td class=(r.verdict.as_str()) { (r.verdict.as_str()) }
                td { (r.reason.map(|x| x.as_str()).unwrap_or("-")) }
                td { (r.path.as_str()) }
                td .mono { (opt(&r.account_id)) }
                td { (severity) " (" (r.risk.score) ")" }
                td .mono { (who) }
                td .mono { (opt(&r.source_ip)) }
                td { (signals.join(", ")) }
            }
            tr .detail hidden {
                td colspan="9" {
                    ol .timeline {
                        @if let Some(m) = &r.mfa {
                            @if let Some(at) = &m.at {
                                li { span .mono { (clean(at)) } " MFA: " (clean(&m.factors.join(", ")))
                                    @if m.carried_from_earlier_signin { " (carried from an earlier sign-in)" } }
                            }
                        }
                        li { span .mono { (clean(&r.time)) } " ConsoleLogin " code { (clean(&r.console_login_event_id)) }
                            " from " span .mono { (opt(&r.source_ip)) } ", user agent " span .mono.ua { (opt(&r.user_agent)) } }
                    }
                    p { b { "Session: " } span .mono { (opt(&r.arn)) } }
                    @if let Some(i) = &r.identity {
                        p { b { "Identity: " } (name(&i.idp)) " user " span .mono { (clean(&i.user)) } " (matched by " (name(&i.matched_by)) ")" }
                    }
                    p { b { "Evidence:" } }
                    ul .timeline {
                        @for e in &r.evidence {
                            li { (e.source.as_str()) " " (clean(&e.role)) ": " code { (clean(&e.id)) } }
                        }
                    }
                    p { b { "Explanation: " } (clean(&r.explanation)) }
                    p { b { "Reproduce: " } code { "trailproof lookup " (clean(&r.console_login_event_id)) } " (verdict version " (r.version) ")" }
                }
            }
        }
    }
}

pub(crate) fn page(records: &[VerdictRecord], summary: &Summary, opts: &ReportOptions) -> String {
    let columns: [(&str, &str, bool); 9] = [
        ("time", "time", false),
        ("verdict", "verdict", false),
        ("reason", "verdict", false),
        ("path", "path", false),
        ("account", "account", false),
        ("severity", "severity", true),
        ("session", "session", false),
        ("source IP", "time", false),
        ("signals", "score", true),
    ];
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (clean(&opts.title)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (clean(&opts.title)) }
                div .meta {
                    @if let Some((a, b)) = &opts.range { "Console sign-ins from " (clean(a)) " to " (clean(b)) ". " }
                    @if !opts.generated_at.is_empty() { "Generated " (clean(&opts.generated_at)) " by trailproof." }
                }
                div .cards {
                    div .card { b { (summary.sessions) } "sessions" }
                    @for v in Verdict::ALL {
                        div .card { b class=(v.as_str()) { (summary.by_verdict.get(v.as_str()).copied().unwrap_or(0)) } (v.as_str()) }
                    }
                }
                h2 { "Verdicts over time" }
                (chart(records))
                h2 { "Counts" }
                div .counts {
                    (count_table("path", &summary.by_path))
                    (count_table("IdP", &summary.by_idp))
                    (count_table("account", &summary.by_account))
                    (count_table("severity", &summary.by_severity))
                    @if !summary.by_reason.is_empty() { (count_table("unknown because", &summary.by_reason)) }
                }
                h2 { "Sessions" }
                div .controls {
                    label { "Filter " input #q type="search" placeholder="user, account, IP, event id…" autocomplete="off"; }
                    label { "Verdict "
                        select #verdict {
                            option value="" { "all" }
                            @for v in Verdict::ALL { option value=(v.as_str()) { (v.as_str()) } }
                        }
                    }
                    span { span #shown { (records.len()) } " of " (records.len()) " sessions shown; click a row for its evidence, a header to sort." }
                }
                table #sessions .sessions {
                    thead { tr {
                        @for (label, key, num) in columns {
                            th data-key=(key) data-num=(if num { "1" } else { "0" }) { (label) }
                        }
                    } }
                    @for r in records { (session(r)) }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    markup.into_string()
}

#[cfg(test)]
mod tests {
    use crate::testdata::{hostile, record};
    use crate::{Format, ReportOptions, render};
    use trailproof_model::verdict::Verdict;

    #[test]
    fn the_page_is_self_contained_and_escapes_attacker_text() {
        let mut buf = Vec::new();
        let recs = vec![record("e1", Verdict::Enforced), hostile("e2")];
        render(&recs, Format::Html, &ReportOptions::default(), &mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        assert_eq!(page.matches("<script").count(), 1, "only the page's own script");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the user agent, as text");
        assert!(!page.contains("<img"), "no markup from an ARN");
        assert!(!page.contains('\x1b'));
        for external in ["http://", "https://", "src=\"", "@import"] {
            // The only URL is inside the hostile session name, escaped as text.
            let outside: Vec<_> =
                page.match_indices(external).filter(|(i, _)| !page[..*i].ends_with("&quot;")).collect();
            assert!(outside.is_empty(), "external reference {external}: {outside:?}");
        }
        assert!(page.contains("<svg id=\"chart\""));
        assert_eq!(page.matches("<tbody").count(), 2);
    }
}
