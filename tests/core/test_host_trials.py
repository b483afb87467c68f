"""HostTrials: one trial of a second connection per host at a time, and what it taught."""

from __future__ import annotations

from fetchq._limits import HostTrials


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_download_tries_at_a_time() -> None:
    trials = HostTrials(Clock())
    a, b = object(), object()
    assert trials.may_try("h:443", a)
    assert not trials.may_try("h:443", b)  # a is trying
    assert trials.may_try("other:443", b)  # another host is another matter
    trials.abandon("h:443")
    assert trials.may_try("h:443", b)


def test_a_trial_that_did_not_help_keeps_the_others_from_trying_for_a_while() -> None:
    clock = Clock()
    trials = HostTrials(clock)
    a, b = object(), object()
    assert trials.may_try("h:443", a)
    trials.tried("h:443", False, a)
    assert not trials.may_try("h:443", b)
    clock.now += HostTrials.REMEMBER + 0.1
    assert trials.may_try("h:443", b)


def test_the_download_that_tried_may_try_again_on_its_own_schedule() -> None:
    """One misjudged tenth of a second must not hold a large download to one connection."""
    clock = Clock()
    trials = HostTrials(clock)
    a = object()
    assert trials.may_try("h:443", a)
    trials.tried("h:443", False, a)
    clock.now += 1.0
    assert trials.may_try("h:443", a)
    trials.tried("h:443", True, a)
    assert trials.may_try("h:443", object())  # it helped after all: everyone may try
