"""A small sweep shared by the tests of quadsgd.sweep: p in (1, 2), p* = 1, N = 1000, three seeds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from quadsgd.grids import eta_over_p_grid, log_alpha_grid
from quadsgd.sweep import drivers


@pytest.fixture(scope="session")
def small() -> SimpleNamespace:
    """Sizes of the small sweep and ``scan(p, pstar, eta_over_p=etas, **kw)`` running ode_scan on them."""
    ns = SimpleNamespace(N=1000, seeds=np.arange(3), alpha=log_alpha_grid(1e3, 16),
                         etas=eta_over_p_grid(0.05, 1.0, 6))

    def scan(p, pstar, eta_over_p=None, **kw):
        kw.setdefault("progress", False)
        return drivers.ode_scan(p, pstar, eta_over_p=ns.etas if eta_over_p is None else eta_over_p,
                                seeds=ns.seeds, N=ns.N, alpha=ns.alpha, **kw)

    ns.scan = scan
    return ns


@pytest.fixture(scope="session")
def scans(small) -> dict[tuple[int, int], xr.Dataset]:
    """ode_scan of the small sweep's grid for (p, p*) in {(1, 1), (2, 1)}."""
    return {(p, s): small.scan(p, s) for p in (1, 2) for s in (1,)}
