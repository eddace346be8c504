"""Benchmarks of the hot paths, each against a baseline and a floor measured in the same run.

Run ``python -m benchmarks`` (a few minutes on 2 cores), ``python -m benchmarks --quick``
(about a minute) or ``--smoke`` (the smallest sizes, for the tests). Every workload module
exposes ``SIZES`` and ``run(size: str) -> list[Row]`` with size ``"full"``, ``"quick"`` or
``"smoke"``; the timings
in a row are medians over warmed repeats (each timed function is called once untimed first, so
compilation and first-touch costs are not timed), because other processes share the machine and
single measurements are noisy. ``Row.medians`` keeps the raw medians a row is derived from.
``docs/performance.md`` records the table and what bounds each number.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Row", "median_time", "fmt", "format_table"]


@dataclass
class Row:
    """One line of the table: ``ratio = baseline / ours`` and ``to_floor = ours / floor``,
    both dimensionless, so a higher ratio and a ``to_floor`` near 1 are good. ``unit`` says what
    the three costs measure; ``details`` carries workload-specific numbers for the second table;
    ``medians`` the raw medians (seconds or bytes) the costs are derived from. A cost obtained as
    a difference of two medians (fixed costs removed) can come out negative on a loaded machine;
    the medians themselves are always positive."""

    workload: str
    unit: str
    baseline: float
    ours: float
    floor: float
    target: str = ""
    met: bool | None = None
    details: dict[str, str] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.met = None if self.met is None else bool(self.met)

    @property
    def ratio(self) -> float:
        return self.baseline / self.ours if self.ours > 0 else math.nan

    @property
    def to_floor(self) -> float:
        return self.ours / self.floor if self.floor > 0 else math.nan


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (seconds), after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt(value: float, unit: str) -> str:
    """A cost with an SI prefix: seconds as s/ms/us/ns, bytes as GiB/MiB/KiB, else 4 digits."""
    if not math.isfinite(value):
        return "nan"
    if unit == "s":
        for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= scale or name == "ns":
                return f"{value / scale:.3g} {name}"
    if unit == "B":
        for scale, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B")):
            if abs(value) >= scale or name == "B":
                return f"{value / scale:.3g} {name}"
    return f"{value:.4g}"


def format_table(header: list[str], lines: list[list[str]]) -> str:
    """A Markdown table (pipes aligned), so the output pastes into the docs as it is."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
           "| " + " | ".join("-" * w for w in widths) + " |"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    return "\n".join(out)
