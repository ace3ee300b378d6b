//! `check`: one line per step and source, with a fix for each failure.

use trailproof_collect::{CheckKind, CheckResult, NullReporter, check};
use trailproof_emulate::{ClockMode, serve};

use crate::common::*;

fn summary(lines: &[CheckResult]) -> Vec<(String, &'static str, bool)> {
    lines.iter().map(|l| (l.source.clone(), l.kind.as_str(), l.ok)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_configuration_passes_every_step() {
    let ds = dataset(10, 10, 10, HOUR);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let cfg = config(
        vec![okta_source(&emu.url(), &c), okta_app_source(&emu.url(), &c)],
        vec![entra_source(&emu.url(), &c)],
        vec![google_source(&emu.url(), &c)],
    );
    let lines = check(&cfg, &NullReporter).await;
    let s = |src: &str, k: &'static str| (src.to_string(), k, true);
    assert_eq!(
        summary(&lines),
        vec![
            s("okta:main", "configuration"),
            s("okta:main", "pacing"),
            s("okta:main", "reachability"),
            s("okta:main", "credentials"),
            s("okta:main", "permission"),
            s("okta:app", "configuration"),
            s("okta:app", "pacing"),
            s("okta:app", "reachability"),
            s("okta:app", "credentials"),
            s("okta:app", "permission"),
            s("entra:corp", "configuration"),
            s("entra:corp", "pacing"),
            s("entra:corp", "reachability"),
            s("entra:corp", "credentials"),
            s("entra:corp", "permission"),
            s("google:ws", "configuration"),
            s("google:ws", "pacing"),
            s("google:ws", "reachability"),
            s("google:ws", "credentials"),
            s("google:ws", "permission"),
            s("google:ws", "permission"),
        ]
    );
    let okta_perm = &lines[4];
    assert!(lines[1].detail.starts_with("not paced (requests_per_minute = 0)"), "{}", lines[1].detail);
    assert!(lines[1].detail.contains("coverage ends 0 min before now"), "{}", lines[1].detail);
    let entra = lines.iter().find(|l| l.source == "entra:corp" && l.kind == CheckKind::Pacing).unwrap();
    assert!(entra.detail.contains("entra documents up to 2 hours"), "{}", entra.detail);
    assert!(entra.detail.contains("non-interactive sign-ins to every application"), "{}", entra.detail);
    assert!(okta_perm.detail.starts_with("read System Log: "), "{}", okta_perm.detail);
    assert!(lines[0].detail.starts_with("API token from /"), "{}", lines[0].detail);
    assert!(lines.iter().all(|l| l.fix.is_none()));
}

fn failing<'a>(lines: &'a [CheckResult], source: &str) -> &'a CheckResult {
    lines.iter().find(|l| l.source == source && !l.ok).unwrap_or_else(|| panic!("no failure for {source}: {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_say_which_step_failed_and_how_to_fix_it() {
    let ds = dataset(10, 10, 10, HOUR);
    let mut ec = emulator_config(ds.dir.path(), &[], ClockMode::Wall);
    ec.entra_premium = false;
    let emu = serve(ec).await.unwrap();
    let c = creds();
    let url = emu.url();

    let bad_token = c.dir.path().join("bad-token");
    std::fs::write(&bad_token, "wrong-okta-token-0123456789").unwrap();
    let mut okta_bad = okta_source(&url, &c);
    okta_bad.name = "badtoken".into();
    okta_bad.token_file = bad_token.to_string_lossy().into();
    let mut okta_missing = okta_source(&url, &c);
    okta_missing.name = "missing".into();
    okta_missing.token_file = "/nonexistent/okta-token".into();
    let mut okta_down = okta_source("http://127.0.0.1:1", &c);
    okta_down.name = "down".into();

    let bad_secret = c.dir.path().join("bad-secret");
    std::fs::write(&bad_secret, "wrong-entra-secret-0123456789").unwrap();
    let mut entra_bad = entra_source(&url, &c);
    entra_bad.name = "badsecret".into();
    entra_bad.client_secret_file = bad_secret.to_string_lossy().into();
    let entra_nonpremium = entra_source(&url, &c);

    let mut google_bad_admin = google_source(&url, &c);
    google_bad_admin.admin_email = "someone@example.com".into();

    let cfg =
        config(vec![okta_bad, okta_missing, okta_down], vec![entra_bad, entra_nonpremium], vec![google_bad_admin]);
    let lines = check(&cfg, &NullReporter).await;

    let l = failing(&lines, "okta:badtoken");
    assert_eq!(l.kind, CheckKind::Credentials);
    assert!(l.detail.contains("HTTP 401") && l.detail.contains("E0000011"), "{}", l.detail);
    assert!(l.fix.as_deref().unwrap().contains("API token is invalid"), "{l}");

    let l = failing(&lines, "okta:missing");
    assert_eq!(l.kind, CheckKind::Credentials);
    assert!(l.detail.contains("cannot read the file /nonexistent/okta-token"), "{}", l.detail);

    let l = failing(&lines, "okta:down");
    assert_eq!(l.kind, CheckKind::Reachability);
    assert!(l.detail.starts_with("http://127.0.0.1:1: connection failed"), "{}", l.detail);

    let l = failing(&lines, "entra:badsecret");
    assert_eq!(l.kind, CheckKind::Credentials);
    assert!(l.detail.contains("AADSTS7000215"), "{}", l.detail);
    assert!(l.fix.as_deref().unwrap().contains("client secret is wrong or expired"), "{l}");

    let l = failing(&lines, "entra:corp");
    assert_eq!(l.kind, CheckKind::Permission);
    assert!(l.fix.as_deref().unwrap().contains("P1 or P2"), "{l}");

    let l = failing(&lines, "google:ws");
    assert_eq!(l.kind, CheckKind::Credentials);
    assert!(l.detail.contains("Invalid email or User ID"), "{}", l.detail);
    assert!(l.fix.as_deref().unwrap().contains("admin_email"), "{l}");

    // The text form: one line, plus a fix line for failures.
    let text = failing(&lines, "okta:badtoken").to_string();
    assert!(text.starts_with("okta:badtoken        credentials    FAIL GET /api/v1/logs was not authorized"), "{text}");
    assert!(text.contains("\n                                    fix: the API token is invalid"), "{text}");
}
