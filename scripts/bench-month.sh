#!/usr/bin/env bash
# A month of daily runs (issue 18, "A month, measured"): the simulated organisation run day by day,
# as a daily scheduled job would see it. Each day: that day's files imported (IdP pages of that day
# with their coverage.json cut to the day; CloudTrail files delivered that day, by their S3 key's
# date), correlate (the last 72 hours judged again, as `run` does), report (the day's sessions,
# HTML), then prune with a --keep-days window. A second store follows the same days and is never
# pruned. Per day and store: the store's size on disk (database + -wal + -shm) and each stage's wall
# time. At the end every verdict of the two stores (`report --format json`) is compared: the script
# fails if one differs. Draws docs/bench-month.svg, writes docs/bench-month.json and the section
# "A month of daily runs" of BENCHMARKS.md (replaced, the rest of the file left as it is).
#
#   scripts/bench-month.sh                          # 10,000 users, 30 days, 7 kept (~16 GB of logs)
#   scripts/bench-month.sh --users 1000 --days 30   # 1.6 GB of logs, some 5 minutes on 2 cores
#   scripts/bench-month.sh --quick                  # 40 users, 5 days, 2 kept: seconds
#
# Options: --users N, --days N, --keep-days N, --keep-verdict-days N (the pruned store also removes
# the verdicts of sessions older than N days; the comparison then covers the sessions it keeps),
# --noise R (share of CloudTrail records that are
# ordinary API calls; default 0.9), --idp-noise N, --data DIR (generated corpus and its per-day
# views, cached by their parameters), --out DIR (BENCHMARKS.md and docs/; default the repository),
# --bin PATH (a built trailproof; default: cargo build --release), --no-md (no BENCHMARKS.md edit).
set -euo pipefail
cd "$(dirname "$0")/.."
users=10000 days=30 keep=7 vkeep="" noise=0.9 idp_noise=20 data="" out="." bin="" md=1 quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift ;;
    --days) days=$2; shift ;;
    --keep-days) keep=$2; shift ;;
    --keep-verdict-days) vkeep=$2; shift ;;
    --noise) noise=$2; shift ;;
    --idp-noise) idp_noise=$2; shift ;;
    --data) data=$2; shift ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    --no-md) md=0 ;;
    --quick) users=40 days=5 keep=2 idp_noise=5 quick=1 ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$keep" -ge 1 ] && [ "$days" -ge 1 ] || { echo "--days and --keep-days must be at least 1" >&2; exit 2; }
data=${data:-bench-data/month-$users-$days}
if [ -z "$bin" ]; then
  cargo build --release -q -p trailproof
  bin=${CARGO_TARGET_DIR:-target}/release/trailproof
fi
mkdir -p "$data" "$out/docs"
work=$(mktemp -d "${TMPDIR:-/tmp}/tp-bench-month.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The corpus and its per-day views (hard links, so no second copy), cached by their parameters.
# `format` as in bench.sh: bump it when the simulator writes new shapes.
params="format=2 seed=7 users=$users days=$days noise_ratio=$noise idp_noise=$idp_noise"
if [ "$(cat "$data/params" 2>/dev/null)" != "$params" ]; then
  rm -rf "$data/sim" "$data/days" "$data/params"
  echo "== generating: $params" >&2
  /usr/bin/time -f "%e %M" -o "$data/generation" "$bin" --quiet simulate --seed 7 --users "$users" \
    --days "$days" --noise-ratio "$noise" --idp-noise "$idp_noise" --out "$data/sim" >/dev/null
  # Each date's files in days/YYYYMMDD/<source>/: an IdP page by the date in its name
  # (syslog-20261101-0001.json), a trail file by its S3 key's date (.../CloudTrail/REGION/YYYY/MM/DD/,
  # the day it was delivered), the key kept (it names the account and region). An IdP directory's
  # coverage.json is cut to the day: what a day's export vouches for.
  python3 - "$data/sim" "$data/days" <<'PY'
import datetime, json, os, re, sys
sim, days = sys.argv[1:]
def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.link(src, dst)
for source in ("okta", "entra", "google", "adfs"):
    d = os.path.join(sim, source)
    if not os.path.isdir(d):
        continue
    cov = json.load(open(os.path.join(d, "coverage.json"))) if os.path.exists(os.path.join(d, "coverage.json")) else None
    dates = set()
    for name in sorted(os.listdir(d)):
        m = re.search(r"-(\d{8})-", name)
        if not m:
            continue
        dates.add(m.group(1))
        link(os.path.join(d, name), os.path.join(days, m.group(1), source, name))
    for date in dates:
        if cov is None:
            continue
        day0 = datetime.datetime.strptime(date, "%Y%m%d").replace(tzinfo=datetime.timezone.utc)
        lo, hi = day0, day0 + datetime.timedelta(days=1) - datetime.timedelta(milliseconds=1)
        cut = []
        for c in cov:
            s = max(datetime.datetime.fromisoformat(c["start"].replace("Z", "+00:00")), lo)
            e = min(datetime.datetime.fromisoformat(c["end"].replace("Z", "+00:00")), hi)
            if s <= e:
                cut.append({"scope": c["scope"], "start": s.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                            "end": e.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"})
        json.dump(cut, open(os.path.join(days, date, source, "coverage.json"), "w"), indent=1)
aws = os.path.join(sim, "AWSLogs")
for root, _, files in os.walk(aws):
    rel = os.path.relpath(root, aws).split(os.sep)
    if len(rel) >= 6 and rel[1] == "CloudTrail":
        date = "".join(rel[-3:])
        for f in files:
            link(os.path.join(root, f), os.path.join(days, date, "AWSLogs", *rel, f))
PY
  echo "$params" > "$data/params"
fi
sim="$data/sim"
cp "$sim/org.toml" "$work/org.toml"
mapfile -t dates < <(ls "$data/days" | sort)
# The simulated collector's history starts the day before the first day: day 0. The trail files
# delivered after the last day (its last minutes) are left out, as a month's last run would.
dates=("${dates[@]:0:$((days + 1))}")

results="$work/results.tsv" # store<TAB>day<TAB>date<TAB>stage<TAB>seconds<TAB>peak_kb
: > "$results"
timed() { # store day date stage cmd...
  local store=$1 day=$2 date=$3 stage=$4; shift 4
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >"$work/out" 2>"$work/err" || {
    echo "== $store day $day ($date) $stage failed:" >&2; cat "$work/out" "$work/err" >&2; return 1; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$store" "$day" "$date" "$stage" \
    "$(cut -d' ' -f1 "$work/t")" "$(cut -d' ' -f2 "$work/t")" >> "$results"
}
size_of() { # bytes on disk of a store: the database, its -wal and -shm
  local total=0 f
  for f in "$1" "$1-wal" "$1-shm"; do
    [ -e "$f" ] && total=$((total + $(stat -c %s "$f")))
  done
  echo "$total"
}

day=0
for date in "${dates[@]}"; do
  d0="${date:0:4}-${date:4:2}-${date:6:2}T00:00:00Z"
  now=$(date -u -d "$d0 + 1 day" +%Y-%m-%dT%H:%M:%SZ)
  since=$(date -u -d "$now - 72 hours" +%Y-%m-%dT%H:%M:%SZ)
  from=$(date -u -d "$now - 24 hours" +%Y-%m-%dT%H:%M:%SZ)
  echo "== day $day ($date), --now $now" >&2
  for store in pruned full; do
    db="$work/$store.db"
    for s in AWSLogs okta entra google adfs; do
      [ -d "$data/days/$date/$s" ] || continue
      src=$s; [ "$s" = AWSLogs ] && src=cloudtrail
      timed "$store" "$day" "$date" "import_$src" "$bin" --quiet --db "$db" import "$src" "$data/days/$date/$s"
    done
    timed "$store" "$day" "$date" correlate "$bin" --quiet --db "$db" --config "$work/org.toml" correlate --now "$now" --since "$since"
    timed "$store" "$day" "$date" report "$bin" --quiet --db "$db" report --format html --since "$from" --until "$now" --out "$work/report.html"
    if [ "$store" = pruned ]; then
      timed "$store" "$day" "$date" prune "$bin" --quiet --db "$db" --config "$work/org.toml" prune --keep-days "$keep" \
        ${vkeep:+--keep-verdict-days "$vkeep"} --now "$now"
      cp "$work/out" "$work/prune-$day.out"
    fi
    printf '%s\t%s\t%s\tsize\t%s\t0\n' "$store" "$day" "$date" "$(size_of "$db")" >> "$results"
  done
  day=$((day + 1))
done

# 2. The month's verdicts, both stores: every session, every field.
for store in pruned full; do
  "$bin" --quiet --db "$work/$store.db" report --format json --out "$work/$store.json"
  "$bin" --quiet --db "$work/$store.db" status --format json > "$work/status-$store.json"
done

python3 - "$work" "$out" "$params" "$users" "$days" "$keep" "$noise" "$idp_noise" "$quick" "$md" "$data" "$vkeep" <<'PY'
import datetime, hashlib, json, os, re, sys
work, out, params, users, days, keep, noise, idp_noise, quick, md, data, vkeep = sys.argv[1:]
users, days, keep, quick, md = int(users), int(days), int(keep), quick == "1", md == "1"
rows = [l.rstrip("\n").split("\t") for l in open(f"{work}/results.tsv")]
per = {}  # (store, day) -> {"date", stages{}, size, peak_kb}
for store, day, date, stage, val, kb in rows:
    r = per.setdefault((store, int(day)), {"date": date, "stages": {}, "size": 0, "peak_kb": 0})
    if stage == "size":
        r["size"] = int(val)
    else:
        r["stages"][stage] = float(val)
        r["peak_kb"] = max(r["peak_kb"], int(kb))
ndays = max(d for _, d in per) + 1
def canon(path):
    v = json.load(open(path))["verdicts"]
    v.sort(key=lambda x: (x.get("console_login_event_id", ""), x.get("version", 0)))
    return v
a, b = canon(f"{work}/pruned.json"), canon(f"{work}/full.json")
sha = lambda v: hashlib.sha256(json.dumps(v, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
ka = {x["console_login_event_id"]: x for x in a}
kb_ = {x["console_login_event_id"]: x for x in b}
# With verdicts removed (--keep-verdict-days), the pruned store keeps those of the sessions from the
# last prune's cut on: each must equal the never-pruned store's, and none of the earlier ones stays.
cut = None
if vkeep:
    last = sorted((int(f[6:-4]) for f in os.listdir(work) if re.fullmatch(r"prune-\d+\.out", f)))[-1]
    m = re.search(r"verdicts of sessions before (\S+): \d+ verdict", open(f"{work}/prune-{last}.out").read())
    if not m:
        sys.exit(f"--keep-verdict-days {vkeep}: the last prune (prune-{last}.out) names no verdict cut")
    cut = m.group(1)
    b = [x for x in b if x.get("time", "") >= cut]
    kb_ = {x["console_login_event_id"]: x for x in b}
differ = sorted(k for k in set(ka) | set(kb_) if ka.get(k) != kb_.get(k))
status = {s: json.load(open(f"{work}/status-{s}.json")) for s in ("pruned", "full")}
stored = {s: sum(status[s].get("raw_records", {}).values()) for s in status}
def stage_sum(r, names):
    return sum(v for k, v in r["stages"].items() if k in names)
days_out = []
for d in range(ndays):
    p, f = per[("pruned", d)], per[("full", d)]
    imp = lambda r: sum(v for k, v in r["stages"].items() if k.startswith("import_"))
    days_out.append({
        "day": d, "date": p["date"],
        "pruned": {"bytes": p["size"], "import_s": round(imp(p), 2), "correlate_s": p["stages"].get("correlate", 0),
                   "report_s": p["stages"].get("report", 0), "prune_s": p["stages"].get("prune", 0),
                   "total_s": round(sum(p["stages"].values()), 2), "peak_rss_mb": round(p["peak_kb"] / 1024, 1)},
        "full": {"bytes": f["size"], "import_s": round(imp(f), 2), "correlate_s": f["stages"].get("correlate", 0),
                 "report_s": f["stages"].get("report", 0), "total_s": round(sum(f["stages"].values()), 2),
                 "peak_rss_mb": round(f["peak_kb"] / 1024, 1)}})
# What each prune removed (its own summary line).
for d in range(ndays):
    p = f"{work}/prune-{d}.out"
    m = re.search(r"removed records before .*?\): (\d+) IdP events, (\d+) AWS events, (\d+) raw records", open(p).read()) if os.path.exists(p) else None
    days_out[d]["pruned"]["removed_raw_records"] = int(m.group(3)) if m else 0
machine = {"cores": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
           "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")}
truth = json.load(open(f"{data}/sim/truth.json"))
gen = open(f"{data}/generation").read().split() if os.path.exists(f"{data}/generation") else ["0", "0"]
res = {"params": params, "keep_days": keep, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "machine": machine, "generation_s": float(gen[0]),
       "corpus": {"console_sessions": len(truth["console_logins"]["successful"]), "cloudtrail_records": truth["cloudtrail"]["records_written"],
                  "idp_records": {s: truth[s]["records"] for s in ("okta", "entra", "google", "adfs") if s in truth}},
       "verdicts": {"pruned": len(a), "full": len(b), "sha256_pruned": sha(a), "sha256_full": sha(b), "differ": len(differ),
                    "by_verdict": {}},
       "stored_records_at_end": stored, "days": days_out}
for x in b:
    res["verdicts"]["by_verdict"][x.get("verdict", "?")] = res["verdicts"]["by_verdict"].get(x.get("verdict", "?"), 0) + 1
os.makedirs(f"{out}/docs", exist_ok=True)
json.dump(res, open(f"{out}/docs/bench-month.json", "w"), indent=1)

# The chart: store size per day (pruned vs never pruned) above, each day's time below.
W, H, L, R, T, G = 760, 520, 70, 20, 40, 60
ph = (H - T - G - 50) / 2
def panel(y0, title, series, unit):
    top = max([max(v) for _, v, _ in series] + [1e-9]) * 1.1
    x = lambda i: L + (W - L - R) * (i / max(ndays - 1, 1))
    y = lambda v: y0 + ph - ph * v / top
    s = [f'<text x="{L}" y="{y0 - 8}" font-weight="bold">{title}</text>',
         f'<line x1="{L}" y1="{y0 + ph}" x2="{W - R}" y2="{y0 + ph}" stroke="#444"/>',
         f'<line x1="{L}" y1="{y0}" x2="{L}" y2="{y0 + ph}" stroke="#444"/>']
    for k in range(5):
        v = top * k / 4
        s.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{W - R}" y2="{y(v):.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3g} {unit}</text>')
    step = max(1, ndays // 15)
    for i in range(0, ndays, step):
        s.append(f'<text x="{x(i):.1f}" y="{y0 + ph + 15}" text-anchor="middle">{i}</text>')
    for n, (name, vals, colour) in enumerate(series):
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        s.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        lx = L + 10 + n * 210
        s.append(f'<line x1="{lx}" y1="{y0 + 8}" x2="{lx + 18}" y2="{y0 + 8}" stroke="{colour}" stroke-width="3"/>')
        s.append(f'<text x="{lx + 22}" y="{y0 + 12}">{name}</text>')
    return s
mb = lambda v: v / 1e6
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">trailproof, {users:,} users, day by day: pruned to {keep} days{f", verdicts kept {vkeep}" if vkeep else ""} vs never pruned</text>']
svg += panel(T + 10, "store on disk (database + wal)", [
    ("pruned", [mb(d["pruned"]["bytes"]) for d in days_out], "#1f77b4"),
    ("never pruned", [mb(d["full"]["bytes"]) for d in days_out], "#d62728")], "MB")
svg += panel(T + 10 + ph + G, "the day's wall time (import + correlate + report [+ prune])", [
    ("pruned, whole day", [d["pruned"]["total_s"] for d in days_out], "#1f77b4"),
    ("never pruned, whole day", [d["full"]["total_s"] for d in days_out], "#d62728"),
    ("prune stage", [d["pruned"]["prune_s"] for d in days_out], "#2ca02c")], "s")
svg.append(f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle">day (0: the collector\'s first look-back, IdP logs only)</text>')
svg.append("</svg>")
open(f"{out}/docs/bench-month.svg", "w").write("\n".join(svg) + "\n")

# The BENCHMARKS.md section.
cmd = "scripts/bench-month.sh --quick" if quick else f"scripts/bench-month.sh --users {users} --days {days} --keep-days {keep}"
if vkeep:
    cmd += f" --keep-verdict-days {vkeep}"
full_windows = [d for d in days_out if d["day"] > keep + 2]
def spread(key, store, field):
    v = [d[store][field] for d in full_windows]
    return (min(v), max(v)) if v else (0, 0)
lo, hi = spread(None, "pruned", "bytes")
tl, th = spread(None, "pruned", "total_s")
sec = ["## A month of daily runs", "",
       f"`{cmd}`, {res['date']}. Machine: {machine['cores']} cores, {machine['memory_gb']} GB, {machine['cpu']}.", "",
       f"Corpus ({params}): {res['corpus']['console_sessions']:,} console sessions over {days} days, "
       f"{res['corpus']['cloudtrail_records']:,} CloudTrail records, "
       + ", ".join(f"{k} {v:,}" for k, v in res["corpus"]["idp_records"].items()) + " IdP records. "
       f"Each day: that day's files imported (IdP pages with their coverage cut to the day, the trail files "
       f"delivered that day), `correlate --now <end of day> --since <72 h before>`, the day's HTML report, then "
       f"`prune --keep-days {keep}{f' --keep-verdict-days {vkeep}' if vkeep else ''} --now <end of day>` in the pruned store only.", "",
       "![store size and time per day](docs/bench-month.svg)", "",
       (f"**Verdicts kept {vkeep} days: the pruned store holds those of sessions from {cut} on.** " if vkeep else "") +
       f"**Verdicts at day {ndays - 1}: {len(a):,} in the pruned store, {len(b):,} in the never-pruned one{' (of the same sessions)' if vkeep else ''}, "
       + ("all identical" if not differ else f"{len(differ)} DIFFER") + f"** (SHA-256 over `report --format json`'s verdicts: "
       f"`{res['verdicts']['sha256_pruned'][:16]}…` and `{res['verdicts']['sha256_full'][:16]}…`). "
       f"Raw records stored at the end: {stored['pruned']:,} pruned, {stored['full']:,} never pruned.", "",
       f"From day {keep + 3} on (the window full): pruned store {lo / 1e6:.1f}–{hi / 1e6:.1f} MB, its whole day "
       f"{tl:.2f}–{th:.2f} s.", "",
       "| day | date | pruned: MB | import s | correlate s | report s | prune s | day s | raw records removed | never pruned: MB | day s |",
       "|---|---|---|---|---|---|---|---|---|---|---|"]
for d in days_out:
    p, f = d["pruned"], d["full"]
    sec.append(f"| {d['day']} | {d['date']} | {p['bytes'] / 1e6:.1f} | {p['import_s']:.2f} | {p['correlate_s']:.2f} | {p['report_s']:.2f} | "
               f"{p['prune_s']:.2f} | {p['total_s']:.2f} | {p['removed_raw_records']:,} | {f['bytes'] / 1e6:.1f} | {f['total_s']:.2f} |")
sec.append("")
sec.append("<!-- end of the section written by scripts/bench-month.sh; text below it is kept -->")
section = "\n".join(sec) + "\n"
if md:
    path = f"{out}/BENCHMARKS.md"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    m = re.search(r"^## A month of daily runs\n.*?<!-- end of the section written by scripts/bench-month.sh[^\n]*-->\n", text, re.S | re.M)
    if m:
        text = text[:m.start()] + section + text[m.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
print(section)
if differ:
    k = differ[0]
    print(f"FAIL: {len(differ)} verdicts differ between the pruned and the never-pruned store, e.g. {k}:\n"
          f"pruned: {json.dumps(ka.get(k), sort_keys=True)}\nfull:   {json.dumps(kb_.get(k), sort_keys=True)}", file=sys.stderr)
    sys.exit(1)
PY
