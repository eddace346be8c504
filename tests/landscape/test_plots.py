"""quadsgd.plots.landscape: the figures draw what the stores hold, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from quadsgd import landscape as L
from quadsgd import rng
from quadsgd.plots import landscape as PL
from quadsgd.storage import write_zarr_atomic


def _labelled(fig: Figure) -> None:
    axes = fig.get_axes()
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None


@pytest.fixture
def no_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random draws and landscape computations fail while a figure is drawn."""

    def refuse(*args, **kwargs):
        raise AssertionError("a plot function computed instead of reading the store")

    monkeypatch.setattr(rng, "stream", refuse)
    monkeypatch.setattr(np.random, "default_rng", refuse)
    for name in L.__all__:
        if callable(getattr(L, name)) and not isinstance(getattr(L, name), type):
            monkeypatch.setattr(L, name, refuse)


def _stored(ds: xr.Dataset, path) -> xr.Dataset:
    write_zarr_atomic(ds, path)
    return xr.open_zarr(path).load()


def test_plot_eigen_counts_reads_the_store(tmp_path, no_computation) -> None:
    ds = _stored(_HESS, tmp_path / "hessian.zarr")
    fig = PL.plot_eigen_counts(ds, pstar=2, N=12)
    assert isinstance(fig, Figure)
    assert len(fig.get_axes()) == 5
    _labelled(fig)
    # The tabula-rasa panel's negative line is the stored closed form pN.
    line = fig.get_axes()[0].get_lines()[0]
    np.testing.assert_array_equal(
        line.get_ydata(), ds["count_formula"].sel(point="tabula_rasa", sign="negative", pstar=2, N=12).values
    )
    # The ratio panel's line is negative/null of the stored closed-form counts.
    sl = ds["count_formula"].sel(point="plateau", pstar=2, N=12)
    ratio = fig.get_axes()[4].get_lines()[0].get_ydata()
    np.testing.assert_allclose(ratio, sl.sel(sign="negative").values / sl.sel(sign="null").values)


def test_plot_degrees_of_freedom_reads_the_store(tmp_path, no_computation) -> None:
    ds = _stored(_DOF, tmp_path / "dof.zarr")
    fig = PL.plot_degrees_of_freedom(ds, N=4)
    assert isinstance(fig, Figure)
    _labelled(fig)
    ax_dof, ax_man = fig.get_axes()
    lines = ax_dof.get_lines()
    np.testing.assert_array_equal(lines[0].get_ydata(), ds["wtw_dof"].sel(N=4).values)
    np.testing.assert_array_equal(lines[1].get_ydata(), ds["wtw_jacobian_rank"].sel(N=4).values)
    # the fibre curve, one manifold curve and one marker set per stored pstar, the line p = N
    assert len(ax_man.get_lines()) == 1 + 2 * ds.sizes["pstar"] + 1
    for i, pstar in enumerate(ds["pstar"].values):
        dim = ds["manifold_dimension"].sel(pstar=pstar, N=4).values
        orbit = ds["orbit_dimension"].sel(pstar=pstar, N=4).values
        np.testing.assert_array_equal(ax_man.get_lines()[1 + 2 * i].get_ydata(), dim[dim >= 0])
        np.testing.assert_array_equal(ax_man.get_lines()[2 + 2 * i].get_ydata(), orbit[orbit >= 0])
    np.testing.assert_array_equal(ax_man.get_lines()[0].get_ydata(), ds["fibre_dimension"].sel(N=4).values)


# Built once at import, before the fixture forbids computation.
_HESS = L.hessian_counts_dataset([1, 2, 3, 4], [2], [12], seed=0)
_DOF = L.degrees_of_freedom_dataset([1, 2, 3, 4, 5, 6, 7, 8], [1, 2], [4], seed=0)
