"""quadsgd.landscape.datasets: the Hessian-count and degrees-of-freedom stores."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from quadsgd import landscape as L
from quadsgd.schema import missing_attrs
from quadsgd.storage import open_store, write_zarr_atomic


def test_dataset_numeric_equals_formula() -> None:
    ds = L.hessian_counts_dataset([1, 2, 3, 5], [1, 2, 3], [6, 10_000], seed=0)
    assert ds["count_numeric"].dims == ("point", "sign", "p", "pstar", "N")
    assert list(ds["point"].values) == list(L.POINTS) and list(ds["sign"].values) == list(L.SIGNS)
    for name in ("count_numeric", "count_formula"):
        assert ds[name].dtype.kind == "i"
    np.testing.assert_array_equal(ds["count_numeric"].values, ds["count_formula"].values)
    assert int(ds["count_formula"].sel(point="zero_error", sign="null", p=1, pstar=2, N=6)) == -1
    assert int(ds["count_formula"].sel(point="plateau", sign="negative", p=5, pstar=3, N=6)) == -1
    assert int(ds["count_formula"].sel(point="aligned", sign="null_tangent", p=2, pstar=2, N=6)) == -1
    total = ds["count_formula"].sel(point="plateau", sign=["negative", "null", "positive"]).sum("sign")
    assert int(total.sel(p=3, pstar=2, N=10_000)) == 3 * 10_000


def test_dataset_counts_match_dense_eigenvalues() -> None:
    ds = L.hessian_counts_dataset([2, 3], [1, 2], [6], seed=4)
    for point in L.POINTS:
        for p in (2, 3):
            for pstar in (1, 2):
                if not L.point_applicable(point, p, pstar, 6):
                    continue
                W, Wstar = L.critical_point(point, p, pstar, 6, seed=4)
                values = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
                thr = 1e-8 * np.abs(values).max()
                stored = ds["count_numeric"].sel(point=point, p=p, pstar=pstar, N=6)
                assert int(stored.sel(sign="negative")) == int(np.sum(values < -thr))
                assert int(stored.sel(sign="positive")) == int(np.sum(values > thr))


def test_dataset_numeric_max_N_masks() -> None:
    ds = L.hessian_counts_dataset([2], [1], [5, 50], numeric_max_N=10)
    assert np.all(ds["count_numeric"].sel(N=50).values == -1)
    assert int(ds["count_formula"].sel(point="tabula_rasa", sign="negative", p=2, pstar=1, N=50)) == 100


@pytest.fixture(scope="module")
def dof() -> xr.Dataset:
    return L.degrees_of_freedom_dataset(None, [1, 2], [4, 6], seed=0)


def test_stores_describe_every_variable(dof: xr.Dataset, tmp_path) -> None:
    hess = L.hessian_counts_dataset([1, 2], [1], [4], seed=0)
    for ds, name in ((dof, "dof.zarr"), (hess, "hessian.zarr")):
        assert missing_attrs(ds) == []
        for var in ds.variables:
            assert ds[var].attrs["long_name"] and ds[var].attrs["units"] == "1"
        write_zarr_atomic(ds, tmp_path / name)  # refuses undescribed stores
        back = open_store(tmp_path / name)  # checked read: every chunk present and decodable
        assert missing_attrs(back) == []
        xr.testing.assert_identical(back, ds)


def test_dof_store_selectable_and_matches_closed_forms(dof: xr.Dataset) -> None:
    # p runs past max(N) = 6 to show the saturation.
    np.testing.assert_array_equal(dof["p"].values, np.arange(1, 6 + 3 + 3))
    for N in (4, 6):
        for p in dof["p"].values:
            expected = p * N - p * (p - 1) // 2 if p <= N else N * (N + 1) // 2
            assert int(dof["wtw_dof"].sel(p=p, N=N)) == expected
            assert int(dof["wtw_jacobian_rank"].sel(p=p, N=N)) == expected
            assert int(dof["fibre_dimension"].sel(p=p, N=N)) == p * N - expected
            for pstar in (1, 2):
                dim = int(dof["manifold_dimension"].sel(p=p, pstar=pstar, N=N))
                orbit = int(dof["orbit_dimension"].sel(p=p, pstar=pstar, N=N))
                if p < pstar:
                    assert dim == orbit == -1
                else:
                    assert dim == orbit == p * pstar - pstar * (pstar + 1) // 2
        assert int(dof["wtw_dof_bound"].sel(N=N)) == N * (N + 1) // 2


def test_dof_numeric_max_pN_masks() -> None:
    ds = L.degrees_of_freedom_dataset([1, 3, 8], [2], [5], numeric_max_pN=20)
    assert ds["wtw_jacobian_rank"].sel(p=8).item() == -1 and ds["wtw_jacobian_rank"].sel(p=3).item() == 12
    assert ds["orbit_dimension"].sel(p=8).item() == -1 and ds["manifold_dimension"].sel(p=8).item() == 13


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: L.hessian_counts_dataset([2], [0], [5]), "pstar_values"),
        (lambda: L.hessian_counts_dataset([2.5], [1], [5]), "p_values"),
        (lambda: L.hessian_counts_dataset([2], [1], [5], seed=-1), "seed"),
        (lambda: L.hessian_counts_dataset([2], [1], [5], rtol=1.0), "rtol"),
        (lambda: L.degrees_of_freedom_dataset(None, [1], [0]), "N_values"),
        (lambda: L.degrees_of_freedom_dataset([1], [1], [3], numeric_max_pN=0), "numeric_max_pN"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()
