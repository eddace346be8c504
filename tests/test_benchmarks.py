"""The benchmark suite runs at its smallest sizes and prints a table of finite numbers.

No timing is asserted: timings on a shared machine say nothing about correctness, and a cost
obtained as the difference of two medians (fixed costs removed) may even come out negative when
other processes compete for the cores. What is asserted: every row's raw medians (over warmed
repeats) are finite and positive, and its costs are finite. The Dask scaling workload starts two
local clusters (~15 s), so it is checked under the slow marker.
"""

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from benchmarks import project
from benchmarks.__main__ import main

REPO = Path(__file__).resolve().parents[1]

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
    if cell == "nan":
        return math.nan
    match = re.fullmatch(r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)(?: (?:s|ms|us|ns|B|KiB|MiB|GiB))?", cell)
    assert match, f"not a number with a unit: {cell!r}"
    return float(match.group(1))


def _check(capsys, tmp_path, only, expected):
    out = tmp_path / "rows.json"
    assert main(["--smoke", "--only", *only, "--json", str(out)]) == 0
    table = _table_rows(capsys.readouterr().out)
    rows = json.loads(out.read_text())
    assert len(table) == len(rows) == expected
    for cells, row in zip(table, rows, strict=True):
        assert cells[0] == row["workload"]
        for i in (1, 2, 4):  # baseline, ours, floor as printed
            assert math.isfinite(_number(cells[i])), cells
        for i in (3, 5):  # ratios: numbers (NaN only where a difference of medians was not positive)
            _number(cells[i])
        assert cells[7] in ("yes", "no")
        for name in ("baseline", "ours", "floor", "to_floor"):
            assert math.isfinite(row[name]), (row["workload"], name)
        assert row["medians"], f"{row['workload']}: no medians recorded"
        for name, value in row["medians"].items():
            assert math.isfinite(value) and value > 0, (row["workload"], name, value)
    return rows


@pytest.mark.timeout(600)
def test_smoke_run_prints_finite_table_and_projects_a_config(capsys, tmp_path):
    """The table, and ``python -m benchmarks.project`` on its rows (it found no SGD rows once
    their names changed and crashed): finite costs for config/paper.yaml, the ODE term in
    proportion to alpha_max (steps after the escape sit on the stability bound)."""
    rows = _check(capsys, tmp_path, ["ode", "sgd_weights", "sgd_gram", "memory"], expected=6)
    costs = project.unit_costs(rows)
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    out = project.project(costs, cfg)
    for key in ("ode_core_hours", "sgd_core_hours", "members", "jobs", "store_bytes"):
        assert math.isfinite(out[key]) and out[key] > 0, key
    cfg["grid"]["alpha_max"] *= 2
    assert project.project(costs, cfg)["ode_core_hours"] == pytest.approx(2 * out["ode_core_hours"])
    with pytest.raises(SystemExit, match="sgd_gram"):
        project.unit_costs([r for r in rows if not r["workload"].startswith("SGD gram")])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_scaling_prints_finite_row(capsys, tmp_path):
    _check(capsys, tmp_path, ["scaling"], expected=1)


def test_paper_row_reads_the_timing_file_the_paper_run_wrote(capsys, tmp_path, monkeypatch):
    """``--only paper`` reports a finished paper run from its timing file (no run here: the paper
    config takes many minutes). No timing is asserted: the row repeats what the file says."""
    timing = {"wall_s": 1500.0, "peak_rss_bytes": 3.0 * 2**30, "results_disk_bytes": 2.0 * 2**20, "jobs": 42.0,
              "cores": 2.0, "load_average_at_end": 2.0}
    (tmp_path / "paper_timing.json").write_text(json.dumps(timing))
    monkeypatch.setenv("QUADSGD_PAPER_DIR", str(tmp_path))
    out = tmp_path / "rows.json"
    assert main(["--only", "paper", "--json", str(out)]) == 0
    [row] = json.loads(out.read_text())
    assert row["workload"].startswith("Paper run: snakemake --cores 2 --configfile config/laptop.yaml")
    assert row["ours"] == timing["wall_s"] and row["baseline"] == 30 * 60 and row["met"] is True
    assert row["details"]["peak memory (process tree)"] == "3072 MiB"
    assert row["details"]["results/ on disk"] == "2 MiB"
    assert "| Paper run:" in capsys.readouterr().out
