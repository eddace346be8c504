"""Shared pieces of the cluster tests: the reference escape-time scan and its split over workers."""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from quadsgd.grids import log_alpha_grid
from quadsgd.sweep.drivers import ode_scan

#: The scan of the cluster tests: p=2, p*=1, two learning rates (eta/p; eta = 0.2, 0.3), four
#: seeds, N=10_000.
P, PSTAR, ETAS, SEEDS, N, ALPHA_MAX = 2, 1, [0.1, 0.15], list(range(4)), 10_000, 200.0


def _alpha(alpha_max: float):
    return log_alpha_grid(alpha_max, num=64)


def submit_eta(client, eta: float, seeds=SEEDS, alpha_max: float = ALPHA_MAX, **submit_kwargs):
    """Submit the scan restricted to one learning rate as one task.

    The task is ``quadsgd.sweep.drivers.ode_scan`` itself (learning rates as ``eta / p``), which
    every worker can import; a helper defined under ``tests/`` would be pickled by reference and
    fail to unpickle on a worker started outside the repository's ``sys.path``.
    """
    return client.submit(
        ode_scan, P, PSTAR, eta_over_p=[eta], seeds=list(seeds), N=N, alpha=_alpha(alpha_max), progress=False,
        pure=False, **submit_kwargs
    )


def local_scan(etas=ETAS, seeds=SEEDS, alpha_max: float = ALPHA_MAX) -> xr.Dataset:
    """The whole scan in this process, in one call."""
    return ode_scan(P, PSTAR, eta_over_p=etas, seeds=seeds, N=N, alpha=_alpha(alpha_max), progress=False)


def assert_bit_identical(got: xr.Dataset, want: xr.Dataset) -> None:
    """Same variables, coordinates, attributes, and every float bit for bit (NaN == NaN)."""
    assert set(got.data_vars) == set(want.data_vars)
    for name in list(want.data_vars) + list(want.coords):
        a, b = got[name].values, want[name].values
        assert got[name].dims == want[name].dims, name
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        if a.dtype.kind == "f":
            # Compare the bit patterns: stricter than ==, and NaN-safe.
            assert np.array_equal(a.view(np.uint64 if a.itemsize == 8 else np.uint32),
                                  b.view(np.uint64 if b.itemsize == 8 else np.uint32)), name
        else:
            assert np.array_equal(a, b), name
    assert got.identical(want)


def slow_scan(eta: float, seeds, delay: float, alpha_max: float = ALPHA_MAX) -> xr.Dataset:
    """The one-eta scan after ``delay`` seconds of sleep: a task that is reliably still running.

    The scan itself takes milliseconds, too short to kill a worker in the middle of one.
    Workers must be able to import ``tests.cluster._common`` (the repository root on their
    ``PYTHONPATH``).
    """
    time.sleep(delay)
    return ode_scan(P, PSTAR, eta_over_p=[eta], seeds=list(seeds), N=N, alpha=_alpha(alpha_max), progress=False)
