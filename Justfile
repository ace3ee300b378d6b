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
