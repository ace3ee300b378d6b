//! The decompression floor of a CloudTrail import: every `*.json.gz` file under a directory read
//! and decompressed into memory (then discarded) on N threads, nothing else. `scripts/bench.sh`
//! runs it next to `trailproof import cloudtrail` on the same files (BENCHMARKS.md, "CloudTrail
//! import against the decompression floor").
//!
//!   decompress_floor [--threads N] [--with libdeflate|flate2|split|peek|scan] DIR
//!
//! `libdeflate`: each file in one call ([`trailproof_ingest::input::gunzip_member`], what the
//! import uses for a whole small member); a file that is not one member is counted and streamed
//! with flate2 instead. `flate2`: flate2's streaming `MultiGzDecoder` (zlib-rs), what the import
//! uses for any other gzip input. `split` and `peek` measure the import's first stages on top of
//! `libdeflate`: the records split out of each file (`trailproof-jsonrec`, CloudTrail's
//! wrappers), then also CloudTrail's prefilter and time/scope peek on each (the work done on
//! the 99 % of records that are skipped); `scan` does what `peek` does as the import now does it,
//! with one pass over each file for the prefilter's needles and the peek's keys
//! ([`cloudtrail::FileScan`]). Prints one line:
//! `<with> threads=N files=F gzip_bytes=G json_bytes=J seconds=S json_gb_per_s=R streamed=K records=N`.

use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use trailproof_ingest::input::{WHOLE_MAX_CONTENT, gunzip_member};
use trailproof_ingest::wrappers;
use trailproof_jsonrec::Splitter;
use trailproof_model::Source;
use trailproof_source_cloudtrail as cloudtrail;

fn main() -> anyhow::Result<()> {
    let mut threads = 2usize;
    let mut with = "libdeflate".to_string();
    let mut dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().ok_or_else(|| anyhow::anyhow!("--threads N"))?.parse()?,
            "--with" => with = args.next().ok_or_else(|| anyhow::anyhow!("--with libdeflate|flate2"))?,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir =
        dir.ok_or_else(|| anyhow::anyhow!("usage: decompress_floor [--threads N] [--with libdeflate|flate2] DIR"))?;
    anyhow::ensure!(
        ["libdeflate", "flate2", "split", "peek", "scan"].contains(&with.as_str()),
        "--with libdeflate, flate2, split, peek or scan"
    );
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".json.gz"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let (next, gz_bytes, json_bytes, streamed, records) =
        (AtomicUsize::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    let (mut gz, mut out) = (Vec::new(), Vec::new());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { return Ok(()) };
                        gz.clear();
                        std::fs::File::open(path)?.read_to_end(&mut gz)?;
                        if with == "flate2" || !gunzip_member(&gz, WHOLE_MAX_CONTENT, &mut out) {
                            if with != "flate2" {
                                streamed.fetch_add(1, Ordering::Relaxed);
                            }
                            out.clear();
                            MultiGzDecoder::new(&gz[..]).read_to_end(&mut out)?;
                        }
                        let json_len = out.len() as u64;
                        if with == "split" || with == "peek" || with == "scan" {
                            let scan = if with == "scan" { cloudtrail::FileScan::new(&out) } else { None };
                            let mut sp = Splitter::with_head(
                                std::mem::take(&mut out),
                                std::io::empty(),
                                wrappers(Source::Cloudtrail),
                            );
                            while let Some(r) = sp.next_record()? {
                                records.fetch_add(1, Ordering::Relaxed);
                                if with == "peek" && !cloudtrail::prefilter(r.bytes) {
                                    std::hint::black_box(cloudtrail::peek_time_scope(r.bytes));
                                }
                                if let Some(scan) = &scan {
                                    let rec = scan.record(r.bytes, r.offset as usize);
                                    if !rec.prefilter() {
                                        std::hint::black_box(rec.peek_time_scope());
                                    }
                                }
                            }
                            out = sp.into_buffer();
                        }
                        gz_bytes.fetch_add(gz.len() as u64, Ordering::Relaxed);
                        json_bytes.fetch_add(json_len, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    let json = json_bytes.load(Ordering::Relaxed);
    println!(
        "{with} threads={threads} files={} gzip_bytes={} json_bytes={json} seconds={secs:.3} json_gb_per_s={:.2} streamed={} records={}",
        files.len(),
        gz_bytes.load(Ordering::Relaxed),
        json as f64 / 1e9 / secs,
        streamed.load(Ordering::Relaxed),
        records.load(Ordering::Relaxed)
    );
    Ok(())
}
