#!/usr/bin/env bash
# The store per stored IdP record (issue 18), two builds side by side: a simulated day's Okta, Entra and
# Google logs imported into a fresh database by each build, PAIRS times interleaved (old, new, old,
# new, ...), each import timed, then SQLite's dbstat of the first pair's databases per stored record.
#
#   scripts/store-footprint.sh OLD_BIN NEW_BIN SIM_DIR [PAIRS]
#
# SIM_DIR: `trailproof simulate -q --seed 7 --users 3000 --days 1 --noise-ratio 0.99 --idp-noise 40
# --out SIM_DIR` (BENCHMARKS.md, "The store per IdP record"). Needs sqlite3 with dbstat (Debian's has
# it). The databases are made in a temporary directory and removed at the end.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,10p "$0"; exit 2; }
old=$1 new=$2 sim=$3 pairs=${4:-3}
w=$(mktemp -d "${TMPDIR:-/tmp}/tp-footprint.XXXXXX")
trap 'rm -rf "$w"' EXIT
for p in $(seq 1 "$pairs"); do
  for which in old new; do
    bin=${!which}
    db=$w/$which-$p.db
    for src in okta entra google; do
      /usr/bin/time -f "%e %U %S %M" -o "$w/t" "$bin" --quiet --db "$db" import "$src" -q "$sim/$src" >/dev/null
      echo "$which pair $p $src: wall user sys maxrss_kb = $(cat "$w/t"), load $(cut -d' ' -f1 /proc/loadavg)"
    done
    [ "$p" = 1 ] || rm -f "$db" "$db"-wal "$db"-shm
  done
done
for which in old new; do
  db=$w/$which-1.db
  n=$(sqlite3 "$db" "select count(*) from raw_records")
  echo "== $which: $n stored records, bytes per record by table and index (dbstat)"
  sqlite3 "$db" "select name, round(sum(pgsize)*1.0/$n,1) from dbstat group by name order by sum(pgsize) desc limit 14"
  sqlite3 "$db" "select 'whole file', round(sum(pgsize)*1.0/$n,1) from dbstat"
done
