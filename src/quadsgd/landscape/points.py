"""The critical points of the population risk: seeded constructors and where they exist.

Convention (docs/conventions.md section 8.2). The teacher has orthonormal rows scaled to
``|w*_r|^2 = N`` (so ``T = I_pstar``); students ``W`` have shape ``(p, N)``.

- ``tabula_rasa``: ``W = 0``.
- ``plateau``: students orthonormal directions orthogonal to the teacher, ``|w_k|^2 / N = p/(p+2)``.
- ``zero_error``: ``W = sqrt(p/pstar) U Wstar``, ``U^T U = I_pstar`` (needs ``p >= pstar``).
- ``aligned``: all students along teacher unit 0, ``sum_k |w_k|^2 / N = p (pstar + 2) / (3 pstar)``.

Random draws come from :mod:`quadsgd.rng`: the teacher from the stream
``(seed, LANDSCAPE_TEACHER, pstar, N)`` (so it does not depend on p or on the point), the
student frame, ``U`` or the coefficient direction from ``(seed, LANDSCAPE_STUDENT, p, pstar, N)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from quadsgd import _validate, rng
from quadsgd.landscape import _args
from quadsgd.theory import plateau_norm

__all__ = [
    "POINTS",
    "aligned",
    "critical_point",
    "plateau",
    "point_applicable",
    "tabula_rasa",
    "teacher",
    "zero_error",
]

POINTS: tuple[str, ...] = ("tabula_rasa", "plateau", "zero_error", "aligned")
"""Names of the analysed critical points (the ``point`` dimension of the datasets)."""

Array = NDArray[np.float64]
Pair = tuple[Array, Array]


def _teacher_rows(pstar: int, N: int, seed: object) -> Array:
    # Unit-norm Haar rows of the teacher stream; validated sizes, pstar <= N.
    return rng.haar_rows(rng.stream(seed, rng.Purpose.LANDSCAPE_TEACHER, pstar, N), pstar, N)


def _student_stream(p: int, pstar: int, N: int, seed: object) -> np.random.Generator:
    return rng.stream(seed, rng.Purpose.LANDSCAPE_STUDENT, p, pstar, N)


def teacher(pstar: int, N: int, *, seed: int = 0) -> Array:
    """Random teacher: orthonormal rows scaled to ``|w*_r|^2 = N`` (so ``T = I_pstar``).

    Parameters
    ----------
    pstar, N : int
        Teacher width and input dimension, ``pstar <= N``.
    seed : int
        Seeds the teacher stream ``(seed, LANDSCAPE_TEACHER, pstar, N)``; every constructor of
        this module with the same seed and sizes uses this teacher.

    Returns
    -------
    ndarray, shape (pstar, N)
    """
    pstar, N = _validate.positive_int("pstar", pstar), _validate.positive_int("N", N)
    if pstar > N:
        raise ValueError(f"pstar = {pstar} orthonormal teacher rows need pstar <= N = {N}")
    return math.sqrt(N) * _teacher_rows(pstar, N, seed)


def tabula_rasa(p: int, pstar: int, N: int, *, seed: int = 0) -> Pair:
    """Tabula rasa ``W = 0`` (a maximum: every Hessian eigenvalue is negative).

    Returns
    -------
    W : ndarray, shape (p, N)
        Zeros.
    Wstar : ndarray, shape (pstar, N)
        Teacher from :func:`teacher` with the same seed.
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    return np.zeros((p, N)), teacher(pstar, N, seed=seed)


def plateau(p: int, pstar: int, N: int, *, seed: int = 0) -> Pair:
    """Plateau saddle: orthonormal student directions orthogonal to the teacher, ``|w_k|^2/N = q*``.

    Stationarity: with ``A = (q/p) P_W`` (``P_W`` the projector on the student rows) and
    ``tr D = q - 1``, ``W G = 0`` reads ``2 q / p + q - 1 = 0``, i.e. ``q* = p / (p + 2)``
    (:func:`quadsgd.theory.plateau_norm`).

    Parameters
    ----------
    p, pstar, N : int
        Sizes; ``p + pstar <= N`` is required (ValueError otherwise).
    seed : int

    Returns
    -------
    W : ndarray, shape (p, N)
    Wstar : ndarray, shape (pstar, N)
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    if p + pstar > N:
        raise ValueError(f"plateau needs p + pstar <= N, got p={p}, pstar={pstar}, N={N}")
    frame = _teacher_rows(pstar, N, seed)
    students = rng.haar_rows(_student_stream(p, pstar, N, seed), p, N, avoid=frame)
    return math.sqrt(N * plateau_norm(p)) * students, math.sqrt(N) * frame


def zero_error(p: int, pstar: int, N: int, *, seed: int = 0) -> Pair:
    """Zero-error point ``W = sqrt(p/pstar) U Wstar`` with a random ``U`` (``U^T U = I_pstar``).

    Then ``A = A*`` so ``D = G = 0``: risk and gradient vanish.

    Parameters
    ----------
    p, pstar, N : int
        Sizes; ``p >= pstar`` (ValueError otherwise: ``U`` cannot have orthonormal columns) and
        ``pstar <= N``. ``p > N`` is allowed.
    seed : int

    Returns
    -------
    W : ndarray, shape (p, N)
    Wstar : ndarray, shape (pstar, N)
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    if p < pstar:
        raise ValueError(f"zero-error points need p >= pstar, got p={p}, pstar={pstar}")
    Wstar = teacher(pstar, N, seed=seed)
    U = rng.haar_rows(_student_stream(p, pstar, N, seed), pstar, p).T
    return math.sqrt(p / pstar) * U @ Wstar, Wstar


def aligned(p: int, pstar: int, N: int, *, seed: int = 0, unit: int = 0) -> Pair:
    """All students along one teacher unit: ``w_k = a_k w*_unit``, ``|a|^2 = p(pstar+2)/(3pstar)``.

    Derivation of the norm: with ``f = w*_unit / sqrt(N)`` and ``sigma = |a|^2 = sum_k |w_k|^2/N``,
    ``A = (sigma/p) f f^T``, ``D = (sigma/p) f f^T - P*/pstar`` and ``tr D = sigma/p - 1``.
    Since every row of ``W`` is along ``f``, ``W G = 0`` iff ``G f = 0``, i.e.
    ``2 (sigma/p - 1/pstar) + sigma/p - 1 = 0``, so ``sigma = p (pstar + 2) / (3 pstar)``
    (for ``p = pstar = 1`` this is the zero-error point ``|w|^2 = N``). Only ``|a|`` is fixed;
    its direction is drawn from the student stream.

    Parameters
    ----------
    p, pstar, N : int
        Sizes, ``pstar <= N``.
    seed : int
    unit : int
        Index of the teacher row the students align with, in ``[0, pstar)``.

    Returns
    -------
    W : ndarray, shape (p, N)
    Wstar : ndarray, shape (pstar, N)
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    unit = _validate.integer("unit", unit, minimum=0)
    if unit >= pstar:
        raise ValueError(f"unit must be in [0, pstar), got {unit!r}")
    Wstar = teacher(pstar, N, seed=seed)
    a = _student_stream(p, pstar, N, seed).standard_normal(p)
    a *= math.sqrt(p * (pstar + 2.0) / (3.0 * pstar)) / np.linalg.norm(a)
    return np.outer(a, Wstar[unit]), Wstar


_CONSTRUCTORS: dict[str, Callable[..., Pair]] = {
    "tabula_rasa": tabula_rasa,
    "plateau": plateau,
    "zero_error": zero_error,
    "aligned": aligned,
}


def _check_point(point: object) -> str:
    if point not in POINTS:
        raise ValueError(f"point must be one of {POINTS}, got {point!r}")
    return str(point)


def point_applicable(point: str, p: int, pstar: int, N: int) -> bool:
    """Whether the critical point ``point`` exists for these sizes.

    All points need ``pstar <= N`` (orthonormal teacher); the plateau also needs
    ``p + pstar <= N``, zero error needs ``p >= pstar``.
    """
    p, pstar, N = _args.sizes(p, pstar, N)
    if pstar > N:
        return False
    if _check_point(point) == "plateau":
        return p + pstar <= N
    if point == "zero_error":
        return p >= pstar
    return True


def critical_point(point: str, p: int, pstar: int, N: int, *, seed: int = 0) -> Pair:
    """Dispatch to :func:`tabula_rasa`, :func:`plateau`, :func:`zero_error` or :func:`aligned`."""
    return _CONSTRUCTORS[_check_point(point)](p, pstar, N, seed=seed)
