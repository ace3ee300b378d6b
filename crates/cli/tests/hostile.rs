//! The hostile corpus (issue 17): every case of `fixtures/hostile/cases.json` through the real
//! binary. A case describes its inputs (small files kept in `fixtures/hostile/`, records built
//! from `fixtures/hostile/base/` and broken on purpose, or large and binary inputs generated here
//! from a short description: random bytes, 100,000 `[`, gzip bombs, long lines, FIFOs, symlinks)
//! and states what a careful operator expects: the exit code, the counts of the summary line,
//! the coverage recorded, what the messages say, and what later commands print. Nothing may
//! hang: a case that does not finish in its time is a failure.
//!
//! `HOSTILE_CASE=name` runs one case; `HOSTILE_BIN=path` runs the cases against another binary
//! (e.g. an older build, to see which cases it fails).

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use trailproof_model::{Millis, format_ms};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin() -> PathBuf {
    std::env::var_os("HOSTILE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_trailproof")))
}

fn now_ms() -> Millis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
}

/// `{NOW}`, `{NOW+2h}`, `{NOW-3d}`, `{NOW+90m}` → RFC 3339 times relative to `now`;
/// `{REPEAT:n:text}` → `text` n times (`text` holds no `}`), so large inputs stay small here.
fn placeholders(s: &str, now: Millis) -> String {
    let s = repeats(s);
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("{NOW") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else { break };
        let spec = &rest[i + 4..i + j];
        let offset = if spec.is_empty() {
            0
        } else {
            let (sign, body) = spec.split_at(1);
            let (n, unit) = body.split_at(body.len() - 1);
            let n: i64 = n.parse().expect("placeholder number");
            let unit = match unit {
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                u => panic!("placeholder unit {u}"),
            };
            if sign == "-" { -n * unit } else { n * unit }
        };
        out.push_str(&format_ms(now + offset));
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

fn repeats(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{REPEAT:") {
        out.push_str(&rest[..i]);
        let spec = &rest[i + 8..];
        let (n, tail) = spec.split_once(':').expect("{REPEAT:n:text}");
        let end = tail.find('}').expect("{REPEAT:n:text}");
        out.push_str(&tail[..end].repeat(n.parse().expect("repeat count")));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

const INVALID: &str = "@@INVALID_UTF8@@";

/// Sets `dotted.path` in `v` (numbers index arrays), creating objects on the way.
fn set_path(v: &mut Value, path: &str, to: Value) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Ok(n) = p.parse::<usize>()
            && cur.is_array()
        {
            let a = cur.as_array_mut().unwrap();
            if last {
                a[n] = to;
                return;
            }
            cur = &mut a[n];
            continue;
        }
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let o = cur.as_object_mut().unwrap();
        if last {
            o.insert(p.to_string(), to);
            return;
        }
        cur = o.entry(p.to_string()).or_insert(Value::Object(Default::default()));
    }
}

fn delete_path(v: &mut Value, path: &str) {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (v.pointer_mut(&format!("/{}", p.replace('.', "/"))), k),
        None => (Some(v), path),
    };
    if let Some(Value::Object(o)) = parent {
        o.remove(key);
    }
}

/// One record from its description: a base record with fields set, deleted or made invalid
/// UTF-8, or raw text.
fn record(spec: &Value, now: Millis) -> Vec<u8> {
    if let Some(t) = spec.get("raw").and_then(Value::as_str) {
        return placeholders(t, now).into_bytes();
    }
    let base = spec["base"].as_str().expect("record base");
    let text = std::fs::read_to_string(repo().join(format!("fixtures/hostile/base/{base}.json"))).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    if let Some(set) = spec.get("set").and_then(Value::as_object) {
        for (k, val) in set {
            let val = match val {
                Value::String(s) => Value::String(placeholders(s, now)),
                other => other.clone(),
            };
            set_path(&mut v, k, val);
        }
    }
    if let Some(r) = spec.get("repeat_array") {
        // The array at `path` made of its first element `times` times.
        let path = format!("/{}", r["path"].as_str().unwrap().replace('.', "/"));
        let times = r["times"].as_u64().unwrap() as usize;
        if let Some(Value::Array(a)) = v.pointer_mut(&path) {
            let first = a[0].clone();
            *a = vec![first; times];
        }
    }
    for d in spec.get("delete").and_then(Value::as_array).into_iter().flatten() {
        delete_path(&mut v, d.as_str().unwrap());
    }
    if let Some(p) = spec.get("invalid_utf8").and_then(Value::as_str) {
        set_path(&mut v, p, Value::String(INVALID.into()));
    }
    let mut out = serde_json::to_vec(&v).unwrap();
    if let Some(i) = out.windows(INVALID.len()).position(|w| w == INVALID.as_bytes()) {
        out.splice(i..i + INVALID.len(), b"x\xff\xfe\xc3(y".iter().copied());
    }
    if let Some(k) = spec.get("invalid_utf8_key").and_then(Value::as_str) {
        let needle = format!("\"{k}\":");
        let i = out.windows(needle.len()).position(|w| w == needle.as_bytes()).expect("key to break");
        out.splice(i + 1..i + 1, b"\xff".iter().copied());
    }
    if let Some(raw) = spec.get("replace").and_then(Value::as_array) {
        // [from, to] on the serialized record (duplicate keys, odd numbers, literals JSON forbids).
        let (from, to) = (raw[0].as_str().unwrap(), placeholders(raw[1].as_str().unwrap(), now));
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains(from), "{from} not in {s}");
        out = s.replacen(from, &to, 1).into_bytes();
    }
    out
}

fn xorshift_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The content of one input from its description.
fn content(spec: &Value, now: Millis) -> Vec<u8> {
    let mut body: Vec<u8> = if let Some(t) = spec.get("text").and_then(Value::as_str) {
        placeholders(t, now).into_bytes()
    } else if let Some(h) = spec.get("hex").and_then(Value::as_str) {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
    } else if let Some(r) = spec.get("repeat") {
        let unit = placeholders(r["text"].as_str().unwrap(), now);
        unit.repeat(r["times"].as_u64().unwrap() as usize).into_bytes()
    } else if let Some(r) = spec.get("random") {
        xorshift_bytes(r["bytes"].as_u64().unwrap() as usize, r["seed"].as_u64().unwrap_or(7))
    } else if let Some(p) = spec.get("copy").and_then(Value::as_str) {
        std::fs::read(repo().join(p)).unwrap()
    } else if let Some(recs) = spec.get("records").and_then(Value::as_array) {
        let mut recs: Vec<Vec<u8>> = recs.iter().map(|r| record(r, now)).collect();
        if let Some(n) = spec.get("times").and_then(Value::as_u64) {
            // The same record n times, each with its own id (`{i}` in the first record's text).
            let one = String::from_utf8(recs.remove(0)).unwrap();
            recs = (0..n).map(|i| one.replace("{i}", &i.to_string()).into_bytes()).collect();
        }
        let container = spec.get("container").and_then(Value::as_str).unwrap_or("ndjson");
        let join = |sep: &[u8]| recs.join(sep);
        match container {
            "ndjson" => {
                let mut b = join(b"\n");
                b.push(b'\n');
                b
            }
            "crlf" => {
                let mut b = join(b"\r\n");
                b.extend_from_slice(b"\r\n");
                b
            }
            "concat" => join(b""),
            "array" => [b"[".to_vec(), join(b","), b"]".to_vec()].concat(),
            "pretty" => {
                let vals: Vec<Value> = recs.iter().map(|r| serde_json::from_slice(r).unwrap()).collect();
                serde_json::to_vec_pretty(&vals).unwrap()
            }
            c if c.starts_with("wrapper:") => {
                [format!("{{\"{}\":[", &c[8..]).into_bytes(), join(b","), b"]}".to_vec()].concat()
            }
            c => panic!("container {c}"),
        }
    } else {
        Vec::new()
    };
    // Cut first (an array without its `]`), then add (a dangling `,`).
    if let Some(n) = spec.get("cut_end").and_then(Value::as_u64) {
        body.truncate(body.len().saturating_sub(n as usize));
    }
    if let Some(p) = spec.get("prepend").and_then(Value::as_str) {
        body.splice(0..0, placeholders(p, now).into_bytes());
    }
    if let Some(a) = spec.get("append").and_then(Value::as_str) {
        body.extend_from_slice(placeholders(a, now).as_bytes());
    }
    if let Some(h) = spec.get("prepend_hex").and_then(Value::as_str) {
        let b: Vec<u8> = (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
        body.splice(0..0, b);
    }
    if let Some(g) = spec.get("gzip") {
        let member = gzip(&body);
        let members = g.get("members").and_then(Value::as_u64).unwrap_or(1) as usize;
        body = member.repeat(members);
        if let Some(n) = g.get("cut_end").and_then(Value::as_u64) {
            body.truncate(body.len().saturating_sub(n as usize));
        }
        if let Some(t) = g.get("append").and_then(Value::as_str) {
            body.extend_from_slice(t.as_bytes());
        }
    }
    body
}

/// Creates the case's inputs under `dir`. Returns what must stay alive (a listening socket).
fn materialize(case: &Value, dir: &Path, now: Millis) -> Vec<Box<dyn std::any::Any>> {
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    for input in case["inputs"].as_array().into_iter().flatten() {
        let path = dir.join(input["path"].as_str().expect("input path"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if input.get("dir").is_some() {
            std::fs::create_dir_all(&path).unwrap();
        } else if let Some(t) = input.get("symlink").and_then(Value::as_str) {
            #[cfg(unix)]
            std::os::unix::fs::symlink(t, &path).unwrap();
        } else if input.get("fifo").is_some() {
            let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        } else if input.get("socket").is_some() {
            keep.push(Box::new(std::os::unix::net::UnixListener::bind(&path).unwrap()));
        } else {
            std::fs::write(&path, content(input, now)).unwrap();
        }
    }
    keep
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary on `dir`'s database with a time limit (a hang is a failure, and the child is
/// killed).
fn run(dir: &Path, args: &[String], stdin: Option<Vec<u8>>, limit: Duration) -> Result<Run, String> {
    let mut child = Command::new(bin())
        .current_dir(dir)
        .arg("--db")
        .arg(dir.join("tp.db"))
        .arg("--quiet")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(bytes) = stdin {
        let mut w = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        });
    }
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{}` did not finish in {} s (hung)", args.join(" "), limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    Ok(Run { code: status.code(), stdout, stderr })
}

/// The counts of the import's summary line.
fn counts(stdout: &str) -> Option<[u64; 6]> {
    let line = stdout.lines().find(|l| l.starts_with("imported "))?;
    let (_, rest) = line.split_once(": ")?;
    let num = |label: &str| -> u64 {
        rest.split(", ")
            .find(|p| p.ends_with(label))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Some([
        num("records read"),
        num("stored"),
        num("already present"),
        num("skipped as irrelevant"),
        num("quarantined"),
        num("of another source"),
    ])
}

fn args_of(v: &Value, dir: &Path) -> Vec<String> {
    v.as_array()
        .expect("args")
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a.strip_prefix('@') {
                Some(rel) => dir.join(rel).display().to_string(),
                None => a.to_string(),
            }
        })
        .collect()
}

fn check_texts(what: &str, text: &str, want: Option<&Value>, lacks: Option<&Value>, errs: &mut Vec<String>) {
    for w in want.and_then(Value::as_array).into_iter().flatten() {
        let w = w.as_str().unwrap();
        if !text.contains(w) {
            errs.push(format!("{what} lacks {w:?}:\n{text}"));
        }
    }
    for w in lacks.and_then(Value::as_array).into_iter().flatten() {
        let w = w.as_str().unwrap();
        if text.contains(w) {
            errs.push(format!("{what} holds {w:?}:\n{text}"));
        }
    }
}

fn run_case(case: &Value) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = tmp.path();
    let now = now_ms();
    let _keep = materialize(case, dir, now);
    let limit = Duration::from_secs(case.get("timeout").and_then(Value::as_u64).unwrap_or(120));
    let stdin = case.get("stdin").and_then(Value::as_str).map(|p| std::fs::read(dir.join(p)).unwrap());
    let mut args = vec!["import".to_string()];
    args.extend(args_of(&case["args"], dir));
    let r = run(dir, &args, stdin, limit)?;
    let want = &case["expect"];
    let mut errs = Vec::new();
    let code = want["exit"].as_i64().map(|c| c as i32);
    if r.code != code {
        errs.push(format!("exit {:?}, expected {code:?}", r.code));
    }
    let keys = ["read", "stored", "duplicates", "skipped", "quarantined", "foreign"];
    if keys.iter().any(|k| want.get(*k).is_some()) {
        match counts(&r.stdout) {
            None => errs.push("no summary line".into()),
            Some(got) => {
                for (k, g) in keys.iter().zip(got) {
                    if let Some(w) = want.get(*k).and_then(Value::as_u64)
                        && w != g
                    {
                        errs.push(format!("{k} {g}, expected {w}"));
                    }
                }
            }
        }
    }
    check_texts("stdout", &r.stdout, want.get("stdout"), want.get("stdout_lacks"), &mut errs);
    check_texts("stderr", &r.stderr, want.get("stderr"), want.get("stderr_lacks"), &mut errs);
    if let Some(cov) = want.get("coverage") {
        let st = run(dir, &["status".into(), "--format".into(), "json".into()], None, limit)?;
        let got: Vec<Value> = serde_json::from_str::<Value>(&st.stdout)
            .ok()
            .and_then(|v| v["coverage"].as_array().cloned())
            .unwrap_or_default();
        match cov {
            Value::String(s) if s == "none" => {
                if !got.is_empty() {
                    errs.push(format!("coverage recorded, expected none: {got:?}"));
                }
            }
            Value::Array(list) => {
                let list: Vec<Value> = list
                    .iter()
                    .map(|c| {
                        let mut c = c.clone();
                        for k in ["start", "end"] {
                            if let Some(s) = c[k].as_str() {
                                c[k] = Value::String(placeholders(s, now));
                            }
                        }
                        c
                    })
                    .collect();
                if got != list {
                    errs.push(format!("coverage {got:?}, expected {list:?}"));
                }
            }
            Value::Object(o) => {
                if let Some(n) = o.get("count").and_then(Value::as_u64)
                    && got.len() as u64 != n
                {
                    errs.push(format!("{} coverage interval(s), expected {n}: {got:?}", got.len()));
                }
                if o.get("end_not_after_now").is_some() {
                    let late = got
                        .iter()
                        .filter_map(|c| c["end"].as_str())
                        .filter_map(|e| trailproof_model::parse_time(e).ok())
                        .any(|e| e > now_ms());
                    if late {
                        errs.push(format!("coverage past now: {got:?}"));
                    }
                }
            }
            other => errs.push(format!("bad coverage expectation {other}")),
        }
    }
    for then in case.get("then").and_then(Value::as_array).into_iter().flatten() {
        let args = args_of(&then["args"], dir);
        let t = run(dir, &args, None, limit)?;
        if let Some(c) = then.get("exit").and_then(Value::as_i64)
            && t.code != Some(c as i32)
        {
            errs.push(format!("`{}` exit {:?}, expected {c}: {}", args.join(" "), t.code, t.stderr));
        }
        check_texts(&format!("`{}`", args.join(" ")), &t.stdout, then.get("contains"), then.get("lacks"), &mut errs);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n  stdout: {}\n  stderr: {}", errs.join("\n  "), r.stdout.trim(), r.stderr.trim()))
    }
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("fixtures/hostile/cases.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn every_hostile_case_does_what_it_states() {
    let all = cases();
    assert!(all.len() >= 100, "the corpus holds at least 100 cases, not {}", all.len());
    let mut names = std::collections::BTreeSet::new();
    for c in &all {
        let name = c["name"].as_str().expect("a case has a name");
        assert!(names.insert(name), "case {name} twice");
        assert!(c["why"].as_str().is_some_and(|w| !w.is_empty()), "case {name} says why it is there");
        assert!(c["expect"]["exit"].is_i64(), "case {name} states its exit code");
    }
    let only = std::env::var("HOSTILE_CASE").ok();
    let todo: Vec<&Value> = all.iter().filter(|c| only.as_deref().is_none_or(|o| c["name"] == o)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = todo.get(i) else { break };
                    let started = Instant::now();
                    let result = run_case(case);
                    if started.elapsed() > Duration::from_secs(5) {
                        eprintln!("{}: {:.1} s", case["name"].as_str().unwrap_or("?"), started.elapsed().as_secs_f64());
                    }
                    if let Err(e) = result {
                        failures.lock().unwrap().push(format!("{}: {e}", case["name"].as_str().unwrap_or("?")));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} case(s) failed:\n\n{}", failures.len(), todo.len(), failures.join("\n\n"));
}
