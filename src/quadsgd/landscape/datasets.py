"""The landscape stores: Hessian eigenvalue counts and degrees of freedom on a size grid.

Both datasets carry the closed forms beside the numerical measurements, so figures and checks
read them from the store (docs/conventions.md section 8). Every variable and coordinate has
``long_name`` and ``units`` (:data:`LANDSCAPE_ATTRS`, with the shared names of
:data:`quadsgd.schema.VARIABLE_ATTRS`); ``-1`` marks entries that are not applicable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from quadsgd import _validate, rng, schema
from quadsgd.landscape import _args
from quadsgd.landscape.counts import formula_counts
from quadsgd.landscape.dof import (
    manifold_dimension,
    orbit_dimension,
    wtw_degrees_of_freedom,
    wtw_jacobian_rank,
)
from quadsgd.landscape.hessian import DEFAULT_RTOL, SIGNS, structured_spectrum, zero_error_null_split
from quadsgd.landscape.points import POINTS, critical_point, point_applicable, zero_error

__all__ = ["LANDSCAPE_ATTRS", "degrees_of_freedom_dataset", "hessian_counts_dataset"]

_NA = "-1: not applicable"

#: ``long_name``/``units`` (and notes) of every name the landscape stores define.
LANDSCAPE_ATTRS: dict[str, dict[str, str]] = {
    "point": {"long_name": "critical point of the population risk", "units": "1"},
    "sign": {
        "long_name": "eigenvalue class (null_tangent + null_nontangent = null, at zero error only)",
        "units": "1",
    },
    "count_numeric": {
        "long_name": "number of Hessian eigenvalues (numerical)",
        "units": "1",
        "description": (
            "Counts from the exact structured spectrum of the population-risk Hessian at a seeded "
            "critical point; null means |lambda| <= rtol max|lambda| (rtol: dataset attribute)."
        ),
        "fill_value_meaning": (
            f"{_NA} (point does not exist for these sizes, or tangent split requested away from "
            "zero error); also N > numeric_max_N (not computed)"
        ),
    },
    "count_formula": {
        "long_name": "number of Hessian eigenvalues (closed form)",
        "units": "1",
        "description": "Closed-form counts in (p, pstar, N), see quadsgd.landscape.formula_counts.",
        "fill_value_meaning": (
            f"{_NA} (point does not exist for these sizes, or tangent split requested away from "
            "zero error)"
        ),
    },
    "wtw_dof": {
        "long_name": "degrees of freedom of W^T W (closed form: pN - p(p-1)/2 for p <= N, N(N+1)/2 for p > N)",
        "units": "1",
    },
    "wtw_dof_bound": {
        "long_name": "N(N+1)/2, dimension of the symmetric N x N matrices (bound on the degrees of freedom)",
        "units": "1",
    },
    "wtw_jacobian_rank": {
        "long_name": "rank of the Jacobian of W -> W^T W at a random Gaussian W (numerical)",
        "units": "1",
        "fill_value_meaning": f"{_NA}: p N > numeric_max_pN (not computed)",
    },
    "fibre_dimension": {
        "long_name": "dimension of a generic fibre of W -> W^T W, pN - degrees of freedom (closed form)",
        "units": "1",
    },
    "manifold_dimension": {
        "long_name": "dimension of the zero-error manifold, p p* - p*(p*+1)/2 (closed form)",
        "units": "1",
        "fill_value_meaning": f"{_NA}: p < pstar or pstar > N (no zero-error point)",
    },
    "orbit_dimension": {
        "long_name": "dimension of the orbit {O W : O in O(p)} at a seeded zero-error point (numerical)",
        "units": "1",
        "fill_value_meaning": f"{_NA}: no zero-error point, or p N > numeric_max_pN (not computed)",
    },
}


def _grid(name: str, values: ArrayLike) -> list[int]:
    return [_validate.positive_int(name, v) for v in np.atleast_1d(np.asarray(values, dtype=object)).tolist()]


def _size_coords(ps: list[int], pss: list[int], Ns: list[int]) -> dict[str, np.ndarray]:
    return {
        "p": np.array(ps, dtype=np.int64),
        "pstar": np.array(pss, dtype=np.int64),
        "N": np.array(Ns, dtype=np.int64),
    }


def _finish(ds: xr.Dataset) -> xr.Dataset:
    schema.annotate(ds, LANDSCAPE_ATTRS)
    missing = schema.missing_attrs(ds)
    if missing:  # a new name without its table entry: fail here rather than at write time
        raise RuntimeError(f"landscape store variables without long_name/units: {missing}")
    return ds


def hessian_counts_dataset(
    p_values: ArrayLike,
    pstar_values: ArrayLike,
    N_values: ArrayLike,
    *,
    seed: int = 0,
    numeric_max_N: int = 100_000,
    rtol: float = DEFAULT_RTOL,
) -> xr.Dataset:
    """Hessian eigenvalue counts at the critical points, numerical and closed-form.

    Parameters
    ----------
    p_values, pstar_values, N_values : array_like of int
        Grid of student widths, teacher widths and input dimensions.
    seed : int
        Seed of :mod:`quadsgd.rng`; the point for ``(point, p, pstar, N)`` is
        ``critical_point(point, p, pstar, N, seed=seed)`` (teacher stream keyed by
        ``(pstar, N)``, student stream by ``(p, pstar, N)``), so values do not depend on which
        other grid values are requested.
    numeric_max_N : int
        Numerical counts (structured spectrum) are computed only for ``N <= numeric_max_N``.
    rtol : float
        Null threshold of :func:`quadsgd.landscape.eigen_counts`.

    Returns
    -------
    xarray.Dataset
        Dims ``point`` (:data:`POINTS`), ``sign`` (:data:`SIGNS`), ``p``, ``pstar``, ``N``, all
        coordinates (``ds.sel(point="plateau", p=4, pstar=2, N=10)``).
        ``count_numeric`` and ``count_formula`` (int64) hold eigenvalue counts; the fill value
        ``-1`` marks entries that are not applicable (point does not exist for these sizes, e.g.
        zero error for ``p < pstar`` or the plateau for ``p + pstar > N``; the tangent split for
        points other than zero error) and, for ``count_numeric`` only, ``N > numeric_max_N``.
    """
    ps = _grid("p_values", p_values)
    pss = _grid("pstar_values", pstar_values)
    Ns = _grid("N_values", N_values)
    numeric_max_N = _validate.positive_int("numeric_max_N", numeric_max_N)
    rtol = _args.rtol(rtol)
    seed = _args.seed(seed)
    shape = (len(POINTS), len(SIGNS), len(ps), len(pss), len(Ns))
    numeric = np.full(shape, -1, dtype=np.int64)
    formula = np.full(shape, -1, dtype=np.int64)
    for ip, point in enumerate(POINTS):
        for i, p in enumerate(ps):
            for j, pstar in enumerate(pss):
                for k, N in enumerate(Ns):
                    if not point_applicable(point, p, pstar, N):
                        continue
                    for name, value in formula_counts(point, p, pstar, N).items():
                        formula[ip, SIGNS.index(name), i, j, k] = value
                    if N > numeric_max_N:
                        continue
                    W, Wstar = critical_point(point, p, pstar, N, seed=seed)
                    numeric[ip, :3, i, j, k] = structured_spectrum(W, Wstar).counts(rtol)
                    if point == "zero_error":
                        numeric[ip, 3:, i, j, k] = zero_error_null_split(W, Wstar, rtol=rtol)
    dims = ("point", "sign", "p", "pstar", "N")
    ds = xr.Dataset(
        {"count_numeric": (dims, numeric), "count_formula": (dims, formula)},
        coords={"point": list(POINTS), "sign": list(SIGNS), **_size_coords(ps, pss, Ns)},
        attrs={
            "description": (
                "Hessian eigenvalue counts at critical points of the population risk "
                "(docs/conventions.md section 8)"
            ),
            "seed": seed,
            "rtol": rtol,
            "numeric_max_N": numeric_max_N,
        },
    )
    return _finish(ds)


def _dof_p_values(Ns: list[int]) -> list[int]:
    # Past N, to show where the degrees of freedom saturate at N(N+1)/2.
    n = max(Ns)
    return list(range(1, n + n // 2 + 3))


def degrees_of_freedom_dataset(
    p_values: ArrayLike | None,
    pstar_values: ArrayLike,
    N_values: ArrayLike,
    *,
    seed: int = 0,
    numeric_max_pN: int = 600,
) -> xr.Dataset:
    """Degrees of freedom of ``W^T W`` and the zero-error manifold dimension, closed form and
    numerical.

    Parameters
    ----------
    p_values : array_like of int, or None
        Student widths. ``None``: ``1, 2, ..., n + n // 2 + 2`` with ``n = max(N_values)``, past
        ``N`` so that the saturation at ``N(N+1)/2`` shows.
    pstar_values, N_values : array_like of int
        Teacher widths and input dimensions.
    seed : int
        Seed of :mod:`quadsgd.rng`. The Jacobian rank is measured at a Gaussian ``W`` drawn from
        the stream ``(seed, LANDSCAPE_STUDENT, p, 0, N)`` (``pstar = 0``: no teacher), the orbit
        dimension at ``zero_error(p, pstar, N, seed=seed)``.
    numeric_max_pN : int
        The numerical ranks are computed only where ``p N <= numeric_max_pN``.

    Returns
    -------
    xarray.Dataset
        Coordinates ``p``, ``pstar``, ``N``. Closed forms: ``wtw_dof (p, N)``,
        ``wtw_dof_bound (N)`` = ``N(N+1)/2``, ``fibre_dimension (p, N)`` = ``pN - wtw_dof``,
        ``manifold_dimension (p, pstar, N)``. Numerical: ``wtw_jacobian_rank (p, N)``,
        ``orbit_dimension (p, pstar, N)``. All int64, ``-1`` where not applicable or not
        computed.
    """
    Ns = _grid("N_values", N_values)
    pss = _grid("pstar_values", pstar_values)
    ps = _dof_p_values(Ns) if p_values is None else _grid("p_values", p_values)
    numeric_max_pN = _validate.positive_int("numeric_max_pN", numeric_max_pN)
    seed = _args.seed(seed)

    def table(dims: tuple[int, ...], fn: Callable[..., int | None], *axes: list[int]) -> np.ndarray:
        out = np.full(dims, -1, dtype=np.int64)
        for idx in np.ndindex(*dims):
            value = fn(*(axis[i] for axis, i in zip(axes, idx, strict=True)))
            if value is not None:
                out[idx] = value
        return out

    def jacobian_rank(p: int, N: int) -> int | None:
        if p * N > numeric_max_pN:
            return None
        W = rng.stream(seed, rng.Purpose.LANDSCAPE_GENERIC, p, N).standard_normal((p, N))
        return wtw_jacobian_rank(W)

    def manifold(p: int, pstar: int, N: int) -> int | None:
        return manifold_dimension(p, pstar, N) if point_applicable("zero_error", p, pstar, N) else None

    def orbit(p: int, pstar: int, N: int) -> int | None:
        if not point_applicable("zero_error", p, pstar, N) or p * N > numeric_max_pN:
            return None
        return orbit_dimension(zero_error(p, pstar, N, seed=seed)[0])

    pN = (len(ps), len(Ns))
    psN = (len(ps), len(pss), len(Ns))
    ds = xr.Dataset(
        {
            "wtw_dof": (("p", "N"), table(pN, wtw_degrees_of_freedom, ps, Ns)),
            "wtw_dof_bound": (("N",), np.array([N * (N + 1) // 2 for N in Ns], dtype=np.int64)),
            "wtw_jacobian_rank": (("p", "N"), table(pN, jacobian_rank, ps, Ns)),
            "fibre_dimension": (
                ("p", "N"),
                table(pN, lambda p, N: manifold_dimension(p, min(p, N), N), ps, Ns),
            ),
            "manifold_dimension": (("p", "pstar", "N"), table(psN, manifold, ps, pss, Ns)),
            "orbit_dimension": (("p", "pstar", "N"), table(psN, orbit, ps, pss, Ns)),
        },
        coords=_size_coords(ps, pss, Ns),
        attrs={
            "description": (
                "Degrees of freedom of W^T W and dimension of the zero-error manifold, closed form "
                "and numerical (docs/conventions.md section 8.4)"
            ),
            "seed": seed,
            "numeric_max_pN": numeric_max_pN,
        },
    )
    return _finish(ds)
