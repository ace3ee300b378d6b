//! Secrets never reach output: every tracing event (trace level, this process, the emulator
//! excepted), every reporter line, every error, fix and summary of runs with known secrets,
//! including refused credentials, refreshed tokens, retries and `check`.

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use trailproof_collect::{CollectOptions, LineReporter, Progress, Reporter, SourceReport, check, collect};
use trailproof_emulate::{ClockMode, serve};
use trailproof_model::config::Config;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Lines to the buffer, and the emulator's clock moved two hours on after the first page (the
/// cached tokens expire for the server only: the refresh path runs).
struct Rep<'a> {
    lines: LineReporter,
    clock: &'a trailproof_emulate::Clock,
    moved: Mutex<bool>,
}

impl Reporter for Rep<'_> {
    fn started(&self, s: &str, m: &'static str, r: Option<(i64, i64)>) {
        self.lines.started(s, m, r)
    }
    fn progress(&self, p: &Progress) {
        self.lines.progress(p);
        let mut m = self.moved.lock().unwrap();
        if !*m {
            *m = true;
            self.clock.advance(Duration::from_secs(7200));
        }
    }
    fn note(&self, s: &str, m: &str) {
        self.lines.note(s, m)
    }
    fn finished(&self, r: &SourceReport) {
        self.lines.finished(r)
    }
    fn check(&self, r: &trailproof_collect::CheckResult) {
        self.lines.check(r)
    }
}

fn secrets() -> Vec<String> {
    let mut s = vec![
        OKTA_TOKEN.to_string(),
        ENTRA_SECRET.to_string(),
        "wrong-okta-token-0123456789".into(),
        "wrong-entra-secret-0123456789".into(),
        // Access tokens minted by the emulator, and any JWT (client assertions, Entra tokens).
        "okta-at-".into(),
        "ya29.emu-".into(),
        "eyJ".into(),
    ];
    for pem in [KEY_PRIV, PKCS1_PRIV] {
        s.extend(pem.lines().filter(|l| l.len() >= 16 && !l.starts_with("-----")).map(str::to_string));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_reports_errors_or_checks() {
    let logs = Buf::default();
    let w = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,trailproof_emulate=off"))
        .with_writer(move || w.clone())
        .with_ansi(false)
        .init();
    let out = Buf::default();
    let mut texts: Vec<String> = Vec::new();

    let ds = dataset(150, 150, 150, DAY);
    let now = t0() + 2 * DAY;
    let faults = ["429:burst=1,after=2,every=1000", "5xx:burst=1,after=4,every=1000,status=500", "trunc:0.1,mode=cut"];
    let emu = serve(emulator_config(ds.dir.path(), &faults, ClockMode::Frozen(now))).await.unwrap();
    let url = emu.url();
    // The service app reads "another org" (same emulator, another host name), so that both Okta
    // sources run.
    let url2 = format!("http://localhost:{}", emu.addr().port());
    let c = creds();
    let good = config(
        vec![okta_source(&url, &c), okta_app_source(&url2, &c)],
        vec![entra_source(&url, &c)],
        vec![google_source(&url, &c)],
    );

    // Wrong credentials everywhere.
    let p = |n: &str| c.dir.path().join(n);
    std::fs::write(p("bad-token"), "wrong-okta-token-0123456789").unwrap();
    std::fs::write(p("bad-secret"), "wrong-entra-secret-0123456789").unwrap();
    std::fs::write(p("wrong-okta-key.pem"), KEY_PRIV).unwrap();
    let wrong_google_key = serde_json::json!({"type": "service_account", "private_key_id": "k2",
        "private_key": PKCS1_PRIV, "client_email": GOOGLE_SA});
    std::fs::write(p("wrong-google-key.json"), wrong_google_key.to_string()).unwrap();
    let mut okta_bad = okta_source(&url, &c);
    okta_bad.token_file = p("bad-token").to_string_lossy().into();
    let mut okta_app_bad = okta_app_source(&url2, &c);
    okta_app_bad.private_key_file = p("wrong-okta-key.pem").to_string_lossy().into();
    let mut entra_bad = entra_source(&url, &c);
    entra_bad.client_secret_file = p("bad-secret").to_string_lossy().into();
    let mut google_bad = google_source(&url, &c);
    google_bad.service_account_key_file = p("wrong-google-key.json").to_string_lossy().into();
    let bad = config(vec![okta_bad, okta_app_bad], vec![entra_bad], vec![google_bad]);

    let rep = Rep {
        lines: LineReporter::new(Box::new(out.clone()), Duration::ZERO),
        clock: emu.clock(),
        moved: Mutex::new(false),
    };
    let mut o = CollectOptions::new(now);
    o.tuning.page_size = Some(40);
    o.tuning.window_ms = 12 * 3_600_000;
    let runs: [(&str, &Config); 2] = [("good", &good), ("bad", &bad)];
    for (name, cfg) in runs {
        let db = c.dir.path().join(format!("{name}.db"));
        let s = collect(&db, cfg, &o, &rep).await.unwrap();
        texts.push(format!("{s:?}"));
        for r in &s.sources {
            texts.push(r.line());
            texts.extend(r.error.clone());
            texts.extend(r.fix.clone());
        }
        if name == "good" {
            assert!(!s.failed(), "{:#?}", s.sources.iter().map(|r| r.line()).collect::<Vec<_>>());
            assert!(s.sources.iter().any(|r| r.http.token_refreshes > 0));
            assert!(s.sources.iter().any(|r| r.http.throttled > 0));
        } else {
            assert_eq!(s.sources.iter().filter(|r| r.error.is_some()).count(), 4, "{s:#?}");
        }
        for l in check(cfg, &rep).await {
            texts.push(l.to_string());
            texts.push(format!("{l:?}"));
        }
    }

    let logs = logs.text();
    let out = out.text();
    let all = format!("{logs}\n{out}\n{}", texts.join("\n"));
    // The capture works and covers the interesting paths.
    assert!(logs.contains("/api/v1/logs") && logs.contains("DEBUG"), "{logs}");
    assert!(all.contains("access token refused"), "no refresh happened");
    assert!(all.contains("invalid_client") && all.contains("AADSTS7000215") && all.contains("Invalid JWT Signature"));
    assert!(all.contains("E0000011"));
    for s in secrets() {
        assert!(!all.contains(&s), "secret {s:?} found in the output");
    }
}
