#!/usr/bin/env bash
# make bench: install nginx, curl, wget2, aria2c (apt-get) and parfive (pip), then run the
# throughput benchmark. Arguments go to bench/throughput.py, e.g. `--scenarios C,Cs,Ch2 --runs 3`
# (comma-separated scenario keys; `make bench BENCH_ARGS="..."` passes them too). Run
# `make bench-gui` first for the GUI row of the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in nginx curl wget2 aria2c /usr/bin/time; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends nginx curl wget2 aria2 time
fi
.venv/bin/python -c "import parfive" 2>/dev/null || .venv/bin/python -m pip install -q parfive
exec .venv/bin/python bench/throughput.py "$@"
