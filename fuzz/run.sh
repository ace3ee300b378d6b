#!/usr/bin/env bash
# Runs the cargo-fuzz targets, seeded from the fixtures.
#
#   fuzz/run.sh ci [SECONDS]      every target for SECONDS each (default 20): what CI runs
#   fuzz/run.sh long [SECONDS]    every target for SECONDS each (default 3600)
#   fuzz/run.sh TARGET [SECONDS]  one target
#
# The machine has one stable toolchain; cargo-fuzz's flags (-Zsanitizer, sancov) are unstable,
# so RUSTC_BOOTSTRAP=1 lets stable rustc take them. Without a sanitizer (-s none) the targets
# are still coverage-guided (SanitizerCoverage), with debug assertions; `FUZZ_SANITIZER=address`
# adds AddressSanitizer (stable ships its runtime) at about twice the cost.
# Prints the executions and the findings per target; exits non-zero when a target finds a crash
# (its input is kept under fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")"

mode="${1:-ci}"
case "$mode" in
  ci) secs="${2:-20}" ;;
  long) secs="${2:-3600}" ;;
  *) secs="${2:-60}" ;;
esac
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
sanitizer="${FUZZ_SANITIZER:-none}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

targets=(split parse_cloudtrail parse_okta parse_entra parse_google prefilter envelope read_records config raw_blocks)
if [[ "$mode" != ci && "$mode" != long ]]; then targets=("$mode"); fi

# Seeds: the fixtures each target reads (copied, so the corpora libFuzzer grows stay out of git).
seed() {
  local t="$1" dir="seeds/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  local src=()
  case "$t" in
    parse_cloudtrail|prefilter) src=(../fixtures/cloudtrail ../fixtures/real/cloudtrail ../fixtures/hostile/base) ;;
    parse_okta) src=(../fixtures/okta ../fixtures/real/okta ../fixtures/hostile/base) ;;
    parse_entra) src=(../fixtures/entra ../fixtures/real/entra ../fixtures/real/adfs ../fixtures/hostile/base) ;;
    parse_google) src=(../fixtures/google ../fixtures/real/google ../fixtures/hostile/base) ;;
    config) src=(../config) ;;
    *) src=(../fixtures/real ../fixtures/cases ../fixtures/hostile/base) ;;
  esac
  local n=0
  while IFS= read -r -d '' f; do
    # Small files only (libFuzzer's default max_len is 4096 bytes; bigger seeds are cut).
    cp "$f" "$dir/$n-$(basename "$f")"
    n=$((n + 1))
  done < <(find "${src[@]}" -type f \( -name '*.json' -o -name '*.ndjson' -o -name '*.toml' \) ! -name '*.meta.json' ! -name '*.expected.json' -size -64k -print0 2>/dev/null)
}

echo "== building the fuzz targets (sanitizer: $sanitizer)"
if [[ ${#targets[@]} -eq 1 ]]; then cargo fuzz build -s "$sanitizer" "${targets[0]}"; else cargo fuzz build -s "$sanitizer"; fi

status=0
printf '%-18s %12s %10s %8s  %s\n' target executions exec/s corpus findings
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  if cargo fuzz run -s "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    found="none"
  else
    found="CRASH: $(ls -t "artifacts/$t" 2>/dev/null | head -1)"
    status=1
    tail -40 "$log" >&2
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  size="$(ls "corpus/$t" | wc -l)"
  printf '%-18s %12s %10s %8s  %s\n' "$t" "$execs" "$rate" "$size" "$found"
  rm -f "$log"
done
exit $status
