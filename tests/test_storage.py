"""Atomic zarr writes refuse undescribed stores; checked reads name the problem."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from quadsgd import storage
from quadsgd.storage import STORE_FORMAT, STORE_FORMAT_ATTR, StoreError, open_store, recover_stores, write_zarr_atomic


def _ds():
    return xr.Dataset({"a": ("x", np.arange(3.0), {"long_name": "a", "units": "1"})},
                      coords={"x": ("x", [1, 2, 3], {"long_name": "x", "units": "m"})})


def test_round_trip(tmp_path):
    target = write_zarr_atomic(_ds(), tmp_path / "s.zarr")
    xr.testing.assert_identical(open_store(target, required=("a",)).load(), _ds())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_store_without_long_name_or_units_is_refused(tmp_path):
    ds = _ds()
    del ds["a"].attrs["units"]
    with pytest.raises(ValueError, match=r"without long_name or units: \['a'\]"):
        write_zarr_atomic(ds, tmp_path / "s.zarr")
    ds = _ds()
    ds["x"].attrs.clear()
    with pytest.raises(ValueError, match=r"\['x'\]"):
        write_zarr_atomic(ds, tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_open_store_errors(tmp_path):
    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "none.zarr")
    target = write_zarr_atomic(_ds(), tmp_path / "s.zarr")
    with pytest.raises(StoreError, match=r"missing variables \['b'\]"):
        open_store(target, required=("b",))


# --- damaged stores: every variable checked, one line naming the store and the variable ---------


def _chunked():
    ds = _ds().assign(b=(("x", "y"), np.arange(12.0).reshape(3, 4), {"long_name": "b", "units": "1"}),
                      c=((), 1.5, {"long_name": "c", "units": "1"}))
    return ds.chunk({"x": 1})


@pytest.mark.parametrize(("variable", "chunk"), [("b", "1.0"), ("a", "2"), ("c", "0"), ("x", "0")])
def test_a_missing_chunk_is_detected_naming_the_variable(tmp_path, variable, chunk):
    target = write_zarr_atomic(_chunked(), tmp_path / "s.zarr")
    (target / variable / chunk).unlink()
    with pytest.raises(StoreError, match=rf"s.zarr: variable '{variable}': 1 of \d+ chunks missing"):
        open_store(target)  # whatever is required: every variable and coordinate is checked


def test_an_all_fill_chunk_is_written_so_it_is_not_mistaken_for_a_missing_one(tmp_path):
    ds = _chunked()
    ds["b"][:] = np.nan  # zarr's fill value: skipped by write_empty_chunks=False
    xr.testing.assert_identical(open_store(write_zarr_atomic(ds, tmp_path / "s.zarr")), ds.load())


def test_a_truncated_chunk_is_detected_naming_the_variable(tmp_path):
    target = write_zarr_atomic(_chunked(), tmp_path / "s.zarr")
    chunk = target / "b" / "2.0"
    chunk.write_bytes(chunk.read_bytes()[:7])
    with pytest.raises(StoreError, match=r"s.zarr: variable 'b': unreadable or corrupted chunk") as info:
        open_store(target, required=("a",))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("version", [None, 0, 99])
def test_a_store_of_another_format_version_is_refused(tmp_path, version):
    target = write_zarr_atomic(_ds(), tmp_path / "s.zarr")
    for name in (".zattrs", ".zmetadata"):  # as another version of quadsgd would have written it
        text = (target / name).read_text()
        new = "" if version is None else f'"{STORE_FORMAT_ATTR}": {version}'
        text = text.replace(f'"{STORE_FORMAT_ATTR}": {STORE_FORMAT}', new)
        (target / name).write_text(text.replace("{,", "{").replace(",\n}", "\n}").replace(", }", "}"))
    with pytest.raises(StoreError, match=r"s.zarr: store has (no format version|format version \d+) .* this quadsgd "
                                         rf"reads format {STORE_FORMAT}; delete the store and rerun"):
        open_store(target)


def test_open_store_names_a_path_that_is_no_store(tmp_path):
    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(StoreError, match="file.zarr: not a zarr store"):
        open_store(tmp_path / "file.zarr")
    (tmp_path / "loop.zarr").symlink_to("loop.zarr")
    with pytest.raises(StoreError, match=r"loop.zarr: OSError: \[Errno 40\] Too many levels of symbolic links"):
        open_store(tmp_path / "loop.zarr")


# --- interrupted writers: SIGKILL inside the write or the replace window ------------------------

_KILL_CHILD = r"""
import os, signal, sys
import numpy as np, xarray as xr
from quadsgd import storage
where, target, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
ds = xr.Dataset({"a": ("x", np.full(3, value), {"long_name": "a", "units": "1"})},
                coords={"x": ("x", [1, 2, 3], {"long_name": "x", "units": "m"})})
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if where == "write":  # part of the temporary store is on disk
    real = xr.Dataset.to_zarr
    def to_zarr(self, store, *args, **kwargs):
        real(self, store, *args, **kwargs)
        die()
    xr.Dataset.to_zarr = to_zarr
elif where == "replace":  # two-rename fallback: the old store moved aside, the new one not yet in place
    storage._exchange = lambda a, b: False
    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        if ".old-" in str(dst):
            die()
    os.replace = replace
elif where == "exchange":  # new store in place, the previous one at the temporary's name
    storage._remove = lambda path: die()
storage.write_zarr_atomic(ds, target)
"""


def _killed_writer(target, where: str, value: float) -> None:
    import signal
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _KILL_CHILD, where, str(target), str(value)], capture_output=True,
                         text=True)
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]


def _temporaries(directory):
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def _with_a(value: float):
    ds = _ds()
    ds["a"][:] = value
    return ds


def test_kill_inside_the_replace_window_is_recovered(tmp_path):
    target = write_zarr_atomic(_with_a(1.0), tmp_path / "s.zarr")
    _killed_writer(target, "replace", 2.0)
    assert not target.exists() and len(_temporaries(tmp_path)) == 2  # the old code's loss: only .old- and .tmp-
    actions = recover_stores(tmp_path)
    assert any("restored" in a for a in actions), actions
    xr.testing.assert_identical(open_store(target), _with_a(1.0))
    assert not _temporaries(tmp_path)


def test_the_next_write_of_a_store_recovers_it_too(tmp_path):
    target = write_zarr_atomic(_with_a(1.0), tmp_path / "s.zarr")
    _killed_writer(target, "replace", 2.0)
    write_zarr_atomic(_with_a(3.0), target)
    xr.testing.assert_identical(open_store(target), _with_a(3.0))
    assert not _temporaries(tmp_path)


@pytest.mark.skipif(storage._RENAMEAT2 is None, reason="no renameat2 on this system")
def test_kill_after_the_exchange_keeps_the_new_store(tmp_path):
    target = write_zarr_atomic(_with_a(1.0), tmp_path / "s.zarr")
    _killed_writer(target, "exchange", 2.0)
    xr.testing.assert_identical(open_store(target), _with_a(2.0))  # never missing: swapped in one call
    assert len(_temporaries(tmp_path)) == 1
    recover_stores(tmp_path)
    assert not _temporaries(tmp_path)


def test_kill_during_a_write_leaves_no_temporary_after_recovery(tmp_path):
    target = write_zarr_atomic(_with_a(1.0), tmp_path / "sub" / "s.zarr")
    _killed_writer(target, "write", 2.0)
    assert _temporaries(target.parent)
    recover_stores(tmp_path)  # walks subdirectories
    assert not _temporaries(target.parent)
    xr.testing.assert_identical(open_store(target), _with_a(1.0))


def test_temporaries_of_live_writers_are_left_alone(tmp_path):
    import os

    live = tmp_path / f".s.zarr.tmp-{storage._HOST}-{os.getpid()}-0123abcd"
    live.mkdir()
    other_host = tmp_path / ".s.zarr.old-elsewhere.example-1-0123abcd"
    other_host.mkdir()
    assert recover_stores(tmp_path) == []
    assert live.exists() and other_host.exists()


@pytest.mark.parametrize("kind", ["under-a-file", "symlink-loop"])
def test_a_store_that_cannot_be_created_names_the_store_and_the_os_error(tmp_path, kind):
    import errno

    if kind == "under-a-file":
        (tmp_path / "refine").write_text("a file where a directory belongs")
        code = errno.ENOTDIR
    else:
        (tmp_path / "refine").symlink_to("refine")
        code = errno.ELOOP
    target = tmp_path / "refine" / "p1_pstar1.zarr"
    with pytest.raises(OSError, match=r"could not write the zarr store") as info:
        write_zarr_atomic(_ds(), target)
    assert info.value.errno == code and info.value.filename == str(target)
