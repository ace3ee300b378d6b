//! The HTML report in a real browser (Debian's headless Chromium): it loads with no console
//! message (errors, CSP violations), its script runs to the end, attacker text renders as text,
//! and the filter, the verdict selector, sorting and the evidence timeline work. The page applies
//! its controls from the URL fragment on load (the same functions the input events call), and
//! Chromium's `--dump-dom` gives the DOM after the script ran.
//!
//! Skips (saying so) without Chromium, unless TRAILPROOF_REQUIRE_CHROMIUM=1 (set by .ci/run,
//! which installs it).

use std::path::Path;
use std::process::Command;
use trailproof_model::verdict::Verdict;
use trailproof_report::testdata::{hostile, record};
use trailproof_report::{Format, ReportOptions, render};

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists())
}

/// The DOM after load, and Chromium's console lines.
fn load(page: &Path, fragment: &str) -> (String, Vec<String>) {
    let bin = chromium().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}#{fragment}", page.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr.lines().filter(|l| l.contains("CONSOLE")).map(str::to_string).collect();
    (String::from_utf8_lossy(&out.stdout).to_string(), console)
}

/// Session ids of the `<tbody>`s in document order, and whether each is shown.
fn sessions(dom: &str) -> Vec<(String, bool)> {
    dom.match_indices("<tbody ")
        .map(|(i, _)| {
            let tag = &dom[i..i + dom[i..].find('>').unwrap()];
            let id = tag.split("data-id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            (id, !tag.contains(" hidden"))
        })
        .collect()
}

fn shown(dom: &str) -> Vec<String> {
    sessions(dom).into_iter().filter(|(_, s)| *s).map(|(id, _)| id).collect()
}

#[test]
fn the_html_report_works_in_headless_chromium_and_keeps_attacker_text_inert() {
    if chromium().is_none() {
        assert!(
            std::env::var("TRAILPROOF_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "TRAILPROOF_REQUIRE_CHROMIUM=1 but no chromium at /usr/bin/chromium"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
        return;
    }
    let mut recs = vec![record("e1", Verdict::Enforced), hostile("h1"), record("e3", Verdict::Unknown)];
    recs[0].session_name = Some("alice@example.com".into());
    recs[2].session_name = Some("carol@example.com".into());
    recs[2].risk.score = 20;
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("report.html");
    let mut buf = Vec::new();
    render(&recs, Format::Html, &ReportOptions { title: "browser test".into(), ..Default::default() }, &mut buf)
        .unwrap();
    std::fs::write(&page, buf).unwrap();

    // Plain load: everything shown, the script ran to its end, not a single console line.
    let (dom, console) = load(&page, "");
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains("data-ready=\"1\""), "the page's script did not finish:\n{dom}");
    assert_eq!(shown(&dom), ["e1", "h1", "e3"]);
    assert_eq!(dom.matches("<script").count(), 1, "only the page's own script element");
    assert!(!dom.contains("<img"), "markup from an ARN became an element");

    // The filter: free text across columns.
    let (dom, console) = load(&page, "q=CAROL");
    assert!(console.is_empty(), "console: {console:#?}");
    assert_eq!(shown(&dom), ["e3"]);
    assert!(dom.contains("id=\"shown\">1<"), "the shown count follows the filter");
    // ... and the verdict selector.
    let (dom, _) = load(&page, "verdict=not_enforced");
    assert_eq!(shown(&dom), ["h1"]);

    // Sorting by risk, highest first, moves whole sessions.
    let (dom, _) = load(&page, "sort=score&dir=desc");
    let order: Vec<String> = sessions(&dom).into_iter().map(|(id, _)| id).collect();
    assert_eq!(order, ["h1", "e3", "e1"]);

    // A session's evidence timeline opens, and the user agent `<script>alert(1)</script>` is
    // text in it, not an element.
    let (dom, console) = load(&page, "open=h1");
    assert!(console.is_empty(), "console: {console:#?}");
    let h1 = &dom[dom.find("data-id=\"h1\"").unwrap()..];
    let h1 = &h1[..h1.find("</tbody>").unwrap()];
    assert!(h1.contains("<tr class=\"detail\">"), "the timeline is open:\n{h1}");
    assert!(h1.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h1}");
    assert!(h1.contains("trailproof lookup h1"), "{h1}");
    let e1 = &dom[dom.find("data-id=\"e1\"").unwrap()..];
    assert!(e1[..e1.find("</tbody>").unwrap()].contains("<tr class=\"detail\" hidden"), "others stay closed");
}
