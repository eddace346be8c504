"""``quadsgd summary``: the table from a summary store, and clear errors for missing or corrupted ones."""

from __future__ import annotations

from pathlib import Path

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


# --- damaged summary stores: exit 2 and one line naming the store and the variable -------------


@pytest.fixture(scope="module")
def summary_store(tmp_path_factory, direct_scan):
    path = tmp_path_factory.mktemp("cli") / "summary.zarr"
    write_zarr_atomic(_summary(direct_scan), path)
    return path


def _copy(summary_store, tmp_path):
    import shutil

    return shutil.copytree(summary_store, tmp_path / "summary.zarr")


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize("variable", ["eta_opt", "eta_opt_exponent", "n_diverged", "p"])
def test_a_missing_chunk_exits_2_naming_the_variable(summary_store, tmp_path, capsys, variable):
    store = _copy(summary_store, tmp_path)
    next(p for p in (store / variable).iterdir() if not p.name.startswith(".")).unlink()
    assert cli_main(["summary", str(tmp_path)]) == 2
    line = _one_error_line(capsys)
    assert f"summary.zarr: variable '{variable}':" in line and "chunks missing" in line, line


def test_a_truncated_chunk_exits_2_naming_the_variable(summary_store, tmp_path, capsys):
    store = _copy(summary_store, tmp_path)
    chunk = next(p for p in (store / "alpha_escape_opt").iterdir() if not p.name.startswith("."))
    chunk.write_bytes(chunk.read_bytes()[:7])
    assert cli_main(["summary", str(store)]) == 2
    line = _one_error_line(capsys)
    assert "summary.zarr: variable 'alpha_escape_opt': unreadable or corrupted chunk" in line, line


def test_a_summary_store_of_another_version_exits_2(summary_store, tmp_path, capsys):
    import xarray as xr

    other = open_store(summary_store).drop_vars(["eta_opt_prefactor", "n_censored"])
    other.attrs["quadsgd_version"] = "0.0.1"
    other.to_zarr(tmp_path / "summary.zarr", mode="w", consolidated=True, zarr_format=2)  # no format version
    assert cli_main(["summary", str(tmp_path)]) == 2
    assert "store has no format version (written by quadsgd 0.0.1)" in _one_error_line(capsys)
    write_zarr_atomic(other, tmp_path / "summary.zarr")  # this format, but a variable the table needs is gone
    assert cli_main(["summary", str(tmp_path)]) == 2
    assert "missing variables ['n_censored', 'eta_opt_prefactor']" in _one_error_line(capsys)
    assert isinstance(other, xr.Dataset)


def test_check_config_names_file_and_line_of_a_duplicate_key(tmp_path, capsys):
    main = cli_main
    root = Path(__file__).resolve().parents[1]
    bad = tmp_path / "dup.yaml"
    bad.write_text("grid: {p: [1, 2], pstar: [1]}\ngrid: {N: 10}\n")
    schema = str(root / "workflow" / "schemas" / "config.schema.yaml")
    assert main(["check-config", "--schema", schema, str(root / "config" / "config.yaml"), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}:2" in err[0] and "given twice" in err[0]
    assert main(["check-config", "--schema", schema, str(root / "config" / "config.yaml"),
                 str(root / "config" / "test.yaml")]) == 0


def test_summary_of_a_run_directory_reads_its_results(tmp_path, capsys, summary_store):
    """``snakemake --directory run2`` writes run2/results/: ``quadsgd summary run2`` reads it
    (a results directory or the store itself still work as before)."""
    import shutil

    shutil.copytree(summary_store, tmp_path / "run2" / "results" / "summary.zarr")
    assert cli_main(["summary", str(tmp_path / "run2")]) == 0
    table = capsys.readouterr().out
    assert "eta_opt" in table
    assert cli_main(["summary", str(tmp_path / "run2" / "results")]) == 0
    assert capsys.readouterr().out == table
    assert cli_main(["summary", str(tmp_path / "elsewhere")]) == 2
    assert "no such store" in capsys.readouterr().err


def test_summary_flags_narrow_rows_whose_runs_diverged(tmp_path, capsys, summary_store):
    """A learning rate beyond the narrow student's end-state edge diverges: its row says so
    instead of printing bare NaN."""
    import shutil

    from quadsgd.beyond.narrow import narrow_dataset

    shutil.copytree(summary_store, tmp_path / "summary.zarr")
    narrow = narrow_dataset([(1, 2)], N=1000, seeds=2, eta_over_p=(0.02, 0.6, 2), alpha_max=300)
    assert (narrow["status"].sel(eta_over_p=0.6) == 3).all() and (narrow["status"].sel(eta_over_p=0.02) != 3).all()
    write_zarr_atomic(narrow, tmp_path / "beyond" / "narrow.zarr")
    assert cli_main(["summary", str(tmp_path)]) == 0
    rows = {line.split()[3]: line for line in capsys.readouterr().out.splitlines()
            if line.split()[:2] == ["1", "2"] and len(line.split()) > 5}
    assert "diverged: 2/2 seeds" in rows["0.6"] and "diverged" not in rows["0.02"]


def test_check_config_reads_a_partial_file_over_the_defaults(tmp_path, capsys):
    """The Snakefile reads config/config.yaml first: a file naming only what differs is checked
    for what it says (its own key named), not refused for the sections it leaves out."""
    root = Path(__file__).resolve().parents[1]
    schema = str(root / "workflow" / "schemas" / "config.schema.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sgd: {N: [2]}\n")
    assert cli_main(["check-config", "--schema", schema, str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml: sgd.N: 2: must be at least p + pstar" in err[0]
    good = tmp_path / "good.yaml"
    good.write_text("sgd: {seeds: 20}\n")
    assert cli_main(["check-config", "--schema", schema, str(good)]) == 0
    assert cli_main(["check-config", "--schema", schema, str(root / "config" / "config.yaml"), str(good)]) == 0


# --- beyond-the-paper rows (issue 19) -------------------------------------------------------------


def test_summary_prints_beyond_rows_and_refuses_a_damaged_beyond_store(tmp_path, capsys, summary_store):
    import shutil

    from quadsgd.beyond.narrow import narrow_dataset
    from quadsgd.beyond.phase_diagram import phase_diagram_dataset
    from quadsgd.stationary import best_fit_risk

    shutil.copytree(summary_store, tmp_path / "summary.zarr")
    narrow = narrow_dataset([(1, 2)], N=1000, seeds=1, eta_over_p=(0.02, 0.05, 2), alpha_max=3000)
    write_zarr_atomic(narrow, tmp_path / "beyond" / "narrow.zarr")
    phase = phase_diagram_dataset([1], [1], eta_over_p=(0.05, 0.5, 4), N=1000, seeds=1, alpha_max=1000)
    write_zarr_atomic(phase, tmp_path / "beyond" / "phase_diagram.zarr")
    assert cli_main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Narrow students p < p*" in out and "Finite-eta phase diagram" in out
    head = ["1", "2", f"{best_fit_risk(1, 2):.5f}", "0.02"]
    row = next(line.split() for line in out.splitlines() if line.split()[:4] == head)
    assert float(row[4]) == pytest.approx(float(narrow["risk_end"].sel(p=1, pstar=2, eta_over_p=0.02).mean()), rel=1e-4)
    (tmp_path / "beyond" / "narrow.zarr" / ".zmetadata").write_text("{ not json")
    assert cli_main(["summary", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "narrow.zarr" in err
