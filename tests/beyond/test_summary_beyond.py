"""``quadsgd summary`` on results directories whose beyond stores are missing, misplaced or of a
foreign layout: one line saying so, never a traceback (docs/beyond.md, docs/faults.md)."""

from __future__ import annotations

import os
import shutil

import pytest

from quadsgd.cli import main as cli_main
from quadsgd.storage import write_zarr_atomic


@pytest.fixture(scope="module")
def summary_store(tmp_path_factory, direct_scan):
    from tests.test_cli import _summary

    path = tmp_path_factory.mktemp("beyond_cli") / "summary.zarr"
    write_zarr_atomic(_summary(direct_scan), path)
    return path


@pytest.fixture
def results(tmp_path, summary_store, narrow_store):
    shutil.copytree(summary_store, tmp_path / "summary.zarr")
    write_zarr_atomic(narrow_store, tmp_path / "beyond" / "narrow.zarr")
    return tmp_path


def test_missing_beyond_stores_are_named_in_one_line(results, capsys):
    assert cli_main(["summary", str(results)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if "missing stores" in line]
    assert len(notes) == 1
    for name in ("escape_law", "eta_opt_sgd", "phase_diagram", "noise"):
        assert f"{name}.zarr" in notes[0] and f"beyond_{name}" in notes[0]
    assert "narrow.zarr" not in notes[0] and "Narrow students" in out


def test_no_note_without_a_beyond_directory(tmp_path, summary_store, capsys):
    shutil.copytree(summary_store, tmp_path / "summary.zarr")
    assert cli_main(["summary", str(tmp_path)]) == 0
    assert "missing stores" not in capsys.readouterr().out


def test_a_dangling_link_in_place_of_a_store_is_an_error(results, capsys):
    os.symlink(results / "nowhere.zarr", results / "beyond" / "noise.zarr")
    assert cli_main(["summary", str(results)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "noise.zarr" in captured.err and "no such store" in captured.err


def test_a_store_of_a_foreign_layout_is_one_line(results, noise_store, capsys):
    # All variables present, but the dynamics are not labelled sgd / ode.
    foreign = noise_store.assign_coords(dynamics=("dynamics", ["a", "b"], noise_store["dynamics"].attrs))
    write_zarr_atomic(foreign, results / "beyond" / "noise.zarr")
    assert cli_main(["summary", str(results)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "noise.zarr: not a beyond noise store of this layout" in captured.err


def test_a_store_without_its_coordinates_is_one_line(results, noise_store, capsys):
    write_zarr_atomic(noise_store.drop_vars(["p", "pstar", "N"]), results / "beyond" / "noise.zarr")
    assert cli_main(["summary", str(results)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "noise.zarr: missing variables ['p', 'pstar', 'N']" in captured.err
