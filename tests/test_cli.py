"""``quadsgd summary``: the table from a summary store, and clear errors for missing or corrupted ones."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd.cli import main as cli_main
from quadsgd.storage import StoreError, open_store, write_zarr_atomic


def _summary(direct_scan):
    from quadsgd.eta_opt import EtaOptSearch, search_eta_opt
    from quadsgd.grids import log_alpha_grid
    from quadsgd.sweep import aggregate, drivers

    alpha, etas, seeds = log_alpha_grid(1e3, 16), np.geomspace(0.05, 1.0, 6), np.arange(2)
    parts, optima = [], {}
    for p in (1, 2):
        scan = direct_scan(p, 1, etas, seeds, 1000, alpha)[list(drivers.SCAN_VARIABLES)]
        scan = scan.drop_vars(["k", "l", "r"], errors="ignore")
        scan = scan.assign_coords(eta=("eta_over_p", p * etas)).assign_attrs(p=p, pstar=1, N=1000, escape_fraction=0.5)
        result = search_eta_opt(scan, lambda e, p=p: direct_scan(p, 1, e, seeds, 1000, alpha),
                                EtaOptSearch(max_grow=0, refine_rounds=0))
        parts.append(scan)
        optima[(p, 1)] = aggregate.optimum_dataset(result, p=p, pstar=1, N=1000)
    return aggregate.summarize(aggregate.combine_scans(parts), optima)


def test_cli_errors_on_missing_and_corrupted_stores(tmp_path, capsys, direct_scan):
    assert cli_main(["summary", str(tmp_path)]) == 2
    assert "no such store" in capsys.readouterr().err
    write_zarr_atomic(_summary(direct_scan), tmp_path / "summary.zarr")
    assert cli_main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "eta_opt" in out and "a = " in out
    meta = tmp_path / "summary.zarr" / ".zmetadata"
    meta.write_text("{ not json")
    assert cli_main(["summary", str(tmp_path)]) == 2
    assert "corrupted" in capsys.readouterr().err
    with pytest.raises(StoreError):
        open_store(tmp_path / "summary.zarr")
