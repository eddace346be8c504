"""Keyed random streams: the project's one seeding scheme.

Every random draw in the package comes from :func:`stream`, a ``numpy.random.Generator`` on a
``SeedSequence`` whose entropy is the user's seed and whose spawn key is a :class:`Purpose` tag
followed by the sizes that define the problem. A draw therefore depends only on
``(seed, purpose, key)``: not on the batch, worker, job or machine that makes it, and two
purposes never share numbers. The learning rate is deliberately not part of any key: all
learning rates of one seed start from the same ``M(0)`` (common random numbers), which makes
escape time a smooth function of eta.
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import NDArray

from quadsgd import _validate

__all__ = ["Purpose", "seed_sequence", "stream", "haar_rows"]


class Purpose(enum.IntEnum):
    """Tags that separate independent streams of one seed (the first spawn-key word)."""

    ODE_INIT = 1  #: M(0) ~ N(0, 1/N) for the ODE; key (p, pstar, N)
    WEIGHTS_INIT = 2  #: student frame of weight-space SGD; key (p, pstar, N)
    WEIGHTS_SAMPLES = 3  #: input samples of weight-space SGD; key (p, pstar, N)
    GRAM_INIT = 4  #: M(0) of the Gram chain; key (p, pstar, N)
    GRAM_SAMPLES = 5  #: samples of the Gram chain; key (p, pstar, N)
    LANDSCAPE_TEACHER = 6  #: teacher frame of a landscape critical point; key (pstar, N)
    LANDSCAPE_STUDENT = 7  #: student frame of a landscape critical point; key (p, pstar, N)
    EMPIRICAL_INSTANCE = 8  #: data, teacher and init of an empirical-risk instance; key (d, mstar, n, m)
    LANDSCAPE_GENERIC = 9  #: generic weights for Jacobian ranks (degrees of freedom); key (p, N)
    POPULATION_TEACHER = 10  #: teacher of the empirical branch's population flow; key (d, mstar)
    BOOTSTRAP = 11  #: bootstrap resampling of a recovery summary; key (d, mstar)
    WEIGHTS_NOISE = 12  #: label noise xi of weight-space SGD (one per sample); key (p, pstar, N)
    GRAM_NOISE = 13  #: label noise xi of the Gram chain (one per sample); key (p, pstar, N)


def seed_sequence(seed: object, purpose: Purpose, *key: int) -> np.random.SeedSequence:
    """``SeedSequence(entropy=seed, spawn_key=(purpose, *key))``; ``seed`` in ``[0, 2**63)``."""
    seed_ = int(_validate.seeds("seed", seed))
    return np.random.SeedSequence(entropy=seed_, spawn_key=(int(purpose), *(int(k) for k in key)))


def stream(seed: object, purpose: Purpose, *key: int) -> np.random.Generator:
    """The generator of one keyed stream (PCG64 on :func:`seed_sequence`)."""
    return np.random.default_rng(seed_sequence(seed, purpose, *key))


def haar_rows(
    rng: np.random.Generator, k: int, N: int, avoid: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """``k`` Haar-random orthonormal rows in ``R^N``: shape (k, N), unit norms.

    QR of an (N, k) Gaussian matrix with the sign of ``R``'s diagonal fixed, which makes the
    factor Haar distributed. With ``avoid`` (orthonormal rows, shape (j, N)) the frame is drawn
    in the orthogonal complement of their span.
    """
    g = rng.standard_normal((N, k))
    if avoid is not None and avoid.size:
        g -= avoid.T @ (avoid @ g)
    q, r = np.linalg.qr(g)
    q *= np.sign(np.diag(r))
    if avoid is not None and avoid.size:
        q -= avoid.T @ (avoid @ q)  # remove the round-off leak back into the avoided span
        q, _ = np.linalg.qr(q)
    return q.T
