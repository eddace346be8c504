"""Closed-form Hessian eigenvalues and their counts at the critical points, in ``(p, pstar, N)``.

Convention and table of counts: docs/conventions.md section 8.3; derivations (block
decomposition on the span of the student and teacher rows and its complement):
docs/landscape.md, "Closed-form spectra and counts". Eigenvalues are in the project's
convention; the counts do not depend on it.
"""

from __future__ import annotations

import math

import numpy as np

from quadsgd.landscape import _args
from quadsgd.landscape.hessian import SignCounts, Spectrum
from quadsgd.landscape.points import point_applicable

__all__ = [
    "aligned_counts",
    "formula_counts",
    "formula_spectrum",
    "plateau_counts",
    "plateau_null_ratio",
    "tabula_rasa_counts",
    "zero_error_counts",
]


def tabula_rasa_counts(p: int, pstar: int, N: int) -> SignCounts:
    """Counts at ``W = 0``: all ``p N`` eigenvalues negative.

    ``H = (2/(pN)) I_p (x) G`` with ``G = -2 P*/pstar - I``: eigenvalue ``-2 (1 + 2/pstar)/(pN)``
    with multiplicity ``p pstar`` and ``-2/(pN)`` with multiplicity ``p (N - pstar)``.
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    return SignCounts(p * N, 0, 0)


def plateau_counts(p: int, pstar: int, N: int) -> SignCounts:
    """Counts at the plateau (``p + pstar <= N``).

    - negative ``p pstar``: students rotating towards the teacher, eigenvalue ``-4/(p pstar N)``;
    - positive ``p (p+1)/2``: symmetric changes inside the student span (``8 q*/(p^2 N)``,
      and ``4/(pN)`` for the common norm);
    - null ``p (p-1)/2 + p (N - p - pstar)``: rotations inside the student span, and moves out of
      span(students, teacher) where ``K = (2/(pN)) (q* (1 + 2/p) - 1) I = 0``.
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    return SignCounts(p * pstar, p * (p - 1) // 2 + p * (N - p - pstar), p * (p + 1) // 2)


def plateau_null_ratio(p: int, pstar: int, N: int) -> float:
    """Negative / null eigenvalue ratio at the plateau, ``2 pstar / (2N - p - 2 pstar - 1)``.

    Equivalently ``pstar / (N - pstar - (p+1)/2)``: ``~ pstar / N`` with p entering only at
    relative order ``p / N``; it increases with p, up to ``2 pstar / (N - pstar - 1)`` at the
    largest admissible ``p = N - pstar``.
    """
    c = plateau_counts(p, pstar, N)
    return c.negative / c.null if c.null else math.inf


def zero_error_counts(p: int, pstar: int, N: int) -> dict[str, int]:
    """Counts on the zero-error manifold (``pstar <= p``, ``pstar <= N``).

    With ``G = 0``, ``H[dW, dW] = 2 tr(dA^2) + (tr dA)^2`` is positive definite in ``dA``, so the
    null space is the kernel of ``dW -> dA``:

    - positive ``pstar (N - pstar) + pstar (pstar+1)/2``: ``K = 4 W W^T/(pN)^2`` has eigenvalue
      ``4/(p pstar N)`` (multiplicity ``pstar``) on ``R^p (x) S^perp``, and inside the teacher span
      ``dW = C F`` changes ``dA`` through ``sym(U^T C)``, which has rank ``pstar (pstar+1)/2``;
    - negative 0;
    - null ``(p - pstar)(N - pstar) + p pstar - pstar (pstar+1)/2``, of which
      ``null_tangent = p pstar - pstar (pstar+1)/2`` (the manifold dimension: ``dW = Omega W``)
      and ``null_nontangent = (p - pstar)(N - pstar)`` (``dW = U_perp Z``, rows of ``Z``
      orthogonal to the teacher; present only when ``p > pstar``).

    Returns
    -------
    dict
        Keys ``negative, null, positive, null_tangent, null_nontangent``.
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    tangent = p * pstar - pstar * (pstar + 1) // 2
    nontangent = (p - pstar) * (N - pstar)
    return {
        "negative": 0,
        "null": tangent + nontangent,
        "positive": pstar * (N - pstar) + pstar * (pstar + 1) // 2,
        "null_tangent": tangent,
        "null_nontangent": nontangent,
    }


def aligned_counts(p: int, pstar: int, N: int) -> SignCounts:
    """Counts with all students along one teacher unit (``pstar <= N``).

    For ``pstar > 1``: negative ``(p-1)(N-1)``, null ``p + pstar - 2``, positive ``N - pstar + 1``.
    For ``pstar = 1`` the point is a zero-error point and the ``(p-1)(N-1)`` eigenvalue
    ``2 tr D/(pN) = -4 (pstar-1)/(3 pstar p N)`` vanishes: negative 0, null ``(p-1) N``,
    positive ``N`` (as :func:`zero_error_counts` with ``pstar = 1``).

    Families (``a`` the vector of student coefficients, ``f_r`` teacher directions):
    out of the teacher span, ``K`` has ``4/(p pstar N)`` along ``a`` and ``2 tr D/(pN)`` on the
    ``p - 1`` directions orthogonal to ``a``, each with multiplicity ``N - pstar``; along ``f_1``,
    ``12 sigma/(p^2 N)`` along ``a`` and 0 on ``a^perp``; along ``f_r`` (``r >= 2``), 0 along ``a``
    and ``-4 (pstar+2)/(3 pstar p N)`` on ``a^perp``.
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    if pstar == 1:
        return SignCounts(0, (p - 1) * N, N)
    return SignCounts((p - 1) * (N - 1), p + pstar - 2, N - pstar + 1)


def _check_exists(point: str, p: int, pstar: int, N: int) -> None:
    if not point_applicable(point, p, pstar, N):
        raise ValueError(f"point {point!r} does not exist for p={p}, pstar={pstar}, N={N}")


def formula_counts(point: str, p: int, pstar: int, N: int) -> dict[str, int]:
    """Closed-form eigenvalue counts of ``point`` for these sizes.

    Returns
    -------
    dict
        ``negative, null, positive`` for every point, plus ``null_tangent, null_nontangent`` for
        ``zero_error``. ValueError if the point does not exist
        (see :func:`quadsgd.landscape.point_applicable`).
    """
    _check_exists(point, p, pstar, N)
    if point == "zero_error":
        return zero_error_counts(p, pstar, N)
    fn = {"tabula_rasa": tabula_rasa_counts, "plateau": plateau_counts, "aligned": aligned_counts}
    return fn[point](p, pstar, N)._asdict()


def formula_spectrum(point: str, p: int, pstar: int, N: int) -> Spectrum:
    """Closed-form Hessian eigenvalues and multiplicities of ``point``.

    Eigenvalues in units of ``1/(p N)`` (families with multiplicity 0 are dropped; the same
    value may appear twice, e.g. the aligned point at ``pstar = 1``):

    - tabula rasa: ``-2 (1 + 2/pstar)`` x ``p pstar``; ``-2`` x ``p (N - pstar)``.
    - plateau: ``-4/pstar`` x ``p pstar``; ``0`` x ``p (p-1)/2 + p (N - p - pstar)``;
      ``8/(p+2)`` x ``p (p+1)/2 - 1``; ``4`` x 1.
    - zero error: ``0`` x null count of :func:`zero_error_counts`; ``4/pstar`` x
      ``pstar (N - pstar)``; ``8/pstar`` x ``pstar (pstar+1)/2 - 1``; ``4 + 8/pstar`` x 1.
    - aligned: ``-4 (pstar+2)/(3 pstar)`` x ``(p-1)(pstar-1)``; ``-4 (pstar-1)/(3 pstar)`` x
      ``(p-1)(N - pstar)``; ``0`` x ``p + pstar - 2``; ``4/pstar`` x ``N - pstar``;
      ``4 (pstar+2)/pstar`` x 1.

    Returns
    -------
    Spectrum
        Values (already divided by ``p N``) and multiplicities summing to ``p N``.
    """
    _check_exists(point, p, pstar, N)
    p, pstar, N = _args.sizes(p, pstar, N)
    ps = float(pstar)
    families: list[tuple[float, int]]
    if point == "tabula_rasa":
        families = [(-2.0 * (1.0 + 2.0 / ps), p * pstar), (-2.0, p * (N - pstar))]
    elif point == "plateau":
        c = plateau_counts(p, pstar, N)
        families = [
            (-4.0 / ps, c.negative),
            (0.0, c.null),
            (8.0 / (p + 2.0), c.positive - 1),
            (4.0, 1),
        ]
    elif point == "zero_error":
        families = [
            (0.0, zero_error_counts(p, pstar, N)["null"]),
            (4.0 / ps, pstar * (N - pstar)),
            (8.0 / ps, pstar * (pstar + 1) // 2 - 1),
            (4.0 + 8.0 / ps, 1),
        ]
    else:
        families = [
            (-4.0 * (ps + 2.0) / (3.0 * ps), (p - 1) * (pstar - 1)),
            (-4.0 * (ps - 1.0) / (3.0 * ps), (p - 1) * (N - pstar)),
            (0.0, p + pstar - 2),
            (4.0 / ps, N - pstar),
            (4.0 * (ps + 2.0) / ps, 1),
        ]
    kept = [(v / (p * N), m) for v, m in families if m > 0]
    values = np.array([v for v, _ in kept])
    order = np.argsort(values, kind="stable")
    return Spectrum(values[order], np.array([m for _, m in kept], dtype=np.int64)[order])
