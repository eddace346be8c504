"""workflow/scripts/empirical.py and plot_empirical.py: the empirical job writes both stores
(with the summary, on a Dask client), and the plot job draws them from the stores alone."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from quadsgd import empirical as em
from quadsgd.storage import open_store

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"


def _load(name: str):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(SCRIPTS))  # the scripts import _job from their folder, as in Snakemake
    try:
        spec = importlib.util.spec_from_file_location(f"workflow_{name}", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def test_empirical_job_then_plot_job(tmp_path, snakemake_stub, monkeypatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    cfg = {"enabled": True, "d": [4, 5], "mstar": [1, 2], "alphas": [1.0, 2.5], "seeds": 2, "method": "flow",
           "flow_cases": [[4, 1, "gaussian"], [4, 4, "equal"]]}
    stores = {"recovery": str(tmp_path / "empirical.zarr"), "flow": str(tmp_path / "flow.zarr")}
    job = snakemake_stub(params={"empirical": cfg}, outputs=stores, threads=1,
                         config={"dask": {"kind": "local", "scheduler_address": None, "processes": False}})
    _load("empirical").main(job)
    rec = open_store(stores["recovery"]).load()
    case = rec.sel(d=5, mstar=2)
    np.testing.assert_array_equal(case["n"], [5, 12])
    np.testing.assert_allclose(case["p_recover"], case["recovered"].mean("seed"))
    assert '"empirical"' in rec.attrs["config"] and rec.attrs["method"] == "flow"
    seq = em.recovery_sweep(5, 2, [1.0, 2.5], [0, 1])  # the job's numbers are the library's
    np.testing.assert_array_equal(case["rel_error"], seq["rel_error"])
    flow = open_store(stores["flow"]).load()
    assert bool(flow["computed"].sel(d=4, mstar=4, teacher="equal"))

    figures = {k: str(tmp_path / f"{k}.{k.rsplit('_', 1)[1]}")
               for k in ("recovery_png", "recovery_pdf", "flow_png", "flow_pdf")}
    plot = snakemake_stub(inputs=stores, outputs=figures)
    plot_module = _load("plot_empirical")
    assert not hasattr(plot_module, "empirical")  # the plot job does not recompute anything
    plot_module.main(plot)
    for path in figures.values():
        assert Path(path).stat().st_size > 0
