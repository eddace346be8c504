"""Atomic zarr writes refuse undescribed stores; checked reads name the problem."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from quadsgd.storage import StoreError, open_store, write_zarr_atomic


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
