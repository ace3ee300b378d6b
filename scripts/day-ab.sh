#!/usr/bin/env bash
# A simulated day, two builds side by side (issue 18): every source imported into a fresh database by
# each build and the day judged, PAIRS times interleaved (old, new, old, new, ...). Prints each import's
# and the correlation's wall and CPU time and peak memory, the file's size, and the SHA-256 of the
# verdict table (equal for both builds unless a change moved a verdict).
#
#   scripts/day-ab.sh OLD_BIN NEW_BIN SIM_DIR [PAIRS]
#
# SIM_DIR: `trailproof simulate -q --seed 7 --users 10000 --days 1 --noise-ratio 0.995 --idp-noise 40
# --out SIM_DIR` (bench.sh's day; BENCHMARKS.md, "SSOs in compressed frames"). Needs sqlite3 and GNU
# time. The databases are made in a temporary directory and removed at the end.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,11p "$0"; exit 2; }
old=$1 new=$2 sim=$3 pairs=${4:-3}
w=$(mktemp -d "${TMPDIR:-/tmp}/tp-day-ab.XXXXXX")
trap 'rm -rf "$w"' EXIT
for p in $(seq 1 "$pairs"); do
  for which in old new; do
    bin=${!which}
    db=$w/$which.db
    rm -f "$db" "$db"-wal "$db"-shm
    for src in okta entra google adfs cloudtrail; do
      dir=$sim/$src
      [ "$src" = cloudtrail ] && dir=$sim/AWSLogs
      /usr/bin/time -f "%e %U %S %M" -o "$w/t" "$bin" --quiet --db "$db" import "$src" -q "$dir" >/dev/null
      echo "$which pair $p import $src: wall user sys maxrss_kb = $(cat "$w/t")"
    done
    /usr/bin/time -f "%e %U %S %M" -o "$w/t" "$bin" --quiet --db "$db" correlate -q --config "$sim/org.toml" \
      --now 2026-12-01T00:00:00Z >/dev/null
    echo "$which pair $p correlate: wall user sys maxrss_kb = $(cat "$w/t"), load $(cut -d' ' -f1 /proc/loadavg)"
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    sha=$(sqlite3 "$db" "SELECT console_login_event_id, version, record, content_sha256 FROM verdicts
      ORDER BY console_login_event_id" | sha256sum | cut -c1-16)
    echo "$which pair $p: $(sqlite3 "$db" 'select count(*) from verdicts') verdicts, sha256 $sha, file $(stat -c %s "$db") bytes"
  done
done
