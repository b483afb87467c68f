"""The least a Python program does to fetch many small files with libcurl: a floor for (C).

One thread drives a ``CurlMulti`` with eight transfers in flight over reused connections, and
each body is written to a new file (create, write, close). No job objects, names, part files,
retries, progress or journal: what fetchq spends above this is the cost of being a download
manager. ``--import-fetchq`` adds fetchq's start-up to the same process. The script is the one
issue 13 quotes (0.19 s for 2000 files over https).

    python bench/pycurl_floor.py --dest DIR [--import-fetchq] [--parallel 8] URL... | -i LIST
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pycurl

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def fetch_all(urls: list[str], dest: Path, parallel: int) -> None:
    multi = pycurl.CurlMulti()
    idle = [pycurl.Curl() for _ in range(parallel)]
    bundle = os.environ.get("SSL_CERT_FILE")  # the wheel's libcurl does not read it itself
    for curl in idle:
        if bundle:
            curl.setopt(pycurl.CAINFO, bundle)
    running: dict[pycurl.Curl, tuple[str, bytearray]] = {}
    pending = iter(urls)

    def start() -> None:
        while idle:
            url = next(pending, None)
            if url is None:
                return
            curl, body = idle.pop(), bytearray()
            curl.setopt(pycurl.URL, url)
            curl.setopt(pycurl.WRITEFUNCTION, body.extend)
            running[curl] = (url, body)
            multi.add_handle(curl)

    start()
    while running:
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, finished, failed = multi.info_read()
            for curl, _code, message in failed:
                raise RuntimeError(f"{running[curl][0]}: {message}")
            for curl in finished:
                url, body = running.pop(curl)
                multi.remove_handle(curl)
                if curl.getinfo(pycurl.RESPONSE_CODE) != 200:
                    raise RuntimeError(f"{url}: HTTP {curl.getinfo(pycurl.RESPONSE_CODE)}")
                fd = os.open(dest / url.rsplit("/", 1)[-1], _FLAGS, 0o644)
                try:
                    os.write(fd, body)
                finally:
                    os.close(fd)
                idle.append(curl)
            if not queued:
                break
        start()
        if running:
            multi.select(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="*")
    parser.add_argument("-i", "--input", type=Path)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--import-fetchq", action="store_true", help="pay fetchq's start-up too")
    args = parser.parse_args()
    urls = list(args.urls)
    if args.input:
        urls += [line.strip() for line in args.input.read_text().splitlines() if line.strip()]
    if args.import_fetchq:
        import fetchq  # noqa: F401  (its start-up is what this option measures)
    if urls:
        fetch_all(urls, args.dest, args.parallel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
