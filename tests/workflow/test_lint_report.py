"""Issue 17, points 4-7, 10, 11: lint, the report, readable logs, quiet console, warm-up, dashboard.

One tiny run (config/test.yaml in a copy of the workflow, with the default profile) is shared by
the module's tests; the report is built from it once.
"""

from __future__ import annotations

import ast
import io
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FIGURES = ["fig1_sgd_vs_ode_p2_pstar1_N200", "fig4_polar_factor_p2_pstar1_N200", "fig2_escape_vs_eta",
           "fig2_eta_opt_vs_p", "fig2_escape_at_eta_opt", "fig3_implicit_bias"]
#: A phrase of each figure's caption and the parameters it must name (config/test.yaml).
CAPTIONS = {
    "fig1_sgd_vs_ode": ["Figure 1: finite-N SGD against the ODE", "p = 2, p* = 1,\nN = 200, eta/p = 0.1"],
    "fig4_polar_factor": ["Figure 4: polar factor", "p = 2, p* = 1,\nN = 200"],
    "fig2_escape_vs_eta": ["Figure 2a: escape time vs learning rate", "p in [1, 2], p* in [1], N = 1000, 2 seeds"],
    "fig2_eta_opt_vs_p": ["Figure 2b: optimal learning rate vs width"],
    "fig2_escape_at_eta_opt": ["Figure 2c: escape time at the optimal learning rate"],
    "fig3_implicit_bias": ["Figure 3: implicit bias", "p = 2, p* = 1, N = 1000, eta/p = 0.1"],
    "summary": ["Summary table", "quadsgd summary results/"],
}

pytestmark = pytest.mark.pipeline  # runs snakemake


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, copy_workflow, snakemake_command):
    """A finished tiny run with the default profile: (workdir, console output)."""
    work = copy_workflow(tmp_path_factory.mktemp("h17") / "wf")
    shutil.copytree(REPO / "profiles", work / "profiles")
    env = dict(os.environ, QUADSGD_CONSOLE_PROGRESS_AFTER="0")  # show job progress even for tiny jobs
    proc = subprocess.run([*snakemake_command, "--cores", "2", "--configfile", "config/test.yaml"], cwd=work,
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def report_html(finished_run, snakemake_command):
    work, _ = finished_run
    proc = subprocess.run([*snakemake_command, "--configfile", "config/test.yaml", "--report", "report.html"],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (work / "report.html").read_text()


def test_lint_passes(snakemake):
    proc = snakemake(REPO, "--lint", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_every_rule_has_the_conda_env():
    env = REPO / "workflow" / "envs" / "quadsgd.yaml"
    text = env.read_text()
    assert "-e ../.." in text and (env.parent / "../..").resolve() == REPO
    assert "conda-forge" in text and "python >=3.11" in text


def test_report_holds_every_figure_and_the_summary_with_captions(report_html):
    for name in FIGURES:
        assert f"{name}.png" in report_html, name
    assert "summary.csv" in report_html
    text = " ".join(report_html.replace("\\n", " ").split())  # captions sit in JSON strings
    for name, phrases in CAPTIONS.items():
        for phrase in phrases:
            assert " ".join(phrase.split()) in text, (name, phrase)
    assert "The quadsgd sweep" in text  # workflow.rst


def test_summary_csv_matches_the_store(finished_run):
    import pandas as pd
    import xarray as xr

    work, _ = finished_run
    table = pd.read_csv(work / "results" / "summary.csv")
    summary = xr.open_zarr(work / "results" / "summary.zarr")
    assert list(table[["p", "pstar"]].itertuples(index=False, name=None)) == [(1, 1), (2, 1)]
    for row in table.itertuples():
        assert row.eta_opt == pytest.approx(float(summary.eta_opt.sel(p=row.p, pstar=row.pstar)), rel=1e-5)
    assert "eta_opt" in (work / "results" / "summary.txt").read_text()


def test_logs_are_text_and_never_empty(finished_run):
    work, _ = finished_run
    logs = sorted((work / "logs").rglob("*.log"))
    assert {p.relative_to(work / "logs").as_posix() for p in logs} >= {
        "warmup.log", "summary_table.log", "summarize.log", "aggregate_sweep.log",
        "simulate_ode/job000.log", "simulate_sgd/p2_pstar1.log", "implicit_bias.log"}
    for path in logs:
        text = path.read_text()
        assert text.strip(), f"{path} is empty"
        assert "\r" not in text, f"{path} holds carriage returns (a progress bar)"
    ode_log = (work / "logs" / "simulate_ode" / "job000.log").read_text()
    assert "ODE p=1 p*=1 part 0: 2/2 tasks done (100%" in ode_log
    # SGD and the ODE from each run's M(0) counted apart: 2 seeds each (config/test.yaml), not 4.
    sgd_log = (work / "logs" / "simulate_sgd" / "p2_pstar1.log").read_text()
    counts = dict(re.findall(r"N=200 (sgd|ode): status counts (\{[^}]*\})", sgd_log))
    assert set(counts) == {"sgd", "ode"}
    assert all(sum(ast.literal_eval(c).values()) == 2 for c in counts.values())


def test_console_is_quiet_and_shows_progress(finished_run):
    _, console = finished_run
    assert "Shell command" not in console
    assert "ODE p=2 p*=1 part 0: 2/2 tasks done (100%" in console  # job progress on the console
    assert "\\x80" not in console and "b'\\x" not in console


def test_warmup_runs_before_the_simulations(finished_run):
    work, console = finished_run
    assert (work / "results" / ".warmup" / "numba_kernels.done").exists()
    assert console.index("Finished jobid") < console.index("localrule simulate_ode")
    assert console.index("(Rule: warmup)") < console.index("(Rule: simulate_ode)")


def test_second_invocation_does_nothing(finished_run, snakemake):
    work, _ = finished_run
    proc = snakemake(work, "-n", "--cores", "2", "--configfile", "config/test.yaml")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr


def test_progress_lines_in_a_log_and_no_dashboard_link_without_bokeh(monkeypatch):
    from quadsgd.sweep import execute

    stream = io.StringIO()  # a log file: not a terminal
    handler = logging.StreamHandler(stream)
    execute.log.addHandler(handler)
    level = execute.log.level
    execute.log.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the level cache
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        assert execute.map_tasks(abs, [(-i,) for i in range(40)], None, desc="demo") == list(range(40))
    finally:
        execute.log.removeHandler(handler)
        execute.log.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 10 <= sum("demo:" in line for line in lines) <= 11  # one line per tenth
    assert lines[-1].startswith("demo: 40/40 tasks done (100%")

    monkeypatch.setitem(sys.modules, "bokeh", None)  # import bokeh -> ImportError
    assert execute.dashboard_note(object()) == "dashboard: pip install 'quadsgd[dashboard]'"
