"""The one timing harness (actlab._timing), under a fake clock: what is timed, in which
order, and what the summaries say."""

from __future__ import annotations

import math
import random

import pytest

from actlab._timing import Timing, interleaved, spread


class Clock:
    """A fake clock that moves only when a fake call says so; it logs every call."""

    def __init__(self) -> None:
        self.now = 0.0
        self.log: list[str] = []

    def __call__(self) -> float:
        return self.now

    def call(self, name: str, dt: float = 0.0):
        def f() -> None:
            self.log.append(name)
            self.now += dt

        return f


def test_each_round_times_every_variant_once_in_a_seeded_shuffled_order() -> None:
    clock = Clock()
    keys = "abcdef"
    fns = {k: clock.call(k, 1.0) for k in keys}
    times = interleaved(fns, 5, warmup=0, seed=3, clock=clock)
    rounds = [clock.log[i : i + 6] for i in range(0, 30, 6)]
    rng = random.Random(3)
    assert rounds == [rng.sample(list(keys), 6) for _ in range(5)]  # repeatable by seed
    assert all(sorted(r) == list(keys) for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1  # a fresh order each round
    assert list(times) == list(keys)  # results in the order of fns
    assert all(t.samples == (1.0,) * 5 and t.inner == 1 for t in times.values())
    # the same seed, the same order
    clock.log.clear()
    interleaved(fns, 5, warmup=0, seed=3, clock=clock)
    assert [clock.log[i : i + 6] for i in range(0, 30, 6)] == rounds


def test_setup_runs_before_each_call_and_is_not_timed() -> None:
    clock = Clock()
    times = interleaved(
        {"a": clock.call("a", 2.0), "b": clock.call("b", 5.0)},
        3,
        warmup=0,
        setup={"b": clock.call("setup", 100.0)},
        clock=clock,
    )
    assert times["a"].samples == (2.0,) * 3 and times["b"].samples == (5.0,) * 3
    assert clock.log.count("setup") == 3
    assert all(clock.log[i + 1] == "b" for i, n in enumerate(clock.log) if n == "setup")


def test_warmup_calls_come_first_and_are_not_counted() -> None:
    clock = Clock()
    slow = iter([50.0, 50.0])  # the first calls are slow (lazy initialisation)

    def a() -> None:
        clock.log.append("a")
        clock.now += next(slow, 1.0)

    times = interleaved({"a": a, "b": clock.call("b", 3.0)}, 4, warmup=2, clock=clock)
    assert clock.log.count("a") == 6 and clock.log.count("b") == 6  # 2 warm-up + 4 timed
    assert times["a"].samples == (1.0,) * 4 and times["b"].samples == (3.0,) * 4


def test_inner_repeats_make_a_sample_last_the_target_and_are_divided_out() -> None:
    clock = Clock()
    fns = {"short": clock.call("short", 0.25), "long": clock.call("long", 4.0)}
    times = interleaved(fns, 3, warmup=1, target_s=2.0, max_inner=100, clock=clock)
    assert times["short"].inner == 8 and times["long"].inner == 1
    assert times["short"].samples == (0.25,) * 3  # seconds per call, not per sample
    assert times["long"].samples == (4.0,) * 3
    # 1 warm-up + 1 calibration + 3 samples of 8
    assert clock.log.count("short") == 1 + 1 + 3 * 8
    capped = interleaved(fns, 1, target_s=2.0, max_inner=5, clock=clock)
    assert capped["short"].inner == 5 and capped["short"].samples == (0.25,)


def test_setup_stays_untimed_between_inner_calls() -> None:
    clock = Clock()
    times = interleaved(
        {"a": clock.call("a", 0.5)},
        2,
        setup={"a": clock.call("setup", 10.0)},
        target_s=2.0,
        max_inner=10,
        clock=clock,
    )
    assert times["a"].inner == 4 and times["a"].samples == (0.5, 0.5)


def test_prime_adds_an_untimed_call_before_single_call_samples() -> None:
    clock = Clock()
    fns = {"short": clock.call("short", 0.5), "long": clock.call("long", 4.0)}
    interleaved(fns, 3, warmup=1, target_s=1.0, max_inner=10, prime=True, clock=clock)
    # long (one call a sample): warm-up, calibration, then an untimed call before each sample
    assert clock.log.count("long") == 1 + 1 + 3 * 2
    assert clock.log.count("short") == 1 + 1 + 3 * 2  # two calls a sample, no extra call


def test_sync_brackets_every_sample() -> None:
    clock = Clock()
    events: list[str] = []
    fns = {"a": lambda: events.append("a")}
    interleaved(fns, 2, warmup=0, sync=lambda: events.append("sync"), clock=clock)
    assert events == ["sync", "a", "sync"] * 2


def test_blocks_switch_once_per_block_alternating_their_order() -> None:
    clock = Clock()
    fns = {f"{k}@{t}": clock.call(f"{k}@{t}", 1.0) for t in (2, 1) for k in "xy"}
    blocks = [(clock.call(f"threads={t}"), [f"{k}@{t}" for k in "xy"]) for t in (2, 1)]
    times = interleaved(fns, 2, warmup=0, blocks=blocks, clock=clock)
    switches = [n for n in clock.log if n.startswith("threads=")]
    assert switches == ["threads=2", "threads=1", "threads=1", "threads=2"]
    # every key of a block runs right after its switch
    for i, n in enumerate(clock.log):
        if n.startswith("threads="):
            t = n.split("=")[1]
            assert {clock.log[i + 1], clock.log[i + 2]} == {f"x@{t}", f"y@{t}"}
    assert all(len(t.samples) == 2 for t in times.values())
    with pytest.raises(ValueError, match="every key"):
        interleaved(fns, 1, blocks=blocks[:1], clock=clock)


def test_summaries_median_spread_and_min() -> None:
    t = Timing((5.0, 1.0, 3.0, 2.0, 4.0))
    assert t.median == 3.0 and t.min == 1.0
    # quartiles (exclusive method) of 1..5: 1.5 and 4.5; median 3
    assert t.spread == pytest.approx(3.0 / 3.0)
    assert spread([2.0, 2.0, 2.0, 2.0]) == 0.0
    assert math.isnan(spread([1.0, 2.0, 3.0]))  # too few samples for quartiles
    empty = Timing(())
    assert math.isnan(empty.median) and math.isnan(empty.min) and math.isnan(empty.spread)


def test_real_clock_times_real_calls() -> None:
    times = interleaved({"a": lambda: sum(range(1000)), "b": lambda: None}, 5)
    assert all(len(t.samples) == 5 and t.min >= 0 for t in times.values())
    assert times["a"].min <= times["a"].median
