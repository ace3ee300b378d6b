//! Import benchmark (issue: foundation). Generates a CloudTrail S3-layout corpus of gzip files
//! (cached), then measures, in the same run and several times each (median reported):
//!   1. plain single-threaded decompression of every file (flate2, into a sink): the floor;
//!   2. `gzip -dc` of every file into /dev/null, when gzip is installed;
//!   3. `trailproof import cloudtrail <dir>` through the library into a fresh database.
//!
//! cargo run --release -p trailproof-ingest --example bench_import -- --gzip-mb 500 --dir bench-data/import-500mb

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use trailproof_ingest::{ImportOptions, collect_inputs, import};
use trailproof_model::Source;
use trailproof_store::Store;

const NOISE: &[(&str, &str)] = &[
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetObject"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("kms.amazonaws.com", "Decrypt"),
    ("lambda.amazonaws.com", "Invoke"),
    ("dynamodb.amazonaws.com", "Query"),
    ("iam.amazonaws.com", "GetRole"),
    ("logs.amazonaws.com", "PutLogEvents"),
];

fn hex(rng: &mut SmallRng, n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)])).collect()
}

fn uuid(rng: &mut SmallRng) -> String {
    format!("{}-{}-{}-{}-{}", hex(rng, 8), hex(rng, 4), hex(rng, 4), hex(rng, 4), hex(rng, 12))
}

fn time(base: i64, off_s: i64) -> String {
    time_fmt(base + off_s)
}

fn time_fmt(s: i64) -> String {
    trailproof_model::format_ms(s * 1000)
}

fn noise(rng: &mut SmallRng, acct: &str, region: &str, t: &str) -> String {
    let (src, name) = NOISE[rng.random_range(0..NOISE.len())];
    let role = format!("app-role-{}", rng.random_range(0..50));
    let sess = format!("i-0{}", hex(rng, 16));
    let roleid = format!("AROA{}", hex(rng, 16).to_uppercase());
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"{roleid}:{sess}","arn":"arn:aws:sts::{acct}:assumed-role/{role}/{sess}","accountId":"{acct}","accessKeyId":"ASIA{ak}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{roleid}","arn":"arn:aws:iam::{acct}:role/{role}","accountId":"{acct}","userName":"{role}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{t}","mfaAuthenticated":"false"}}}}}},"eventTime":"{t}","eventSource":"{src}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"10.{a}.{b}.{c}","userAgent":"aws-sdk-go-v2/1.{ua}.0 os/linux lang/go#1.21 md/GOOS#linux","requestParameters":{{"key":"data/{k}/part-{p}.parquet","maxResults":{mr}}},"responseElements":null,"requestID":"{rid}","eventID":"{eid}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}.{region}.amazonaws.com"}}}}"#,
        ak = hex(rng, 16).to_uppercase(),
        a = rng.random_range(0..255),
        b = rng.random_range(0..255),
        c = rng.random_range(0..255),
        ua = rng.random_range(10..30),
        k = hex(rng, 6),
        p = rng.random_range(0..9999),
        mr = rng.random_range(1..1000),
        rid = uuid(rng),
        eid = uuid(rng),
        host = src.split('.').next().unwrap_or("api"),
    )
}

fn console_login(rng: &mut SmallRng, acct: &str, region: &str, t: &str) -> String {
    let user = format!("user{}@example.com", rng.random_range(0..5000));
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID:{user}","arn":"arn:aws:sts::{acct}:assumed-role/OktaAdmin/{user}","accountId":"{acct}"}},"eventTime":"{t}","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"{region}","sourceIPAddress":"198.51.{a}.{b}","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/124.0 Safari/537.36","requestParameters":null,"responseElements":{{"ConsoleLogin":"Success"}},"additionalEventData":{{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No","SamlProviderArn":"arn:aws:iam::{acct}:saml-provider/Okta"}},"eventID":"{eid}","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management"}}"#,
        a = rng.random_range(0..255),
        b = rng.random_range(0..255),
        eid = uuid(rng),
    )
}

/// Writes files of ~`records_per_file` records until the gzip total reaches `target` bytes.
fn generate(dir: &Path, target: u64) -> std::io::Result<()> {
    let marker = dir.join(".complete");
    if marker.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    let accounts = ["111122223333", "444455556666", "777788889999"];
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let base = 1_793_491_200i64; // 2026-11-01T00:00:00Z
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let written = std::sync::atomic::AtomicU64::new(0);
    let next = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| -> std::io::Result<()> {
                loop {
                    if written.load(std::sync::atomic::Ordering::Relaxed) >= target {
                        return Ok(());
                    }
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let mut rng = SmallRng::seed_from_u64(n);
                    let acct = accounts[(n % 3) as usize];
                    let region = regions[((n / 3) % 3) as usize];
                    let minute = (n / 9) as i64 * 5;
                    let file_time = base + minute * 60;
                    let day = time_fmt(file_time);
                    let (y, m, d) = (&day[0..4], &day[5..7], &day[8..10]);
                    let stamp = format!("{}{}{}T{}{}Z", y, m, d, &day[11..13], &day[14..16]);
                    let path = dir.join(format!(
                        "AWSLogs/{acct}/CloudTrail/{region}/{y}/{m}/{d}/{acct}_CloudTrail_{region}_{stamp}_{}.json.gz",
                        hex(&mut rng, 16)
                    ));
                    std::fs::create_dir_all(path.parent().unwrap())?;
                    let mut body = String::from("{\"Records\":[");
                    for i in 0..2000 {
                        if i > 0 {
                            body.push(',');
                        }
                        let t = time(file_time - 900, rng.random_range(0..600));
                        if rng.random_range(0..100) == 0 {
                            body.push_str(&console_login(&mut rng, acct, region, &t));
                        } else {
                            body.push_str(&noise(&mut rng, acct, region, &t));
                        }
                    }
                    body.push_str("]}");
                    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
                    enc.write_all(body.as_bytes())?;
                    let gz = enc.finish()?;
                    std::fs::write(&path, &gz)?;
                    written.fetch_add(gz.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    std::fs::write(marker, b"")?;
    Ok(())
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(dir);
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "gz") {
                out.push(p);
            }
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut gzip_mb = 500u64;
    let mut dir = PathBuf::from("bench-data/import-500mb");
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--gzip-mb" => gzip_mb = args.next().and_then(|v| v.parse().ok()).unwrap_or(gzip_mb),
            "--dir" => dir = args.next().map(PathBuf::from).unwrap_or(dir),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            other => anyhow::bail!("unknown argument {other}; use --gzip-mb N --dir PATH --runs N"),
        }
    }
    let t = Instant::now();
    generate(&dir, gzip_mb * 1_000_000)?;
    let fs = files(&dir);
    let gz_bytes: u64 = fs.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    eprintln!(
        "corpus: {} files, {:.1} MB gzip (ready in {:.1}s)",
        fs.len(),
        gz_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let mut flate = Vec::new();
    let mut gzip_cli = Vec::new();
    let mut imp = Vec::new();
    let mut raw_bytes = 0u64;
    let mut records = 0u64;
    let mut stored = 0u64;
    let have_gzip = std::process::Command::new("gzip").arg("--version").output().is_ok();
    for run in 0..runs {
        // 1. flate2 single thread.
        let t = Instant::now();
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        for p in &fs {
            let mut d = MultiGzDecoder::new(std::fs::File::open(p)?);
            loop {
                let n = d.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
        flate.push(t.elapsed().as_secs_f64());
        raw_bytes = total;
        // 2. gzip -dc.
        if have_gzip {
            let t = Instant::now();
            for chunk in fs.chunks(500) {
                let st = std::process::Command::new("gzip")
                    .arg("-dc")
                    .args(chunk)
                    .stdout(std::process::Stdio::null())
                    .status()?;
                anyhow::ensure!(st.success(), "gzip -dc failed");
            }
            gzip_cli.push(t.elapsed().as_secs_f64());
        }
        // 3. import.
        let tmp = tempfile::tempdir()?;
        let mut store = Store::open(&tmp.path().join("bench.db"))?;
        let (inputs, manifests) = collect_inputs(std::slice::from_ref(&dir))?;
        let t = Instant::now();
        let report = import(&mut store, &inputs, &manifests, &ImportOptions::new(Source::Cloudtrail), &mut |_| {})?;
        imp.push(t.elapsed().as_secs_f64());
        records = report.counts.read;
        stored = report.counts.stored;
        eprintln!(
            "run {}: flate2 {:.2}s, gzip -dc {}, import {:.2}s ({} records, {} stored)",
            run + 1,
            flate[run],
            gzip_cli.get(run).map(|s| format!("{s:.2}s")).unwrap_or("n/a".into()),
            imp[run],
            records,
            stored
        );
    }
    let (f, i) = (median(flate), median(imp));
    let mb = gz_bytes as f64 / 1e6;
    println!(
        "corpus            {} files, {:.1} MB gzip, {:.1} MB JSON, {} records ({} sign-in events stored)",
        fs.len(),
        mb,
        raw_bytes as f64 / 1e6,
        records,
        stored
    );
    println!(
        "flate2 decompress {:.2}s  {:.1} MB/s gzip   {:.0} MB/s JSON (single thread, the floor)",
        f,
        mb / f,
        raw_bytes as f64 / 1e6 / f
    );
    if !gzip_cli.is_empty() {
        let g = median(gzip_cli);
        println!("gzip -dc          {:.2}s  {:.1} MB/s gzip", g, mb / g);
        println!("import / gzip -dc time ratio: {:.2} (below 1 = import faster than gzip -dc alone)", i / g);
    }
    println!("import            {:.2}s  {:.1} MB/s gzip   {:.0} records/s", i, mb / i, records as f64 / i);
    println!("import / flate2 time ratio: {:.2}", i / f);
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!("peak RSS (VmHWM)  {} MB for the whole benchmark process", hwm / 1024);
    Ok(())
}
