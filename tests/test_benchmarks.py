"""The benchmark suite runs at its smallest sizes and prints a table of finite numbers.

No timing is asserted: timings on a shared machine say nothing about correctness. The Dask
scaling workload starts two local clusters (~15 s), so it is checked under the slow marker.
"""

import math
import re

import pytest

from benchmarks.__main__ import main

COLUMNS = ["workload", "baseline", "ours", "ratio", "floor", "ratio to floor", "target", "met"]


def _table_rows(text):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| workload "))
    assert [c.strip() for c in lines[start].strip("|").split("|")] == COLUMNS
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _number(cell):
    match = re.fullmatch(r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)(?: (?:s|ms|us|ns|B|KiB|MiB|GiB))?", cell)
    assert match, f"not a number with a unit: {cell!r}"
    return float(match.group(1))


def _check(capsys, only, expected):
    assert main(["--smoke", "--only", *only]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) == expected
    for row in rows:
        for cell in row[1:6]:
            value = _number(cell)
            assert math.isfinite(value) and value > 0, row
        assert row[7] in ("yes", "no")


@pytest.mark.timeout(120)
def test_smoke_run_prints_finite_table(capsys):
    _check(capsys, ["ode", "sgd_weights", "sgd_gram", "memory"], expected=6)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_smoke_scaling_prints_finite_row(capsys):
    _check(capsys, ["scaling"], expected=1)
