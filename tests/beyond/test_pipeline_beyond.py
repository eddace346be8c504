"""The beyond-the-paper rules end to end: config/test.yaml with ``beyond.enabled`` switched on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from quadsgd.beyond.narrow import narrow_dataset
from quadsgd.cli import BEYOND_REQUIRED
from quadsgd.storage import open_store

pytestmark = pytest.mark.pipeline

PARTS = ("escape_law", "eta_opt_sgd", "phase_diagram", "noise", "narrow")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, copy_workflow, snakemake, test_config) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("beyond"))
    cfg = {**test_config, "beyond": {**test_config["beyond"], "enabled": True}}
    (workdir / "config" / "beyond.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(workdir, "--cores", "2", "--configfile", "config/beyond.yaml")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return workdir


def test_every_store_and_figure_is_made_and_described(finished: Path):
    for part in PARTS:
        ds = open_store(finished / "results" / "beyond" / f"{part}.zarr", required=BEYOND_REQUIRED[part])
        for name in ds.variables:
            assert {"long_name", "units"} <= set(ds[name].attrs), (part, name)
        assert "config" in ds.attrs
        for ext in ("png", "pdf"):
            assert (finished / "results" / "figures" / f"beyond_{part}.{ext}").stat().st_size > 0


def test_escape_law_runs_at_the_sweeps_eta_opt(finished: Path, test_config):
    summary = open_store(finished / "results" / "summary.zarr")
    law = open_store(finished / "results" / "beyond" / "escape_law.zarr")
    sgd_opt = open_store(finished / "results" / "beyond" / "eta_opt_sgd.zarr")
    for p, s in test_config["beyond"]["escape_law"]["cases"]:
        eta_opt = float(summary["eta_opt_over_p"].sel(p=p, pstar=s))
        assert float(law["eta_over_p"].sel(p=p, pstar=s)) == eta_opt
        assert float(sgd_opt["eta_opt_ode_over_p"].sel(p=p, pstar=s)) == eta_opt
        assert list(law["N"].values) == test_config["beyond"]["escape_law"]["N"]


def test_narrow_store_is_the_library_call(finished: Path, test_config):
    cfg = test_config["beyond"]["narrow"]
    stored = open_store(finished / "results" / "beyond" / "narrow.zarr").load()
    direct = narrow_dataset([tuple(c) for c in cfg["cases"]], N=cfg["N"], seeds=cfg["seeds"],
                            eta_over_p=(cfg["eta_over_p"]["min"], cfg["eta_over_p"]["max"], cfg["eta_over_p"]["num"]),
                            alpha_max=cfg["alpha_max"])
    np.testing.assert_array_equal(stored["risk_end"].values, direct["risk_end"].values)


def test_summary_prints_a_section_per_store(finished: Path):
    out = subprocess.run([sys.executable, "-m", "quadsgd.cli", "summary", str(finished / "results")],
                         capture_output=True, text=True, check=True).stdout
    for heading in ("Escape law", "eta_opt from finite-N SGD", "Finite-eta phase diagram", "Label noise",
                    "Narrow students"):
        assert heading in out


def test_report_holds_the_beyond_figures_with_captions(finished: Path, snakemake):
    res = snakemake(finished, "--configfile", "config/beyond.yaml", "--report", "report.html")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = (finished / "report.html").read_text(errors="replace")
    for heading in ("Beyond the paper", "Finite-N escape law", "eta_opt from finite-N SGD", "Finite-eta phase diagram",
                    "Label noise", "Narrow students p &lt; p*"):
        assert heading in text, heading
