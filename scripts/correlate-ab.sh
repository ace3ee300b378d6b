#!/usr/bin/env bash
# Interleaved A/B of correlation on one filled store (BENCHMARKS.md, "Reading IdP events by
# reference"): for each of N rounds, OLD then NEW judge a fresh copy of STORE.db (with its
# STORE.toml), and each run prints the example's summary, its CPU time (perf stat task-clock, ms)
# and the SHA-256 of the verdict table, which must be the same for both.
#
#   cargo run --release -p trailproof-pipeline --example sim_correlate -- --users 25000 --db /tmp/s25.db
#   scripts/correlate-ab.sh OLD/sim_correlate NEW/sim_correlate /tmp/s25 3
#
# The copies are made next to STORE and removed after each run.
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 OLD_BINARY NEW_BINARY STORE(without .db) ROUNDS" >&2
  exit 2
fi
old=$1 new=$2 store=$3 rounds=$4
for f in "$store.db" "$store.toml"; do
  [ -f "$f" ] || { echo "$f is missing: fill it with sim_correlate --db $store.db first" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "perf is needed (Debian: linux-perf)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed (Debian: sqlite3)" >&2; exit 2; }
copy="$store.ab-copy"
trap 'rm -f "$copy.db" "$copy.db-wal" "$copy.db-shm" "$copy.db.bulk-lock" "$copy.toml"' EXIT
for _ in $(seq "$rounds"); do
  for which in old new; do
    bin=$old
    [ "$which" = new ] && bin=$new
    cp "$store.db" "$copy.db"
    cp "$store.toml" "$copy.toml"
    out=$(perf stat -e task-clock "$bin" --db "$copy.db" 2>&1)
    summary=$(grep '^sessions' <<<"$out")
    cpu=$(grep task-clock <<<"$out" | awk '{print $1}')
    sha=$(sqlite3 "$copy.db" "SELECT console_login_event_id, version, record, content_sha256 FROM verdicts ORDER BY console_login_event_id" | sha256sum | cut -c1-16)
    echo "$which cpu_ms=$cpu verdicts=$sha $summary"
    rm -f "$copy.db" "$copy.db-wal" "$copy.db-shm" "$copy.db.bulk-lock" "$copy.toml"
  done
done
