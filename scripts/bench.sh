#!/usr/bin/env bash
# The benchmark suite (issue 7): a simulated "large organisation day", then, each --runs times
# (median reported), every stage of trailproof next to its baselines measured in the same run:
#   CloudTrail import  vs  single-threaded `gzip -dc` of the same files  vs  the two-core decompression
#   floor (every trail file decompressed into memory with libdeflate on 2 threads, as the import
#   does it, and flate2/zlib-rs for comparison: crates/ingest/examples/decompress_floor.rs)  vs  DuckDB read_json_auto
#   IdP imports (records/s), correlate (sessions/s, peak RSS), report, the whole day end to end,
#   database size per million stored records.
# Writes BENCHMARKS.md and bench-results.json (in --out, default the repository root).
#
#   scripts/bench.sh                       # 50,000 users (~9 M CloudTrail, ~4 M IdP records)
#   scripts/bench.sh --users 10000 --runs 1
#   scripts/bench.sh --quick               # 300 users, 1 run: the same code paths in seconds
#
# Options: --users N, --runs N, --data DIR (generated corpus, cached by its parameters),
# --out DIR, --no-duckdb, --bin PATH (a built trailproof; default: cargo build --release),
# --floor PATH (a built decompress_floor example; default: built with --bin's default, else looked
# for beside --bin in examples/; the floor rows are left out when there is none).
set -euo pipefail
cd "$(dirname "$0")/.."
users=50000 runs=3 data="" out="." duck=1 bin="" floor="" noise=0.995 idp_noise=40
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift ;;
    --runs) runs=$2; shift ;;
    --data) data=$2; shift ;;
    --out) out=$2; shift ;;
    --no-duckdb) duck=0 ;;
    --bin) bin=$2; shift ;;
    --floor) floor=$2; shift ;;
    --quick) users=300 runs=1 noise=0.99 idp_noise=20 ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
data=${data:-bench-data/day-$users}
if [ -z "$bin" ]; then
  cargo build --release -q -p trailproof
  cargo build --release -q -p trailproof-ingest --example decompress_floor
  bin=${CARGO_TARGET_DIR:-target}/release/trailproof
  floor=${floor:-${CARGO_TARGET_DIR:-target}/release/examples/decompress_floor}
fi
if [ -z "$floor" ] && [ -x "$(dirname "$bin")/examples/decompress_floor" ]; then
  floor=$(dirname "$bin")/examples/decompress_floor
fi
[ -n "$floor" ] || echo "== no decompress_floor beside $bin: the decompression floor rows are left out" >&2
mkdir -p "$data" "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/tp-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"   # stage<TAB>run<TAB>seconds<TAB>peak_kb<TAB>extra
: > "$results"

# 1. The corpus, cached by its parameters.
# `format` names the simulator output generation: bump it when the simulator writes new shapes,
# so a cached corpus of the old ones is made again (2: AD FS, Identity Center's own directory).
params="format=2 seed=7 users=$users days=1 noise_ratio=$noise idp_noise=$idp_noise"
if [ "$(cat "$data/params" 2>/dev/null)" != "$params" ]; then
  rm -rf "$data/sim"
  echo "== generating: $params" >&2
  /usr/bin/time -f "%e %M" -o "$work/gen" "$bin" --quiet simulate --seed 7 --users "$users" --days 1 \
    --noise-ratio "$noise" --idp-noise "$idp_noise" --out "$data/sim" >/dev/null
  echo "$params" > "$data/params"
  cp "$work/gen" "$data/generation"
fi
sim="$data/sim"

timed() { # stage run cmd... : wall seconds and peak RSS of the command (and its children)
  local stage=$1 run=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }
  printf '%s\t%s\t%s\t%s\n' "$stage" "$run" "$(cut -d' ' -f1 "$work/t")" "$(cut -d' ' -f2 "$work/t")" >> "$results"
}

if [ "$duck" = 1 ]; then
  venv=target/bench-venv
  if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    echo "== installing duckdb from PyPI into $venv" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb
  fi
  cat > "$work/duck.py" <<'PY'
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads TO 2")
# What trailproof extracts from a trail tree: the sign-in and STS records behind console sessions.
con.execute(f"""
CREATE TABLE signins AS
SELECT r.* FROM (
  SELECT unnest(Records) AS r
  FROM read_json_auto('{sys.argv[1]}/**/*.json.gz', maximum_object_size=268435456, union_by_name=true)
)
WHERE r.eventName IN ('ConsoleLogin', 'AssumeRoleWithSAML', 'GetFederationToken', 'GetSigninToken', 'CheckMfa',
                      'UserAuthentication', 'Federate')
""")
print(con.execute("SELECT count(*) FROM signins").fetchone()[0])
PY
fi

gz_bytes=$(find "$sim/AWSLogs" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs" >&2
  db="$work/tp-$run.db"
  timed gzip_dc "$run" sh -c "find '$sim/AWSLogs' -name '*.json.gz' -print0 | sort -z | xargs -0 cat | gzip -dc > /dev/null"
  if [ -n "$floor" ]; then
    timed floor_libdeflate "$run" "$floor" --threads 2 --with libdeflate "$sim/AWSLogs"
    cp "$work/out" "$work/floor-$run.out"
    timed floor_flate2 "$run" "$floor" --threads 2 --with flate2 "$sim/AWSLogs"
  fi
  timed import_cloudtrail "$run" "$bin" --quiet --db "$db" import cloudtrail "$sim/AWSLogs"
  if [ "$duck" = 1 ]; then
    timed duckdb "$run" "$venv/bin/python" "$work/duck.py" "$sim/AWSLogs"
    echo "duckdb_rows $(cat "$work/out")" >> "$work/counts"
  fi
  for s in okta entra google adfs; do
    timed "import_$s" "$run" "$bin" --quiet --db "$db" import "$s" "$sim/$s"
  done
  timed correlate "$run" "$bin" --quiet --db "$db" --config "$sim/org.toml" correlate --now 2100-01-01T00:00:00Z
  cp "$work/out" "$work/correlate-$run.out"
  timed report_html "$run" "$bin" --quiet --db "$db" report --format html --out "$work/report.html"
  "$bin" --db "$db" status --format json > "$work/status-$run.json"
  ls -l "$db" | awk '{print $5}' > "$work/dbsize-$run"
  rm -f "$db" "$db-wal" "$db-shm"
done

python3 - "$work" "$runs" "$gz_bytes" "$sim" "$data" "$out" "$users" "$duck" "$params" <<'PY'
import json, os, statistics, subprocess, sys, datetime
work, runs, gz_bytes, sim, data, out, users, duck, params = sys.argv[1:]
runs, gz_bytes = int(runs), int(gz_bytes)
rows = [l.rstrip("\n").split("\t") for l in open(f"{work}/results.tsv")]
def med(stage, col):
    vals = [float(r[col]) for r in rows if r[0] == stage]
    return statistics.median(vals) if vals else None
truth = json.load(open(f"{sim}/truth.json"))
ct_records = truth["cloudtrail"]["records_written"]
status = json.load(open(f"{work}/status-1.json"))
stored_by_source = status.get("raw_records", {})
stored = sum(stored_by_source.values())
dbsize = int(open(f"{work}/dbsize-1").read())
idp = {s: truth[s]["records"] for s in ("okta", "entra", "google", "adfs") if s in truth}
sessions = len(truth["console_logins"]["successful"])
r = {"params": params, "runs": runs, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
     "machine": {"cores": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                 "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")},
     "corpus": {"cloudtrail_records": ct_records, "cloudtrail_gzip_bytes": gz_bytes, "idp_records": idp, "console_sessions": sessions, "stored_records": stored, "stored_by_source": stored_by_source},
     "stages": {}}
for stage in sorted({row[0] for row in rows}):
    r["stages"][stage] = {"seconds": med(stage, 2), "peak_rss_mb": round(med(stage, 3) / 1024, 1)}
st = r["stages"]
ct = st["import_cloudtrail"]["seconds"]
st["import_cloudtrail"].update({"gzip_mb_per_s": round(gz_bytes / 2**20 / ct, 1), "records_per_s": round(ct_records / ct)})
for s in idp:
    if idp[s] and f"import_{s}" in st:
        st[f"import_{s}"]["records_per_s"] = round(idp[s] / st[f"import_{s}"]["seconds"])
counts = [l.split() for l in open(f"{work}/counts")] if os.path.exists(f"{work}/counts") else []
st["correlate"]["sessions"] = sessions
st["correlate"]["sessions_per_s"] = round(sessions / st["correlate"]["seconds"])
# correlate's own split: "time: R s reading the store, J s judging (N sessions/s), W s storing verdicts"
import re
split = []
for run in range(1, runs + 1):
    m = re.search(r"time: ([0-9.]+) s reading the store, ([0-9.]+) s judging \(([0-9]+) sessions/s\), ([0-9.]+) s storing",
                  open(f"{work}/correlate-{run}.out").read())
    if m:
        split.append([float(x) for x in m.groups()])
if split:
    st["correlate"].update({"reading_s": statistics.median(x[0] for x in split), "judging_s": statistics.median(x[1] for x in split),
                            "judging_sessions_per_s": round(statistics.median(x[2] for x in split)),
                            "storing_s": statistics.median(x[3] for x in split)})
whole = ["import_cloudtrail", "import_okta", "import_entra", "import_google", "import_adfs", "correlate", "report_html"]
r["whole_day"] = {"seconds": round(sum(st[s]["seconds"] for s in whole if s in st), 1),
                  "peak_rss_mb": max(st[s]["peak_rss_mb"] for s in whole if s in st)}
r["ratios"] = {"import_vs_gzip_dc_time": round(ct / st["gzip_dc"]["seconds"], 2)}
json_bytes = None
if "floor_libdeflate" in st:
    r["ratios"]["import_vs_floor_time"] = round(ct / st["floor_libdeflate"]["seconds"], 2)
    m = re.search(r"json_bytes=([0-9]+)", open(f"{work}/floor-1.out").read())
    json_bytes = int(m.group(1)) if m else None
    r["corpus"]["cloudtrail_json_bytes"] = json_bytes
    for f in ("floor_libdeflate", "floor_flate2"):
        if json_bytes and f in st:
            st[f]["json_gb_per_s"] = round(json_bytes / 1e9 / st[f]["seconds"], 2)
if "duckdb" in st:
    r["ratios"]["duckdb_vs_import_time"] = round(st["duckdb"]["seconds"] / ct, 2)
    r["duckdb_rows"] = counts[0][1] if counts else None
r["db_bytes_per_million_records"] = round(dbsize / max(stored, 1) * 1e6) if stored else None
r["db_bytes"] = dbsize
gen = open(f"{data}/generation").read().split() if os.path.exists(f"{data}/generation") else None
if gen:
    r["generation"] = {"seconds": float(gen[0]), "peak_rss_mb": round(int(gen[1]) / 1024, 1)}
json.dump(r, open(f"{out}/bench-results.json", "w"), indent=2)
def line(name, s, extra=""):
    return f"| {name} | {s['seconds']:.2f} s | {s['peak_rss_mb']:.0f} MB | {extra} |"
md = [f"# Benchmarks", "", f"`scripts/bench.sh --users {users} --runs {runs}` (also `just bench`), {r['date']}.",
      f"Machine: {r['machine']['cores']} cores, {r['machine']['memory_gb']} GB, {r['machine']['cpu']}. Median of {runs} run(s).", "",
      f"Corpus ({params}): {ct_records:,} CloudTrail records in {gz_bytes/2**20:.0f} MB of gzip; {', '.join(f'{k} {v:,}' for k, v in idp.items())} IdP records; {sessions:,} console sessions; {stored:,} records stored.", "",
      "| stage | wall | peak RSS | figures |", "|---|---|---|---|",
      line("`gzip -dc` of the trail files (single thread, the floor)", st["gzip_dc"]),
      line("**import cloudtrail**", st["import_cloudtrail"], f"{st['import_cloudtrail']['gzip_mb_per_s']} MB/s gzip, {st['import_cloudtrail']['records_per_s']:,} records/s; {r['ratios']['import_vs_gzip_dc_time']}x the time of gzip -dc" + (f"; **{r['ratios']['import_vs_floor_time']}x the two-core libdeflate floor**" if "import_vs_floor_time" in r["ratios"] else ""))]
if "floor_libdeflate" in st:
    md[-1:-1] = [line("decompression floor: libdeflate, 2 threads, into memory", st["floor_libdeflate"], f"{st['floor_libdeflate'].get('json_gb_per_s', '?')} GB/s of JSON ({(json_bytes or 0)/1e9:.2f} GB)"),
                 line("the same with flate2 (zlib-rs), 2 threads", st["floor_flate2"], f"{st['floor_flate2'].get('json_gb_per_s', '?')} GB/s of JSON")]
if "duckdb" in st:
    dups = truth["cloudtrail"].get("relevant_duplicate_copies", 0)
    md.append(line("DuckDB `read_json_auto` extraction (2 threads)", st["duckdb"], f"{r['ratios']['duckdb_vs_import_time']}x the time of trailproof's import; {r.get('duckdb_rows')} rows (the {dups} duplicate copies in the trail included) vs {stored_by_source.get('cloudtrail', 0):,} stored by trailproof (deduplicated)"))
for s in idp:
    if f"import_{s}" in st:
        md.append(line(f"import {s}", st[f"import_{s}"], f"{st[f'import_{s}'].get('records_per_s', 0):,} records/s"))
c = st["correlate"]
csplit = f"; of which reading the store {c['reading_s']:.2f} s, judging {c['judging_s']:.2f} s ({c['judging_sessions_per_s']:,} sessions/s), storing verdicts {c['storing_s']:.2f} s" if "reading_s" in c else ""
md += [line("correlate (all sessions of the day)", c, f"{sessions:,} sessions, {c['sessions_per_s']:,} sessions/s{csplit}"), line("report --format html", st["report_html"]),
       f"| **whole day** (imports + correlate + report) | {r['whole_day']['seconds']} s | {r['whole_day']['peak_rss_mb']:.0f} MB | |", "",
       f"Database: {dbsize/2**20:.0f} MB, {r['db_bytes_per_million_records']/2**20 if r['db_bytes_per_million_records'] else 0:.0f} MB per million stored records.", ""]
# The month's section is scripts/bench-month.sh's: kept as it is.
try:
    prev = open(f"{out}/BENCHMARKS.md").read()
    i = prev.find("\n## A month of daily runs")
    if i >= 0:
        j = prev.find("\n## ", i + 1)
        md += [prev[i + 1:j if j >= 0 else len(prev)].rstrip("\n"), ""]
except FileNotFoundError:
    pass
open(f"{out}/BENCHMARKS.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
