"""Throughput benchmark: fetchq against curl, wget2, aria2c, requests and parfive, one run.

Serves incompressible files with nginx on 127.0.0.1, over plain HTTP and over TLS (a
certificate from an authority made at bench time, which every client is told to trust), each
on one port unthrottled and one with a per-connection ``limit_rate``, plus a TLS port that
offers HTTP/2. Runs each scenario for every tool several times, tools alternating, after a
warm-up, each run into a fresh folder, and counts a run only once every output file matches
its source's sha256. Prints a table per scenario and writes ``bench/RESULTS.md``. Use
``bench/run.sh`` (``make bench``), which installs the tools.

Scenarios: (A) 1 GiB, unthrottled; (B) 8 x 128 MiB, unthrottled, 8 at once; (C) 2000 x 16 KiB,
8 at once; (D) 1 GiB, throttled; (E) 8 x 128 MiB, throttled, 8 at once. ``As``...``Es`` are the
same over https (HTTP/1.1); ``Ch2`` is (C) over https where nginx offers HTTP/2.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import hashlib
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
MiB = 1 << 20


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    files: tuple[str, ...]
    throttled: bool
    parallel: int
    scheme: str = "http"
    http2: bool = False


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Result:
    tool: str
    runs: list[Run] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(run, attribute) for run in self.runs))


Command = Callable[[Scenario, list[str], Path], list[str]]


def make_data(root: Path, small_count: int) -> dict[str, str]:
    """Incompressible files, and their sha256."""
    root.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    plan = [("big.bin", 1024 * MiB)] + [(f"m{i}.bin", 128 * MiB) for i in range(8)]
    plan += [(f"s{i:04d}.bin", 16 * 1024) for i in range(small_count)]
    for name, size in plan:
        path = root / name
        digest = hashlib.sha256()
        if not path.exists() or path.stat().st_size != size:
            with open(path, "wb") as output:
                left = size
                while left:
                    block = os.urandom(min(left, 8 * MiB))
                    output.write(block)
                    digest.update(block)
                    left -= len(block)
        else:
            with open(path, "rb") as source:
                for block in iter(lambda: source.read(8 * MiB), b""):
                    digest.update(block)
        digests[name] = digest.hexdigest()
    return digests


NGINX_CONF = """
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000; keepalive_timeout 30;
    ssl_certificate {cert}; ssl_certificate_key {cert};
    ssl_session_cache shared:tls:10m;
    server {{ listen 127.0.0.1:{fast}; root {data}; }}
    server {{ listen 127.0.0.1:{slow}; root {data}; limit_rate {rate}; }}
    server {{ listen 127.0.0.1:{tls_fast} ssl; root {data}; }}
    server {{ listen 127.0.0.1:{tls_slow} ssl; root {data}; limit_rate {rate}; }}
    server {{ listen 127.0.0.1:{tls_h2} ssl http2; root {data}; }}
}}
"""

PORTS = {
    ("http", False, False): 18180,
    ("http", True, False): 18181,
    ("https", False, False): 18443,
    ("https", True, False): 18444,
    ("https", False, True): 18445,
}
"""(scheme, throttled, HTTP/2) -> the nginx port that serves it."""


def make_certificate(root: Path) -> tuple[Path, Path]:
    """A test authority and a certificate for 127.0.0.1 it signed (trustme, from the venv)."""
    import trustme

    authority = trustme.CA()
    ca, cert = root / "ca.pem", root / "server.pem"
    authority.cert_pem.write_to_path(str(ca))
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert))
    return ca, cert


def start_nginx(root: Path, data: Path, cert: Path, rate: str) -> subprocess.Popen[bytes]:
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            workers=os.cpu_count() or 2,
            root=root,
            data=data,
            cert=cert,
            rate=rate,
            fast=PORTS["http", False, False],
            slow=PORTS["http", True, False],
            tls_fast=PORTS["https", False, False],
            tls_slow=PORTS["https", True, False],
            tls_h2=PORTS["https", False, True],
        )
    )
    fast = PORTS["http", False, False]
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root), "-g", "daemon off;"])
    deadline = time.monotonic() + 10
    while True:
        try:
            with __import__("socket").create_connection(("127.0.0.1", fast), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return process


def run_measured(command: Sequence[str], cwd: Path) -> Run:
    """Run a command; its wall time, CPU seconds (user + system) and peak RSS.

    GNU time measures CPU and RSS: a child forked from this (large) Python process would count
    the parent's pages in its own peak RSS. Output goes to files, never to unread pipes.
    """
    with tempfile.TemporaryDirectory() as scratch:
        stats, errors = Path(scratch) / "time", Path(scratch) / "stderr"
        with open(errors, "wb") as error_file:
            started = time.perf_counter()
            status = subprocess.call(
                ["/usr/bin/time", "-o", str(stats), "-f", "%U %S %M", *command],
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=error_file,
            )
            wall = time.perf_counter() - started
        if status != 0:
            tail = errors.read_text(errors="replace")[-500:]
            raise RuntimeError(f"{command[0]} exited {status}: {tail}")
        user, system, rss_kb = stats.read_text().split()[-3:]
    return Run(wall, float(user) + float(system), int(rss_kb) / 1024)


def verify(out: Path, files: Sequence[str], digests: dict[str, str]) -> None:
    for name in files:
        path = out / name
        if not path.exists():
            raise RuntimeError(f"{name} is missing")
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            for block in iter(lambda: source.read(8 * MiB), b""):
                digest.update(block)
        if digest.hexdigest() != digests[name]:
            raise RuntimeError(f"{name} is corrupt")


def url_list(out_root: Path, urls: list[str]) -> Path:
    listing = out_root / f"urls-{len(urls)}-{abs(hash(tuple(urls)))}.txt"
    listing.write_text("\n".join(urls) + "\n")
    return listing


def commands(out_root: Path, ca: Path) -> dict[str, Command]:
    def python_peer(script: str, option: str, value: int, urls: list[str], out: Path) -> list[str]:
        """fetchq and the Python peers: a script in bench/ with --dest, one option and -i."""
        listing = str(url_list(out_root, urls))
        return [PYTHON, str(HERE / script), "--dest", str(out), option, str(value), "-i", listing]

    def fetchq(s: Scenario, urls: list[str], out: Path) -> list[str]:
        return python_peer("fetchq_bench.py", "--parallel", s.parallel, urls, out)

    def curl(s: Scenario, urls: list[str], out: Path) -> list[str]:
        config = out_root / f"curl-{s.key}-{len(urls)}.cfg"
        config.write_text(
            "".join(f'url = "{u}"\noutput = "{out}/{u.rsplit("/", 1)[-1]}"\n' for u in urls)
        )
        base = ["curl", "-s", "-S", "--fail", "--no-progress-meter", "--cacert", str(ca)]
        if len(urls) > 1:
            base += ["--parallel", "--parallel-max", str(s.parallel)]
        return [*base, "-K", str(config)]

    def wget2(s: Scenario, urls: list[str], out: Path) -> list[str]:
        return [
            "wget2",
            "-q",
            "--no-robots",
            "--max-threads",
            str(s.parallel),
            f"--ca-certificate={ca}",
            "-P",
            str(out),
            "-i",
            str(url_list(out_root, urls)),
        ]

    def aria2c(s: Scenario, urls: list[str], out: Path) -> list[str]:
        return [
            "aria2c",
            "-q",
            "-x16",
            "-s16",
            "-k1M",
            f"-j{s.parallel}",
            "--file-allocation=none",
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
            "--summary-interval=0",
            f"--ca-certificate={ca}",
            "-d",
            str(out),
            "-i",
            str(url_list(out_root, urls)),
        ]

    def requests_baseline(s: Scenario, urls: list[str], out: Path) -> list[str]:
        return python_peer("requests_baseline.py", "--threads", 8, urls, out)

    def parfive(s: Scenario, urls: list[str], out: Path) -> list[str]:
        return python_peer("parfive_peer.py", "--parallel", s.parallel, urls, out)

    tools: dict[str, Command] = {
        "fetchq": fetchq,
        "curl": curl,
        "wget2": wget2,
        "aria2c": aria2c,
        "requests": requests_baseline,
    }
    try:
        __import__("parfive")
        tools["parfive"] = parfive
    except ImportError:
        print("parfive is not installed; skipping it", file=sys.stderr)
    return tools


def physical_limits(
    s: Scenario, data: Path, out_root: Path, fast_url: str, digests: dict[str, str], ca: Path
) -> dict[str, float]:
    """Copying the same bytes from the page cache, and curl into /dev/null; for many small
    files, the pycurl floor (see pycurl_floor.py) with and without fetchq's start-up."""
    limits: dict[str, float] = {}
    out = Path(tempfile.mkdtemp(prefix=f"limit-{s.key}-", dir=out_root))
    sources = [str(data / name) for name in s.files]
    if len(sources) == 1:
        command = ["sh", "-c", f'cat "{sources[0]}" > "{out}/{s.files[0]}"']
    else:
        command = ["cp", *sources, str(out)]
    copies = [run_measured(command, out_root).wall for _ in range(3)]
    limits["cat/cp into the output folder"] = min(copies)
    shutil.rmtree(out)
    if len(s.files) == 1:
        url = f"{fast_url}/{s.files[0]}"
        limits["curl -o /dev/null"] = min(
            run_measured(["curl", "-s", "-o", "/dev/null", "--cacert", str(ca), url], out_root).wall
            for _ in range(3)
        )
    if len(s.files) > 100 and not s.throttled:
        listing = str(url_list(out_root, [f"{fast_url}/{name}" for name in s.files]))
        floors: list[Path] = []
        for label, extra in (("", []), (" + import fetchq", ["--import-fetchq"])):
            walls = []
            for _ in range(3):
                out = Path(tempfile.mkdtemp(prefix=f"floor-{s.key}-", dir=out_root))
                floor = [PYTHON, str(HERE / "pycurl_floor.py"), *extra, "--dest", str(out)]
                walls.append(run_measured([*floor, "-i", listing], out_root).wall)
                verify(out, s.files, digests)
                floors.append(out)
            limits[f"pycurl floor, CurlMulti 8 at once{label}"] = min(walls)
        for out in floors:
            shutil.rmtree(out, ignore_errors=True)
    return limits


GENERATED_MARKER = "<!-- bench/throughput.py writes everything below this line -->"


def write_results(path: Path, generated: str) -> None:
    """Replace the generated tables, keeping the hand-written analysis above the marker."""
    kept = ""
    if path.exists():
        text = path.read_text()
        if GENERATED_MARKER in text:
            kept = text[: text.index(GENERATED_MARKER)]
    path.write_text(f"{kept}{GENERATED_MARKER}\n\n{generated}")


def table(s: Scenario, results: dict[str, Result], limits: dict[str, float], size: int) -> str:
    fetchq = results.get("fetchq")
    lines = [
        f"### ({s.key}) {s.title}",
        "",
        "| tool | median wall s | MB/s | CPU s | peak RSS MB | fetchq / tool | runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results.items():
        if not result.runs:
            lines.append(f"| {name} | failed: {'; '.join(result.failures)[:80]} | | | | | 0 |")
            continue
        wall = result.median("wall")
        ratio = f"{fetchq.median('wall') / wall:.2f}" if fetchq and fetchq.runs else ""
        lines.append(
            f"| {name} | {wall:.3f} | {size / wall / 1e6:.0f} | {result.median('cpu'):.2f} | "
            f"{max(r.rss_mb for r in result.runs):.1f} | {ratio} | {len(result.runs)} |"
        )
    for name, wall in limits.items():
        lines.append(f"| *{name}* | {wall:.3f} | {size / wall / 1e6:.0f} | | | | |")
    return "\n".join(lines) + "\n"


def byte_compile_fetchq() -> None:
    """Write fetchq's bytecode, as installing a wheel does, so no run pays for compiling it.

    An editable install leaves that to the first import, and with ``PYTHONDONTWRITEBYTECODE``
    set (as on the benchmark machine) every run compiled fetchq's modules again: about 50 ms
    a run that the Python peers, whose packages were installed compiled, did not pay.
    """
    spec = importlib.util.find_spec("fetchq")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # (C) first: on the benchmark VM, creating files in a folder area that has just taken and
    # freed gigabytes was 5-6x slower for every tool (curl 0.96 s against 0.15 s for the 2000
    # files), so after (A) and (B) the scenario measured the disk's state, not the tools.
    parser.add_argument(
        "--scenarios",
        default="C,Cs,Ch2,A,As,B,Bs,D,Ds,E,Es",
        help="comma-separated, in this order (s: over https; h2: over HTTP/2)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--slow-runs", type=int, default=3, help="runs of the single-connection tools in D"
    )
    parser.add_argument("--rate", default="40m", help="nginx limit_rate per connection")
    parser.add_argument("--tools", default="", help="comma-separated subset")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fetchq-bench")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--out", type=Path, help="where downloads go (default: WORK/out)")
    args = parser.parse_args()

    small = tuple(f"s{i:04d}.bin" for i in range(2000))
    medium = tuple(f"m{i}.bin" for i in range(8))
    plain = [
        Scenario("A", "one 1 GiB file, unthrottled", ("big.bin",), False, 1),
        Scenario("B", "8 x 128 MiB, unthrottled, 8 at once", medium, False, 8),
        Scenario("C", "2000 x 16 KiB, 8 at once", small, False, 8),
        Scenario("D", f"one 1 GiB file, {args.rate}B/s per connection", ("big.bin",), True, 1),
        Scenario("E", f"8 x 128 MiB, {args.rate}B/s per connection, 8 at once", medium, True, 8),
    ]
    scenarios = [
        *plain,
        *(
            dataclasses.replace(s, key=s.key + "s", title=s.title + ", https", scheme="https")
            for s in plain
        ),
        Scenario("Ch2", "2000 x 16 KiB, 8 at once, https, HTTP/2", small, False, 8, "https", True),
    ]
    by_key = {s.key: s for s in scenarios}
    wanted = [key.strip() for key in args.scenarios.split(",") if key.strip()]
    scenarios = [by_key[key] for key in wanted if key in by_key]  # in the order given
    data = args.work / "data"
    print(f"generating data in {data} ...", flush=True)
    digests = make_data(data, len(small))
    ca, cert = make_certificate(args.work)
    # Every client trusts the bench's authority: curl, wget2 and aria2c by option, the Python
    # ones through the environment (requests, aiohttp's ssl, fetchq and the floor read it).
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(ca)
    byte_compile_fetchq()
    out_root = args.out or args.work / "out"
    shutil.rmtree(out_root, ignore_errors=True)
    out_root.mkdir(parents=True)
    nginx = start_nginx(args.work, data, cert, args.rate)
    tools = commands(out_root, ca)
    if args.tools:
        tools = {k: v for k, v in tools.items() if k in args.tools.split(",")}
    report = [
        "## The last full run",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. nginx serves from the page cache on "
        f"127.0.0.1 over http and https (TLS 1.3, a certificate every client trusts; "
        "HTTP/1.1 unless the scenario says HTTP/2); downloads are written to "
        f"`{out_root}`. Throttled scenarios use "
        f"`limit_rate {args.rate}` per connection. Median "
        f"of {args.runs} runs after a warm-up (D: {args.slow_runs} for single-connection tools); "
        "every output verified by sha256 before its time counts. Wall time is the whole "
        "process, start-up included; CPU is user + system of the process.",
        "",
    ]
    run_number = 0
    try:
        for s in scenarios:
            size = sum((data / name).stat().st_size for name in s.files)
            base = f"{s.scheme}://127.0.0.1:{PORTS[s.scheme, s.throttled, s.http2]}"
            urls = [f"{base}/{name}" for name in s.files]
            results = {name: Result(name) for name in tools}
            print(f"\n({s.key}) {s.title}", flush=True)
            kept: list[Path] = []
            for round_number in range(args.runs + 1):  # round 0 warms up
                order = list(tools) if round_number % 2 == 0 else list(reversed(tools))
                for name in order:
                    single = name in ("curl", "wget2", "requests", "parfive")
                    if s.key.startswith("D") and single and round_number > args.slow_runs:
                        continue
                    run_number += 1
                    out = out_root / f"{s.key}-{name}-{round_number}-{run_number}"
                    out.mkdir()
                    try:
                        run = run_measured(tools[name](s, urls, out), out_root)
                        verify(out, s.files, digests)
                    except (RuntimeError, OSError) as exc:
                        results[name].failures.append(str(exc))
                        print(f"  {name}: FAILED {exc}", flush=True)
                    else:
                        if round_number > 0:
                            results[name].runs.append(run)
                        print(
                            f"  {name}{' (warm-up)' if round_number == 0 else ''}: "
                            f"{run.wall:.3f} s, {run.cpu:.2f} cpu s, {run.rss_mb:.0f} MB",
                            flush=True,
                        )
                    finally:
                        if len(s.files) > 100:
                            kept.append(out)  # many small files: deleted after the scenario
                        else:
                            shutil.rmtree(out, ignore_errors=True)
            # Big outputs go at once, their dirty pages dropped before any writeback (kept, 4 GB
            # of them throttle every writer to disk speed). Thousands of small files go after the
            # scenario: deleted between rounds, they slowed the next round's first two runs by
            # about 1 s (fetchq 2.0 and 2.5 s against 1.0-1.3 s, curl 1.0 and 1.2 s against
            # 0.15 s), so whichever tools the alternating order put first paid for it.
            fast_url = f"{s.scheme}://127.0.0.1:{PORTS[s.scheme, False, s.http2]}"
            limits = physical_limits(s, data, out_root, fast_url, digests, ca)
            for folder in kept:
                shutil.rmtree(folder, ignore_errors=True)
            text = table(s, results, limits, size)
            print("\n" + text, flush=True)
            report.append(text)
    finally:
        nginx.terminate()
        nginx.wait()
    write_results(args.results, "\n".join(report))
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
