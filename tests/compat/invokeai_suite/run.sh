#!/usr/bin/env bash
# Run InvokeAI's own download-queue tests on fetchq: ./run.sh /path/to/an/InvokeAI/checkout
#
# The test module is copied from the checkout into a scratch folder outside this repository with
# one line changed (its import of the download queue), next to the thin stand-ins in standins/
# for what is not the download queue (InvokeAI's config, SSRF helper, HF metadata, the mocked
# session fixture). Tests of the public API should pass; those that call InvokeAI's private
# methods (queue._requests, _request_proxies, _reject_unsafe_redirect, _validate_filename) fail.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
invokeai="${1:?usage: run.sh /path/to/InvokeAI}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/fetchq-invokeai-suite.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cp -r "$here/standins/." "$scratch/"
mkdir -p "$scratch/data"
cp -r "$invokeai/tests/backend/model_manager/data/test_files/test-diffusers-main" "$scratch/data/"
sed 's/^from invokeai\.app\.services\.download import /from fetchq import /' \
  "$invokeai/tests/app/services/download/test_download_queue.py" > "$scratch/test_download_queue.py"
diff "$invokeai/tests/app/services/download/test_download_queue.py" "$scratch/test_download_queue.py" || true
python="$repo/.venv/bin/python"
"$python" -m pip install --quiet --target "$scratch/site" --no-deps requests-testadapter six
cd "$scratch"
PYTHONPATH="$scratch:$scratch/site" "$python" -m pytest -p no:cacheprovider -o addopts="" \
  -o filterwarnings="ignore::pytest.PytestCollectionWarning" -q test_download_queue.py "${@:2}"
