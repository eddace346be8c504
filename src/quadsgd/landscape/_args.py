"""Argument checks shared by the landscape modules, built on :mod:`quadsgd._validate`."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate

Array = NDArray[np.float64]


def sizes(p: object, pstar: object, N: object) -> tuple[int, int, int]:
    """Student width, teacher width and input dimension as positive ints.

    No relation between them is imposed here (``p > N`` is a legitimate zero-error point);
    each constructor states which sizes its point needs.
    """
    p_, pstar_, _ = _validate.widths(p, pstar)
    return p_, pstar_, _validate.positive_int("N", N)


def weights(W: ArrayLike, Wstar: ArrayLike) -> tuple[Array, Array]:
    """Student ``(p, N)`` and teacher ``(pstar, N)`` weights as finite float matrices."""
    W = np.asarray(W, dtype=float)
    Wstar = np.asarray(Wstar, dtype=float)
    if W.ndim != 2 or W.shape[0] == 0 or W.shape[1] == 0:
        raise ValueError(f"W must be a non-empty (p, N) matrix, got shape {W.shape}")
    if Wstar.ndim != 2 or Wstar.shape[0] == 0:
        raise ValueError(f"Wstar must be a non-empty (pstar, N) matrix, got shape {Wstar.shape}")
    if Wstar.shape[1] != W.shape[1]:
        raise ValueError(
            f"Wstar must have the same input dimension N as W: W has shape {W.shape}, "
            f"Wstar has shape {Wstar.shape}"
        )
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(Wstar))):
        raise ValueError("W and Wstar must be finite")
    return W, Wstar


def student(W: ArrayLike) -> Array:
    """A single non-empty ``(p, N)`` weight matrix."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W must be a non-empty (p, N) matrix, got shape {W.shape}")
    return W


def rtol(value: object) -> float:
    """Relative null threshold in the open interval (0, 1)."""
    return _validate.fraction("rtol", value)


def seed(value: object) -> int:
    """A seed of :mod:`quadsgd.rng` (an int in ``[0, 2**63)``)."""
    return int(_validate.seeds("seed", value))
