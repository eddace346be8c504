"""quadsgd: one-pass SGD in two-layer networks with quadratic activation (teacher-student).

Conventions are those of ``PHYSICS.md`` (summarised in the README): inputs ``x ~ N(0, I_N)``,
teacher ``y = (1/p*) sum_r nu_r^2`` with ``T = I``, student ``yhat = (1/p) sum_k lambda_k^2``,
loss ``(y - yhat)^2 / 2``, time ``alpha = samples / N``; overlaps ``Q = W W^T / N`` (p x p)
and ``M = W W*^T / N`` (p x p*).

Submodules are imported lazily so that ``import quadsgd`` stays cheap (numba and xarray are
only loaded by the modules that need them).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "theory",
    "init",
    "ode",
    "sgd",
    "escape",
    "implicit_bias",
    "landscape",
    "empirical",
    "storage",
    "sweep",
    "cluster",
    "cli",
    "plots",
)

__all__ = [*_SUBMODULES, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
