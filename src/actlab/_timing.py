"""The one timing harness: every variant timed interleaved, round by round.

:func:`interleaved` is what ``actlab bench``, claim C1's cost runs, the properties
table's relative cost and the per-machine fast-path choice all time with. Each round
times every variant once, in a fresh order drawn from a seeded generator, so a burst of
load from another process, or a slow drift of the clock speed, lands on all variants
alike instead of on whichever one ran during it, and no variant always follows the
same one (the allocator and cache state a variant leaves behind is charged to a
different successor each round). Warm-up calls go first and are not counted (lazy
initialisation, the allocator's first requests, compiled code being loaded). An
optional per-call setup runs outside the timed region (an in-place op's fresh input),
and ``sync`` waits for an asynchronous device (CUDA) before the clock is read.

A call much shorter than the timer's resolution and the loop's own overhead is
measured badly on its own, so with ``target_s`` a sample repeats the call until it
lasts about that long and records the time per call.

Each variant gets its raw samples and three summaries; which one a caller reads is its
own decision, stated where it reads it: the median (robust to a few disturbed rounds),
the spread (interquartile range over the median: how far to trust the median) and the
minimum (the least disturbed round: on a shared machine other processes can only add
time to a sample, never take it away).

This module imports nothing of actlab, so that every layer (``actlab.torch`` as well as
``actlab.analysis`` and the lab) can use it.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Timing", "interleaved", "spread"]

K = TypeVar("K", bound=Hashable)

#: A block: a function that puts the process in some setting (a thread count), and the
#: keys timed under it. See :func:`interleaved`.
Block = tuple[Callable[[], Any] | None, Sequence[Any]]


def spread(samples: Sequence[float]) -> float:
    """The interquartile range over the median; nan with fewer than 4 samples (the
    quartiles of three numbers say nothing about the spread).

    Example:
        >>> spread([5.0, 1.0, 3.0, 2.0, 4.0])  # quartiles 1.5 and 4.5, median 3
        1.0
    """
    if len(samples) < 4:
        return math.nan
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return (q3 - q1) / statistics.median(samples)


@dataclass(frozen=True)
class Timing:
    """One variant's samples: seconds per call, one sample per round, in round order.

    ``inner`` is how many calls each sample timed (the sample is their mean).
    """

    samples: tuple[float, ...]
    inner: int = 1

    @property
    def median(self) -> float:
        """The median sample; nan without samples."""
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def spread(self) -> float:
        """Interquartile range over the median (:func:`spread`)."""
        return spread(self.samples)

    @property
    def min(self) -> float:
        """The fastest sample; nan without samples."""
        return min(self.samples) if self.samples else math.nan


def interleaved(
    fns: Mapping[K, Callable[[], Any]],
    rounds: int,
    *,
    warmup: int = 1,
    setup: Mapping[K, Callable[[], Any]] | None = None,
    sync: Callable[[], Any] | None = None,
    target_s: float = 0.0,
    max_inner: int = 1,
    prime: bool = False,
    blocks: Sequence[Block] | None = None,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[K, Timing]:
    """Time zero-argument callables interleaved: ``rounds`` rounds of one sample each.

    Args:
        fns: the variants, by key.
        rounds: timed rounds; every variant gets one sample per round.
        warmup: untimed rounds first (setup and sync included, as in a timed round).
        setup: per key, what runs before each of its calls, untimed.
        sync: run before the clock starts and after the last call of a sample (e.g.
            ``torch.cuda.synchronize``), so that an asynchronous device's work is
            inside the sample.
        target_s: when positive, one more call of every variant after the warm-up sets
            how many calls make a sample: enough to last about ``target_s``, at least 1
            and at most ``max_inner``. A sample is then the mean time per call.
        max_inner: the most calls per sample.
        prime: where a sample is a single call, an untimed call goes first, so that the
            state the previous variant left (a large buffer handed back to the operating
            system, to be faulted in again on the next large allocation) is not charged
            to this one; a sample of several calls dilutes it anyway.
        blocks: ``(enter, keys)`` pairs that partition ``fns``: each round times every
            block's keys after one untimed ``enter()`` (switching, say, the thread count,
            which is too slow to do per call), the blocks in turn forwards and backwards
            on alternate rounds and each block's keys shuffled. Default: one block, no
            ``enter``.
        seed: seeds the order of every round, so runs repeat it.
        clock: the timer (seconds).

    Returns:
        Per key its :class:`Timing`, in the order of ``fns``.
    """
    setup = setup or {}
    wait = sync or (lambda: None)
    groups: list[Block] = list(blocks) if blocks is not None else [(None, list(fns))]
    named = [k for _, keys in groups for k in keys]
    if len(named) != len(set(named)) or set(named) != set(fns):
        raise ValueError("blocks must name every key of fns exactly once")

    def sample(k: K, n: int) -> float:
        f, before = fns[k], setup.get(k)
        if before is None:
            wait()
            t0 = clock()
            for _ in range(n):
                f()
            wait()
            return (clock() - t0) / n
        total = 0.0
        for _ in range(n):  # the setup between calls stays outside the clock
            before()
            wait()
            t0 = clock()
            f()
            wait()
            total += clock() - t0
        return total / n

    def each_block(r: int) -> list[Block]:
        return groups if r % 2 == 0 else groups[::-1]

    for r in range(warmup):
        for enter, keys in each_block(r):
            if enter is not None:
                enter()
            for k in keys:
                if k in setup:
                    setup[k]()
                fns[k]()
                wait()
    inner: dict[K, int] = dict.fromkeys(fns, 1)
    if target_s > 0:
        for enter, keys in groups:
            if enter is not None:
                enter()
            for k in keys:
                dt = sample(k, 1)
                inner[k] = max(1, min(max_inner, round(target_s / max(dt, 1e-9))))
    times: dict[K, list[float]] = {k: [] for k in fns}
    rng = random.Random(seed)
    for r in range(rounds):
        for enter, keys in each_block(r):
            if enter is not None:
                enter()
            for k in rng.sample(list(keys), len(keys)):
                if prime and inner[k] == 1:
                    if k in setup:
                        setup[k]()
                    fns[k]()
                    wait()
                times[k].append(sample(k, inner[k]))
    return {k: Timing(tuple(times[k]), inner[k]) for k in fns}
