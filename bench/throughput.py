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

Besides wall time, CPU and peak RSS, every run counts the TCP connections the tool opened and
the HTTP versions it spoke, from nginx's access log (``$connection``, the connection's serial
number, and ``$server_protocol``). The summary at the top of ``RESULTS.md`` sets each result
beside issue 25's targets (``TARGETS``) with its verdict, and adds the GUI's latency from the
last ``make bench-gui`` (``bench/gui_latency.py`` leaves it in ``WORK/gui-latency.json``).
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import hashlib
import importlib.util
import json
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
from typing import Any

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
    connections: int = 0
    """TCP connections nginx accepted from the tool during the run."""
    protocols: frozenset[str] = frozenset()
    """The HTTP versions of its requests, as nginx's ``$server_protocol`` (``HTTP/2.0``)."""


@dataclass
class Result:
    tool: str
    runs: list[Run] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(run, attribute) for run in self.runs))

    def peak_rss(self) -> float:
        return max(run.rss_mb for run in self.runs)

    def connections(self) -> str:
        """The connections of its runs: one number, or the range when runs differed."""
        counts = sorted(run.connections for run in self.runs)
        return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"

    def protocols(self) -> str:
        versions = set().union(*(run.protocols for run in self.runs))
        return "+".join(sorted(v.removeprefix("HTTP/").removesuffix(".0") for v in versions))


Command = Callable[[Scenario, list[str], Path], list[str]]


def make_data(root: Path, small_count: int, names: set[str]) -> dict[str, str]:
    """Incompressible files, and their sha256: those of ``names`` (the scenarios' files)."""
    root.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    plan = [("big.bin", 1024 * MiB)] + [(f"m{i}.bin", 128 * MiB) for i in range(8)]
    plan += [(f"s{i:04d}.bin", 16 * 1024) for i in range(small_count)]
    for name, size in plan:
        if name not in names:
            continue
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
    log_format bench '$connection $server_protocol';
    access_log {root}/access.log bench;
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


class AccessLog:
    """nginx's access log, one line a request: ``$connection $server_protocol``.

    ``$connection`` is the serial number nginx gives each accepted TCP connection (unique across
    its workers), so the distinct serials among a run's lines are the connections that run
    opened; over HTTP/2, every request multiplexed on one connection carries its serial.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, offset: int, requests: int) -> tuple[int, frozenset[str]]:
        """Connections and HTTP versions of the requests logged after ``offset``.

        nginx logs a request as it finishes sending it, which can trail the client's exit by a
        moment: wait (a second at most) until at least ``requests`` lines are there.
        """
        deadline = time.monotonic() + 1.0
        while True:
            with open(self.path, "rb") as log:
                log.seek(offset)
                lines = [line.split() for line in log.read().decode(errors="replace").splitlines()]
            lines = [fields for fields in lines if len(fields) >= 2]
            if len(lines) >= requests or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return len({fields[0] for fields in lines}), frozenset(fields[1] for fields in lines)


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


GiB = 1 << 30
SMALL_FILES = 100
"""A scenario with more files than this is a many-small-files one: CPU is counted per file."""


def cpu_unit(s: Scenario) -> tuple[str, Callable[[float, int], float], str]:
    """How a scenario states CPU: per file in microseconds, or seconds per GiB."""
    if len(s.files) > SMALL_FILES:
        return "CPU us/file", lambda cpu, size: cpu / len(s.files) * 1e6, "{:.0f}"
    return "CPU s/GiB", lambda cpu, size: cpu / (size / GiB), "{:.2f}"


def table(s: Scenario, results: dict[str, Result], limits: dict[str, float], size: int) -> str:
    fetchq = results.get("fetchq")
    label, per, form = cpu_unit(s)
    lines = [
        f"### ({s.key}) {s.title}",
        "",
        f"| tool | median wall s | MB/s | CPU s | {label} | peak RSS MB | TCP conns | HTTP "
        "| fetchq / tool | runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for name, result in results.items():
        if not result.runs:
            failures = "; ".join(result.failures)[:80]
            lines.append(f"| {name} | failed: {failures} | | | | | | | | 0 |")
            continue
        wall, cpu = result.median("wall"), result.median("cpu")
        ratio = f"{fetchq.median('wall') / wall:.2f}" if fetchq and fetchq.runs else ""
        lines.append(
            f"| {name} | {wall:.3f} | {size / wall / 1e6:.0f} | {cpu:.2f} | "
            f"{form.format(per(cpu, size))} | {result.peak_rss():.1f} | "
            f"{result.connections()} | {result.protocols()} | {ratio} | {len(result.runs)} |"
        )
    for name, wall in limits.items():
        lines.append(f"| *{name}* | {wall:.3f} | {size / wall / 1e6:.0f} | | | | | | | |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Targets:
    """Issue 25's targets; ratios are taken within one run, of medians."""

    small: tuple[str, ...] = ("C", "Cs", "Ch2")
    small_wall_vs_curl: float = 3.0
    """Many small files: fetchq's wall time at most this many times curl's."""
    cpu_per_job_us: float = 150.0
    """Many small files: fetchq's process CPU over the number of files."""
    big: tuple[str, ...] = ("A", "As", "B", "Bs", "D", "Ds", "E", "Es")
    """Big files: wall at most the fastest of ``big_peers``, CPU per GiB at most curl's."""
    big_peers: tuple[str, ...] = ("curl", "wget2", "aria2c")
    rss_mb: float = 80.0
    rss_scenarios: tuple[str, ...] = ("Bs", "Es")
    one_connection: tuple[str, ...] = ("Ch2",)
    """Many files from one HTTP/2 host share one connection: fetchq opens one in every run."""
    gui_p99_ms: float = 16.0
    gui_rows: int = 10_000
    gui_active: int = 200


TARGETS = Targets()

Done = dict[str, tuple[Scenario, dict[str, Result], int]]
"""Scenario key -> the scenario, its results by tool, and its size in bytes."""


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def measured(results: dict[str, Result], *tools: str) -> list[Result]:
    return [results[tool] for tool in tools if tool in results and results[tool].runs]


def target_rows(done: Done, gui: dict[str, Any] | None, t: Targets = TARGETS) -> list[str]:
    """One row a target: what it asks, what this run measured, and the verdict."""
    rows: list[str] = []

    def row(target: str, result: str, met: bool | None) -> None:
        rows.append(f"| {target} | {result} | {'—' if met is None else verdict(met)} |")

    for key, (s, results, size) in done.items():
        fetchq = results.get("fetchq")
        if fetchq is None or not fetchq.runs:
            if key in (*t.small, *t.big):
                row(f"{key}: fetchq", "fetchq did not finish a run", False)
            continue
        wall, cpu = fetchq.median("wall"), fetchq.median("cpu")
        if fetchq.failures:
            row(
                f"{key}: every fetchq run completes and verifies",
                f"{len(fetchq.failures)} failed: {'; '.join(fetchq.failures)[:120]}",
                False,
            )
        if key in t.small:
            curl = measured(results, "curl")
            if curl:
                ratio = wall / curl[0].median("wall")
                row(
                    f"{key}: wall at most {t.small_wall_vs_curl:g}x curl's",
                    f"fetchq {wall:.3f} s, curl {curl[0].median('wall'):.3f} s: {ratio:.2f}x",
                    ratio <= t.small_wall_vs_curl,
                )
            per_job = cpu / len(s.files) * 1e6
            others = ", ".join(
                f"{r.tool} {r.median('cpu') / len(s.files) * 1e6:.0f}"
                for r in measured(results, "curl", "wget2", "aria2c")
            )
            row(
                f"{key}: CPU per job at most {t.cpu_per_job_us:g} us",
                f"fetchq {per_job:.0f} us" + (f" ({others})" if others else ""),
                per_job <= t.cpu_per_job_us,
            )
        if key in t.big:
            peers = measured(results, *t.big_peers)
            if peers:
                best = min(peers, key=lambda r: r.median("wall"))
                ratio = wall / best.median("wall")
                row(
                    f"{key}: wall at most the fastest of {', '.join(t.big_peers)}",
                    f"fetchq {wall:.3f} s, {best.tool} {best.median('wall'):.3f} s: {ratio:.2f}",
                    ratio <= 1.0,
                )
            per_gib = cpu / (size / GiB)
            others = ", ".join(f"{r.tool} {r.median('cpu') / (size / GiB):.2f}" for r in peers)
            curl = measured(results, "curl")
            row(
                f"{key}: CPU per GiB at most curl's",
                f"fetchq {per_gib:.2f} s/GiB" + (f"; {others}" if others else ""),
                per_gib <= curl[0].median("cpu") / (size / GiB) if curl else None,
            )
        if key in t.rss_scenarios:
            row(
                f"{key}: peak RSS at most {t.rss_mb:g} MB",
                f"fetchq {fetchq.peak_rss():.1f} MB (the most of its runs)",
                fetchq.peak_rss() <= t.rss_mb,
            )
        if key in t.one_connection:
            others = ", ".join(
                f"{r.tool} {r.connections()} (HTTP/{r.protocols()})"
                for r in measured(results, *results)
                if r.tool != "fetchq"
            )
            row(
                f"{key}: one TCP connection for all files (HTTP/2)",
                f"fetchq {fetchq.connections()} (HTTP/{fetchq.protocols()}); {others}",
                all(run.connections == 1 for run in fetchq.runs),
            )
    target = (
        f"GUI event loop p99 under {t.gui_p99_ms:g} ms, {t.gui_rows:,} rows, "
        f"{t.gui_active} active https downloads (`make bench-gui`)"
    )
    if gui is None:
        row(target, "not measured: run `make bench-gui` before `make bench`", None)
    else:
        full_size = (
            gui.get("rows", 0) >= t.gui_rows
            and gui.get("active", 0) >= t.gui_active
            and gui.get("scheme") == "https"
        )
        result = (
            f"p50 {gui['latency_ms_p50']} ms, p99 {gui['latency_ms_p99']} ms, "
            f"max {gui['latency_ms_max']} ms; {gui.get('rows')} rows, "
            f"{gui.get('running_at_end')} of {gui.get('active')} running ({gui.get('scheme')}), "
            f"{gui.get('samples')} timer samples in {gui.get('seconds')} s, "
            f"GUI thread {gui.get('gui_thread_cpu_percent')} % CPU, "
            f"load average {gui.get('load_average_1min', '?')} ({gui.get('measured_at', '?')})"
        )
        met = (
            gui["latency_ms_p99"] < t.gui_p99_ms
            and gui.get("running_at_end", 0) >= gui.get("active", 1)
            if full_size
            else None
        )
        row(target, result if full_size else result + "; not at the target's size", met)
    return rows


def summary(done: Done, gui: dict[str, Any] | None, t: Targets = TARGETS) -> str:
    rows = target_rows(done, gui, t)
    left = [key for key in (*t.small, *t.big) if key not in done]
    met = sum(1 for line in rows if line.endswith("| **met** |"))
    missed = sum(1 for line in rows if line.endswith("| **missed** |"))
    lines = [
        "### Summary against issue 25's targets",
        "",
        f"{met} met, {missed} missed. Ratios are fetchq's median over the other tool's median "
        "in this run; CPU is the process's user + system time.",
        "",
        "| target | result | verdict |",
        "| --- | --- | --- |",
        *rows,
    ]
    if left:
        lines += ["", f"Not in this run: {', '.join(left)}."]
    return "\n".join(lines) + "\n"


def load_gui(path: Path) -> dict[str, Any] | None:
    """The last ``make bench-gui`` result, if one was left there."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) and "latency_ms_p99" in loaded else None


def byte_compile_fetchq() -> None:
    """Write fetchq's bytecode, as installing a wheel does, so no run pays for compiling it.

    An editable install leaves that to the first import, and with ``PYTHONDONTWRITEBYTECODE``
    set (as on the benchmark machine) every run compiled fetchq's modules again: about 50 ms
    a run that the Python peers, whose packages were installed compiled, did not pay.
    """
    spec = importlib.util.find_spec("fetchq")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def fetchq_origin() -> str:
    """Which fetchq the runs import: its folder, and its commit when that is a git checkout."""
    spec = importlib.util.find_spec("fetchq")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        return "fetchq (not found)"
    folder = folders[0]

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", folder, *argv], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"fetchq from `{folder}`"
    changed = " plus uncommitted changes" if git("status", "--porcelain", "--", ".") else ""
    return f"fetchq at commit {commit}{changed} (`{folder}`)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # (C) first: on the benchmark VM, creating files in a folder area that has just taken and
    # freed gigabytes was 5-6x slower for every tool (curl 0.96 s against 0.15 s for the 2000
    # files), so after (A) and (B) the scenario measured the disk's state, not the tools.
    parser.add_argument(
        "--scenarios",
        default="C,Cs,Ch2,A,As,B,Bs,D,Ds,E,Es",
        help="comma-separated keys, run in the order given (s: over https; h2: over HTTP/2), "
        "e.g. C,Cs,Ch2",
    )
    parser.add_argument("--runs", type=int, default=3, help="measured runs (after a warm-up)")
    parser.add_argument(
        "--slow-runs", type=int, default=3, help="runs of the single-connection tools in D"
    )
    parser.add_argument("--rate", default="40m", help="nginx limit_rate per connection")
    parser.add_argument("--tools", default="", help="comma-separated subset")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fetchq-bench")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--out", type=Path, help="where downloads go (default: WORK/out)")
    parser.add_argument(
        "--gui-json",
        type=Path,
        help="the GUI latency result to put in the summary (default: WORK/gui-latency.json, "
        "where `make bench-gui` leaves it)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

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
    unknown = [key for key in wanted if key not in by_key]
    if unknown or not wanted:
        parser.error(
            f"--scenarios: unknown {', '.join(unknown) or '(none given)'}; "
            f"the keys are {','.join(by_key)} (comma-separated)"
        )
    scenarios = [by_key[key] for key in dict.fromkeys(wanted)]  # in the order given
    data = args.work / "data"
    print(f"generating data in {data} ...", flush=True)
    digests = make_data(data, len(small), {name for s in scenarios for name in s.files})
    ca, cert = make_certificate(args.work)
    # Every client trusts the bench's authority: curl, wget2 and aria2c by option, the Python
    # ones through the environment (requests, aiohttp's ssl, fetchq and the floor read it).
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(ca)
    byte_compile_fetchq()
    out_root = args.out or args.work / "out"
    shutil.rmtree(out_root, ignore_errors=True)
    out_root.mkdir(parents=True)
    access = AccessLog(args.work / "access.log")
    nginx = start_nginx(args.work, data, cert, args.rate)
    tools = commands(out_root, ca)
    if args.tools:
        tools = {k: v for k, v in tools.items() if k in args.tools.split(",")}
    report = [
        f"## The last run: {','.join(s.key for s in scenarios)}",
        "",
        f"`{' '.join(['bench/run.sh', *sys.argv[1:]])}`",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()} with "
        f"{fetchq_origin()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. nginx serves from the page cache on "
        f"127.0.0.1 over http and https (TLS 1.3, a certificate every client trusts; "
        "HTTP/1.1 unless the scenario says HTTP/2); downloads are written to "
        f"`{out_root}`. Throttled scenarios use "
        f"`limit_rate {args.rate}` per connection. Median "
        f"of {args.runs} runs after a warm-up (D: {args.slow_runs} for single-connection tools); "
        "every output verified by sha256 before its time counts. Wall time is the whole "
        "process, start-up included; CPU is user + system of the process. TCP conns: the "
        "connections nginx accepted from the tool in a run (a range when runs differed); HTTP: "
        "the versions its requests used.",
        "",
    ]
    tables: list[str] = []
    done: Done = {}
    started_load = os.getloadavg()[0]
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
                        offset = access.mark()
                        run = run_measured(tools[name](s, urls, out), out_root)
                        run.connections, run.protocols = access.since(offset, len(s.files))
                        verify(out, s.files, digests)
                    except (RuntimeError, OSError) as exc:
                        results[name].failures.append(str(exc))
                        print(f"  {name}: FAILED {exc}", flush=True)
                    else:
                        if round_number > 0:
                            results[name].runs.append(run)
                        print(
                            f"  {name}{' (warm-up)' if round_number == 0 else ''}: "
                            f"{run.wall:.3f} s, {run.cpu:.2f} cpu s, {run.rss_mb:.0f} MB, "
                            f"{run.connections} conns {'+'.join(sorted(run.protocols))}",
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
            tables.append(text)
            done[s.key] = (s, results, size)
    finally:
        nginx.terminate()
        nginx.wait()
    report.append(
        f"Load average (1 min, {os.cpu_count()} cores) at the start {started_load:.2f}, at the "
        f"end {os.getloadavg()[0]:.2f}: more than the cores means others shared the machine.\n"
    )
    gui = load_gui(args.gui_json or args.work / "gui-latency.json")
    text = summary(done, gui)
    print("\n" + text, flush=True)
    write_results(args.results, "\n".join([*report, text, *tables]))
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
