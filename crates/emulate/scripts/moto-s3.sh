#!/usr/bin/env bash
# S3 for tests: moto's server (path-style, loopback only) holding a data directory's AWSLogs/ tree.
#
#   moto-s3.sh install                                  venv with moto[server] (+boto3) from PyPI, if missing
#   moto-s3.sh run PORT                                 moto_server on 127.0.0.1:PORT, in the foreground (exec)
#   moto-s3.sh start PORT PIDFILE                       same in the background; returns once it answers
#   moto-s3.sh wait PORT                                wait (30 s at most) until 127.0.0.1:PORT answers HTTP
#   moto-s3.sh upload PORT DATA_DIR BUCKET [PREFIX]     create BUCKET, upload DATA_DIR/AWSLogs/** as [PREFIX/]AWSLogs/**
#   moto-s3.sh serve PORT DATA_DIR BUCKET [PREFIX] PIDFILE   install + start + upload
#   moto-s3.sh stop PIDFILE
#
# The venv lives in $TRAILPROOF_MOTO_VENV, else ${CARGO_TARGET_DIR:-<repo>/target}/moto-venv.
# Needs python3 with the venv module and access to PyPI for `install`. Credentials are dummies
# (moto accepts any); the endpoint is http://127.0.0.1:PORT, region us-east-1, path-style.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv=${TRAILPROOF_MOTO_VENV:-${CARGO_TARGET_DIR:-$root/target}/moto-venv}
python=${PYTHON:-python3}
moto_spec=${MOTO_SPEC:-"moto[server]>=5,<6"}

die() { echo "moto-s3.sh: $*" >&2; exit 1; }

is_installed() {
  [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import moto, boto3' >/dev/null 2>&1
}

install() {
  if is_installed; then return 0; fi
  command -v "$python" >/dev/null 2>&1 || die "python3 not found (set PYTHON=...)"
  echo "moto-s3.sh: installing $moto_spec into $venv" >&2
  "$python" -m venv "$venv" || die "python3 -m venv failed (install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$moto_spec" boto3 \
    || die "pip install $moto_spec failed"
  is_installed || die "moto_server missing after install"
}

check_port() {
  case "${1:-}" in ''|*[!0-9]*) die "PORT must be a number, got '${1:-}'";; esac
}

wait_ready() {
  local port=$1
  "$venv/bin/python" - "$port" <<'PY' || die "moto_server on port $port did not answer within 30 s"
import sys, time, urllib.request, urllib.error
url = f"http://127.0.0.1:{sys.argv[1]}/"
deadline = time.time() + 30
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=1).read()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # any HTTP answer means it is up
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY
}

upload() {
  local port=$1 data=$2 bucket=$3 prefix=${4:-}
  [ -d "$data/AWSLogs" ] || die "$data/AWSLogs is not a directory"
  "$venv/bin/python" - "$port" "$data" "$bucket" "$prefix" <<'PY'
import os, sys
import boto3
from botocore.config import Config
port, data, bucket, prefix = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].strip("/")
s3 = boto3.client(
    "s3",
    endpoint_url=f"http://127.0.0.1:{port}",
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    config=Config(s3={"addressing_style": "path"}),
)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
n = 0
for dirpath, _dirs, files in os.walk(os.path.join(data, "AWSLogs")):
    for f in sorted(files):
        path = os.path.join(dirpath, f)
        key = os.path.relpath(path, data).replace(os.sep, "/")
        if prefix:
            key = f"{prefix}/{key}"
        s3.upload_file(path, bucket, key)
        n += 1
print(f"uploaded {n} objects to s3://{bucket}/{prefix + '/' if prefix else ''}AWSLogs/")
PY
}

cmd=${1:-}
shift || true
case "$cmd" in
  install) install ;;
  run)
    check_port "${1:-}"; is_installed || die "moto not installed: run '$0 install' first"
    exec "$venv/bin/moto_server" -H 127.0.0.1 -p "$1" ;;
  start)
    check_port "${1:-}"; [ -n "${2:-}" ] || die "usage: $0 start PORT PIDFILE"
    is_installed || die "moto not installed: run '$0 install' first"
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$1" >"$2.log" 2>&1 &
    echo $! >"$2"
    wait_ready "$1"
    echo "moto S3 at http://127.0.0.1:$1 (pid $(cat "$2"), log $2.log)" ;;
  wait) check_port "${1:-}"; wait_ready "$1" ;;
  upload)
    check_port "${1:-}"; [ $# -ge 3 ] || die "usage: $0 upload PORT DATA_DIR BUCKET [PREFIX]"
    is_installed || die "moto not installed: run '$0 install' first"
    upload "$@" ;;
  serve)
    [ $# -ge 4 ] || die "usage: $0 serve PORT DATA_DIR BUCKET [PREFIX] PIDFILE"
    install
    port=$1 data=$2 bucket=$3
    if [ $# -ge 5 ]; then prefix=$4 pidfile=$5; else prefix="" pidfile=$4; fi
    "$0" start "$port" "$pidfile"
    upload "$port" "$data" "$bucket" "$prefix" ;;
  stop)
    [ -f "${1:-}" ] || die "usage: $0 stop PIDFILE"
    pid=$(cat "$1"); kill "$pid" 2>/dev/null || true; rm -f "$1" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
