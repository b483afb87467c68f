"""The engine on its own: one thread, one CurlMulti, many exchanges at once, and its waits."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

import pytest

from fetchq import NetworkError
from fetchq._abort import AbortReason, AbortSignal
from fetchq._curl import CurlTransport
from fetchq._engine import Engine
from fetchq._retry import Timeouts
from fetchq._steps import Counter, Join, Sleep, Spawn, Steps, Take, Task
from fetchq._transport import Request
from fetchq._trust import system_trust
from fetchq._url import parse_url
from fetchq.testing import TestServer, ca_bundle
from tests.helpers import Collect, payload

TIMEOUTS = Timeouts(connect=2.0, read=1.0)


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = Engine("fetchq-test-engine")
    made.start()
    yield made
    made.stop(5)


@pytest.fixture
def transport() -> Iterator[CurlTransport]:
    made = CurlTransport(TIMEOUTS, "fetchq-tests", system_trust(ca_bundle()))
    yield made
    made.close()


def _get(transport: CurlTransport, url: str, signal: AbortSignal) -> Steps[tuple[bool, bytes]]:
    collect = Collect()
    done = yield from transport.fetch_steps(Request(url=parse_url(url)), collect, signal)
    return done, bytes(collect.body)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_many_exchanges_run_at_once_on_the_one_engine_thread(engine: Engine, tls: bool) -> None:
    transport = CurlTransport(
        Timeouts(connect=5, read=20), "fetchq-tests", system_trust(ca_bundle())
    )
    bodies = {f"/f{i}": payload(20_000 + i * 997, seed=i) for i in range(40)}
    gate = threading.Event()  # nothing is answered before every request has arrived
    with TestServer(tls=tls) as server:
        for path, body in bodies.items():
            server.add(path, body, gate=gate)

        def open_the_gate() -> None:
            deadline = time.monotonic() + 20
            while len(server.requests) < len(bodies) and time.monotonic() < deadline:
                time.sleep(0.01)
            gate.set()

        opener = threading.Thread(target=open_the_gate, daemon=True)
        opener.start()

        def all_of_them() -> Steps[dict[str, bytes]]:
            tasks = {}
            for path in bodies:
                task = yield Spawn(_get(transport, server.url(path), AbortSignal()))
                tasks[path] = task
            got = {}
            for path, task in tasks.items():
                yield Join(task)
                assert task.error is None, task.error
                done, body = task.result
                assert done
                got[path] = body
            return got

        try:
            got = engine.run(all_of_them(), timeout=30)
        finally:
            transport.close()
        opener.join()
        ours = [thread.name for thread in threading.enumerate() if "fetchq" in thread.name]
        assert ours == ["fetchq-test-engine"]  # no thread a request
        assert len(server.requests) == len(bodies)  # all asked at once, before any answer
    assert {p: hashlib.sha256(b).hexdigest() for p, b in got.items()} == {
        p: hashlib.sha256(b).hexdigest() for p, b in bodies.items()
    }


def test_an_abort_from_another_thread_ends_a_running_exchange_at_once(
    engine: Engine, transport: CurlTransport
) -> None:
    with TestServer() as server:
        url = server.add("/slow", payload(100_000), stall_after=1000, stall_seconds=10)
        signal = AbortSignal()
        result: list[tuple[bool, bytes]] = []
        finished = threading.Event()

        def run() -> None:
            result.append(engine.run(_get(transport, url, signal), timeout=10))
            finished.set()

        threading.Thread(target=run, daemon=True).start()
        deadline = time.monotonic() + 5
        while not server.requests_for("/slow") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        aborted_at = time.monotonic()
        signal.abort(AbortReason.CANCEL)
        assert finished.wait(5)
        assert time.monotonic() - aborted_at < 0.5
    done, body = result[0]
    assert not done
    assert len(body) < 100_000


def test_a_stall_fails_with_a_timeout_after_the_read_timeout(
    engine: Engine, transport: CurlTransport
) -> None:
    with TestServer() as server:
        url = server.add("/stall", payload(50_000), stall_after=1000, stall_seconds=10)
        started = time.monotonic()
        with pytest.raises(NetworkError, match="no data for 1 s"):
            engine.run(_get(transport, url, AbortSignal()), timeout=10)
        assert 0.9 < time.monotonic() - started < 3


def test_a_sleep_ends_early_when_its_signal_aborts(engine: Engine) -> None:
    signal = AbortSignal()

    def sleeper() -> Steps[bool]:
        aborted: bool = yield Sleep(30, signal)
        return aborted

    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(engine.run(sleeper(), timeout=10)))
    thread.start()
    time.sleep(0.05)
    signal.abort(AbortReason.PAUSE)
    thread.join(5)
    assert outcome == [True]

    def short() -> Steps[bool]:
        aborted: bool = yield Sleep(0.05, AbortSignal())
        return aborted

    assert engine.run(short(), timeout=5) is False


def test_a_counter_hands_counts_to_waiters_in_order_and_times_out(engine: Engine) -> None:
    counter = Counter()
    order: list[str] = []

    def waiter(name: str, timeout: float) -> Steps[None]:
        took = yield Take(counter, timeout)
        order.append(f"{name}:{took}")

    def main() -> Steps[None]:
        first: Task = yield Spawn(waiter("a", 5))
        second: Task = yield Spawn(waiter("b", 5))
        late: Task = yield Spawn(waiter("c", 0.05))
        yield Sleep(0.2, None)
        counter.release()
        counter.release()
        for task in (first, second, late):
            yield Join(task)
        counter.release()  # nobody waits: kept for the next taker
        took = yield Take(counter, 0)
        order.append(f"kept:{took}")

    engine.run(main(), timeout=10)
    assert order == ["c:False", "a:True", "b:True", "kept:True"]


def test_a_failing_task_reports_its_exception_to_the_caller(engine: Engine) -> None:
    def broken() -> Steps[None]:
        yield Sleep(0, None)
        raise ValueError("broken on purpose")

    with pytest.raises(ValueError, match="on purpose"):
        engine.run(broken(), timeout=5)
    assert engine.run(_constant(7), timeout=5) == 7  # the engine goes on


def _constant(value: int) -> Steps[int]:
    yield Sleep(0, None)
    return value
