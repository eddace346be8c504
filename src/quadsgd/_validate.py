"""One validator per kind of argument, with one behaviour everywhere in the package.

Every public entry point checks its arguments here, so the same value is accepted or refused
the same way whichever function receives it, and the ``ValueError`` names the argument and the
rule it breaks. Integers: Python and NumPy integers, and floats with a whole value (``2.0``),
are accepted; ``bool``, NaN, infinities and fractional values (``0.5``) are refused, never
truncated.
"""

from __future__ import annotations

import math
import numbers
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Seeds are stored as int64 coordinates, so they stay below 2**63.
SEED_LIMIT = 2**63


def integer(name: str, value: object, *, minimum: int | None = None) -> int:
    """``value`` as an ``int`` if it is a whole number ``>= minimum``; ``ValueError`` otherwise."""
    rule = "an integer" if minimum is None else f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError(f"{name} must be {rule}; got {value!r}")
        out = int(as_float)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    return out


def positive_int(name: str, value: object) -> int:
    """``value`` as an ``int >= 1`` (see :func:`integer`)."""
    return integer(name, value, minimum=1)


def real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = True,
) -> float:
    """``value`` as a finite ``float`` within the given bounds (open by default)."""
    lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
    hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
    rule = f"a finite number{'' if not (lo or hi) else f' with {lo}{name}{hi}'}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    x = float(value)
    bad = not math.isfinite(x)
    if low is not None:
        bad |= x <= low if low_open else x < low
    if high is not None:
        bad |= x >= high if high_open else x > high
    if bad:
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    return x


def positive_real(name: str, value: object) -> float:
    """``value`` as a finite ``float > 0``."""
    return real(name, value, low=0.0)


def fraction(name: str, value: object) -> float:
    """``value`` as a finite ``float`` in the open interval (0, 1)."""
    return real(name, value, low=0.0, high=1.0)


def _real_array(name: str, value: ArrayLike, rule: str) -> NDArray[np.float64]:
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":  # bool, strings, objects: not numbers of a physical quantity
        shown = repr(value) if raw.ndim == 0 else repr(raw.ravel()[:4].tolist())
        raise ValueError(f"{name} must be {rule}; got {shown} of type {type(value).__name__}")
    return raw.astype(np.float64)


def positive_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    """``value`` as a float array whose entries are all finite and positive (any shape)."""
    arr = _real_array(name, value, "finite and positive numbers")
    ok = np.isfinite(arr) & (arr > 0)
    if not np.all(ok):
        raise ValueError(f"{name} must be finite and positive; got {arr[~ok][:4].tolist()}")
    return arr


def nonnegative_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    """``value`` as a float array whose entries are all finite and ``>= 0`` (any shape)."""
    arr = _real_array(name, value, "finite numbers >= 0")
    ok = np.isfinite(arr) & (arr >= 0)
    if not np.all(ok):
        raise ValueError(f"{name} must be finite and >= 0; got {arr[~ok][:4].tolist()}")
    return arr


def eta_and_noise(eta: ArrayLike, noise: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Learning rates ``eta`` (> 0) and label-noise variances ``noise`` (>= 0) as float arrays
    broadcast to their common shape; ``ValueError`` naming the argument otherwise."""
    e = positive_array("eta", eta)
    nz = nonnegative_array("noise", noise)
    try:
        shape = np.broadcast_shapes(e.shape, nz.shape)
    except ValueError:
        raise ValueError(f"eta and noise must broadcast together; got shapes {e.shape} and {nz.shape}") from None
    return np.broadcast_to(e, shape), np.broadcast_to(nz, shape)


def seeds(name: str, value: object) -> NDArray[np.int64]:
    """``value`` (scalar or array of any shape) as seeds in ``[0, 2**63)``; whole floats accepted."""
    arr = np.asarray(value, dtype=object)
    flat = [integer(name, v, minimum=0) for v in arr.ravel()]
    for v in flat:
        if v >= SEED_LIMIT:
            raise ValueError(f"{name} must be an integer in [0, 2**63); got {v!r}")
    return np.array(flat, dtype=np.int64).reshape(arr.shape)


def seed_coordinate(name: str, value: object) -> NDArray[np.int64]:
    """Seeds (see :func:`seeds`) that label runs along a ``seed`` dimension: a scalar or a
    non-empty 1-D list without repeats (a repeated seed would be a repeated coordinate, which
    ``.sel(seed=...)`` cannot tell apart). Returned 1-D."""
    arr = np.atleast_1d(seeds(name, value))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list; got shape {arr.shape}")
    values, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        first = int(np.argmax(counts > 1))
        raise ValueError(f"{name} must not repeat (each seed labels one run); got {int(values[first])} "
                         f"{int(counts[first])} times")
    return arr


@overload
def widths(p: object, pstar: object, N: None = None) -> tuple[int, int, None]: ...


@overload
def widths(p: object, pstar: object, N: int) -> tuple[int, int, int]: ...


@overload
def widths(p: object, pstar: object, N: object | None = None) -> tuple[int, int, int | None]: ...


def widths(p: object, pstar: object, N: object | None = None) -> tuple[int, int, int | None]:
    """Student width ``p``, teacher width ``pstar`` and (optionally) input dimension ``N``.

    ``N`` must hold both sets of orthogonal rows: ``N >= p + pstar``.
    """
    p_, s_ = positive_int("p", p), positive_int("pstar", pstar)
    if N is None:
        return p_, s_, None
    N_ = integer("N", N)
    if N_ < p_ + s_:
        raise ValueError(f"N must be at least p + pstar = {p_ + s_}; got N={N_}")
    return p_, s_, N_


def alpha_grid(name: str, value: ArrayLike) -> NDArray[np.float64]:
    """A recording grid: 1-D, at least 2 points, finite, starting at 0 and strictly increasing;
    returned as a writable copy (a read-only array, e.g. a store's coordinate, would make the
    compiled kernels compile a second specialization)."""
    grid = np.array(value, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"{name} must be a 1-D grid of at least 2 points; got shape {grid.shape}")
    if not np.all(np.isfinite(grid)):
        raise ValueError(f"{name} must be finite; got {grid[~np.isfinite(grid)][:4].tolist()}")
    if grid[0] != 0.0 or np.any(np.diff(grid) <= 0):
        raise ValueError(f"{name} must start at 0 and increase strictly (no repeated points)")
    return grid
