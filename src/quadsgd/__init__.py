"""quadsgd: one-pass SGD in two-layer networks with quadratic activation (teacher-student).

Conventions (docs/conventions.md): inputs ``x ~ N(0, I_N)``, teacher ``y = (1/p*) sum_r nu_r^2``
with ``T = I``, student ``yhat = (1/p) sum_k lambda_k^2``, loss ``(y - yhat)^2 / 2``, time
``alpha = samples / N``; overlaps ``Q = W W^T / N`` (p x p) and ``M = W W*^T / N`` (p x p*).

The flat API below is loaded lazily, so ``import quadsgd`` stays cheap (numba, xarray and dask
are loaded by the modules that need them). Subpackages: :mod:`quadsgd.sweep` (the pipeline's
library side), :mod:`quadsgd.landscape`, :mod:`quadsgd.empirical`, :mod:`quadsgd.plots`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_API = {
    "risk": "theory",
    "ode_rhs": "theory",
    "plateau_norm": "theory",
    "plateau_risk": "theory",
    "escape_rate": "theory",
    "ode_initial": "init",
    "integrate": "ode",
    "simulate": "sgd",
    "escape_alpha": "escape",
    "escape_statistics": "escape",
    "EtaOptSearch": "eta_opt",
    "search_eta_opt": "eta_opt",
    "find_eta_opt": "sweep.drivers",
    "fit_power_law": "fits",
    "Status": "status",
    "closest_solution": "implicit_bias",
    "polar_factor": "implicit_bias",
    "open_store": "storage",
    "write_zarr_atomic": "storage",
    "StoreError": "storage",
}

_SUBMODULES = (
    "theory", "init", "ode", "sgd", "escape", "eta_opt", "fits", "grids", "rng", "status",
    "implicit_bias", "phase", "stationary", "schema", "storage", "provenance", "sweep", "landscape", "empirical",
    "cli", "plots", "beyond",
)

__all__ = sorted([*_API, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
