"""parfive, a Python peer (asyncio + aiohttp).

python bench/parfive_peer.py --dest DIR -i LIST
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    from parfive import Downloader

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="*")
    parser.add_argument("-i", "--input", type=Path)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    urls = list(args.urls)
    if args.input:
        urls += [line.strip() for line in args.input.read_text().splitlines() if line.strip()]
    downloader = Downloader(max_conn=args.parallel, progress=False, overwrite=True)
    for url in urls:
        downloader.enqueue_file(url, path=str(args.dest))
    results = downloader.download()
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
