# Developer shortcuts. The README's plain cargo commands work without `just`.

default:
    @just --list

# Everything CI runs.
ci:
    bash .ci/run

test:
    cargo test --workspace

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Import benchmark: generates a CloudTrail S3-layout corpus (cached in bench-data/) and imports it,
# next to plain decompression of the same files. SIZE_MB is the gzip size to generate.
bench-import SIZE_MB="500":
    cargo run --release -p trailproof-ingest --example bench_import -- --gzip-mb {{SIZE_MB}} --dir bench-data/import-{{SIZE_MB}}mb

# Accuracy at scale: every verdict against the simulator's labels, 5 seeds (about 24,600 console sessions).
accuracy SEEDS="11,12,13,14,15" USERS="4000" DAYS="3":
    TRAILPROOF_ACCURACY_SEEDS={{SEEDS}} TRAILPROOF_ACCURACY_USERS={{USERS}} TRAILPROOF_ACCURACY_DAYS={{DAYS}} cargo test --release -p trailproof-pipeline --test simulated verdicts_equal -- --nocapture

# Correlation throughput: USERS x DAYS console sessions against about 20 IdP records each.
bench-correlate USERS="50000" DAYS="20" NOISE="17":
    cargo run --release -p trailproof-pipeline --example bench_correlate -- --users {{USERS}} --days {{DAYS}} --noise {{NOISE}}

# The demo.
demo:
    cargo run --release -- demo

# The benchmark suite (BENCHMARKS.md, bench-results.json): a simulated large organisation's day
# (50,000 users by default, cached in bench-data/), each stage next to gzip -dc and DuckDB, medians.
# `just bench 10000 1` for a smaller day and one run; scripts/bench.sh --help for the options.
bench USERS="50000" RUNS="3":
    scripts/bench.sh --users {{USERS}} --runs {{RUNS}}
