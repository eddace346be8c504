"""Tiny beyond-the-paper stores shared by the tests of tests/beyond/ (built once per session)."""

from __future__ import annotations

import pytest
import xarray as xr


@pytest.fixture(scope="session")
def escape_law_store() -> xr.Dataset:
    from quadsgd.beyond.escape_law import escape_law_dataset

    return escape_law_dataset([(2, 1, 0.12)], N=[2000, 20000], seeds=12, alpha_max=80, bins=6)


@pytest.fixture(scope="session")
def eta_opt_sgd_store() -> xr.Dataset:
    from quadsgd.beyond.eta_opt_sgd import eta_opt_sgd_dataset

    return eta_opt_sgd_dataset([(2, 1, 0.12)], [2000], seeds=3, start=(0.7, 1.2, 3), refine_points=1,
                               refine_rounds=0, alpha_max=60)


@pytest.fixture(scope="session")
def phase_store() -> xr.Dataset:
    from quadsgd.beyond.phase_diagram import phase_diagram_dataset

    opt = xr.DataArray([[0.11]], dims=("p", "pstar"), coords={"p": [2], "pstar": [1]})
    return phase_diagram_dataset([1, 2, 4], [1, 2], eta_over_p=(0.02, 0.6, 30), N=1000, seeds=1, alpha_max=3000,
                                 eta_opt_over_p=opt)


@pytest.fixture(scope="session")
def noise_store() -> xr.Dataset:
    from quadsgd.beyond.noise import noise_dataset

    return noise_dataset(1, 1, N=20000, noise=[0.0, 0.05], eta_over_p=[0.1], seeds=2, alpha_max=150, alpha_points=40)


@pytest.fixture(scope="session")
def narrow_store() -> xr.Dataset:
    from quadsgd.beyond.narrow import narrow_dataset

    return narrow_dataset([(1, 2), (2, 3)], N=1000, seeds=1, eta_over_p=(0.02, 0.12, 3), alpha_max=20000)
