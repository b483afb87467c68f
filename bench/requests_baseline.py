"""The usual Python approach, for comparison: requests, ``iter_content(1 MiB)``, one connection
per file, 8 threads.

    python bench/requests_baseline.py --dest DIR [--threads 8] URL... | -i LIST
"""

from __future__ import annotations

import argparse
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

_local = threading.local()


def fetch(url: str, dest: Path) -> None:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    with session.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        with open(dest / url.rsplit("/", 1)[-1], "wb") as output:
            for chunk in response.iter_content(1 << 20):
                output.write(chunk)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="*")
    parser.add_argument("-i", "--input", type=Path)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    urls = list(args.urls)
    if args.input:
        urls += [line.strip() for line in args.input.read_text().splitlines() if line.strip()]
    with ThreadPoolExecutor(args.threads) as pool:
        for future in [pool.submit(fetch, url, args.dest) for url in urls]:
            future.result()
    return 0


if __name__ == "__main__":
    sys.exit(main())
