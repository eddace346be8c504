"""Finite-N one-pass SGD (docs/conventions.md section 1), in weight space and as an exact Gram chain.

``method="weights"`` runs the real thing: ``W`` is (p, N), each step draws a fresh
``x ~ N(0, I_N)`` and applies ``w_k += (eta/sqrt N)(2/p)(y - yhat) lambda_k x``. Gaussian
numbers are drawn in blocks by numpy's SFC64 generator (the fastest bit generator numpy ships)
and the sequential updates run in a compiled loop; drawing the ``N`` numbers of a sample is the
cost floor (see ``docs/performance.md``).

``method="gram"`` is exact in law at a cost independent of N. The update involves ``x`` only
through ``h = [W; W*] x / sqrt N ~ N(0, G)`` and ``|x|^2``, where ``G`` is the Gram matrix of the
stacked rows divided by N. With ``G = L L^T`` (Cholesky), ``h = L z`` for ``z ~ N(0, I_n)`` is
the law of the in-span coordinates, ``|x_par|^2 = |z|^2`` exactly, and the out-of-span part
contributes an independent ``chi^2_{N - n}``, ``n = p + pstar``. Writing
``g = eta (2/p)(y - yhat) lambda`` the step is

    Q += (lambda g^T + g lambda^T) / N + (|x|^2 / N) g g^T / N,    M += g nu^T / N,

and ``T`` stays fixed, so the chain on ``(Q, M)`` reproduces weight-space SGD in distribution.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import xarray as xr
from numba import njit
from numpy.typing import ArrayLike, NDArray

from quadsgd import __version__, _validate
from quadsgd._kernels import risk1
from quadsgd.escape import escape_alpha
from quadsgd.grids import sample_counts, sgd_alpha_grid
from quadsgd.init import finite_n_overlaps, finite_n_weights
from quadsgd.rng import Purpose, seed_sequence, stream
from quadsgd.schema import trajectory_dataset
from quadsgd.status import Status
from quadsgd.theory import plateau_risk
from quadsgd.theory import risk as theory_risk

__all__ = ["simulate", "DIVERGENCE_TRACE", "RISK_FLOOR"]

DIVERGENCE_TRACE = 1e4  # diverged: trace(Q)/p above this (as in the ODE)
RISK_FLOOR = 1e-12  # converged: risk below this; SGD is then frozen (y - yhat = 0)
_BLOCK_NUMBERS = 1 << 20  # Gaussian numbers per drawn block (8 MiB)
_GRAM_BLOCK = 1 << 14  # samples per drawn block of the Gram chain, fixed so that draws do not follow the grid


# ------------------------------------------------------------------- weight space
@njit(cache=True, nogil=True)
def _weights_block(W, X, pstar, c, stop):  # pragma: no cover - compiled
    """Apply the SGD steps of the samples in ``X`` (B, N) to ``W`` (p, N) in place.

    ``c = eta (2/p) / sqrt(N)`` and lambda = W x / sqrt N; the teacher rows are sqrt(N) e_r so
    nu_r = x_r. Returns the number of samples used (fewer than B if ``W`` blew up).
    """
    p, N = W.shape
    inv_sqrt_n = 1.0 / math.sqrt(N)
    lam = np.empty(p)
    for b in range(X.shape[0]):
        x = X[b]
        lam[:] = np.dot(W, x)  # BLAS gemv
        yhat = 0.0
        for k in range(p):
            lam[k] *= inv_sqrt_n
            yhat += lam[k] * lam[k]
        y = 0.0
        for r in range(pstar):
            y += x[r] * x[r]
        e = y / pstar - yhat / p
        for k in range(p):
            ck = c * e * lam[k]
            for i in range(N):
                W[k, i] += ck * x[i]
        if not math.isfinite(e) or abs(e) > stop:
            return b + 1
    return X.shape[0]


def _overlaps_from_weights(W: NDArray[np.float64], pstar: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    N = W.shape[1]
    return W @ W.T / N, W[:, :pstar] / math.sqrt(N)


def _run_weights(p, pstar, eta, N, seed, t_grid, out_Q, out_M):
    W, _ = finite_n_weights(p, pstar, N, seed)
    rng = np.random.Generator(np.random.SFC64(seed_sequence(seed, Purpose.WEIGHTS_SAMPLES, p, pstar, N)))
    block = max(1, _BLOCK_NUMBERS // N)
    X = np.empty((block, N))
    c = eta * (2.0 / p) / math.sqrt(N)
    stop = 1e3 * DIVERGENCE_TRACE * (1 + 1 / pstar)
    t = 0
    for g, target in enumerate(t_grid):
        while t < target:
            b = min(block, int(target - t))
            rng.standard_normal(out=X[:b])
            used = _weights_block(W, X[:b], pstar, c, stop)
            t += used
            if used < b:
                return g, t
        out_Q[g], out_M[g] = _overlaps_from_weights(W, pstar)
        if _stop_reason(out_Q[g], out_M[g]) is not None:
            return g + 1, t
    return len(t_grid), t


# --------------------------------------------------------------------- Gram chain
@njit(cache=True, nogil=True)
def _gram_block(Q, M, T, Z, chi, eta, N):  # pragma: no cover - compiled
    """Advance the Gram chain by the samples of ``Z`` (B, n) and ``chi`` (B,) in place."""
    p = Q.shape[0]
    s = T.shape[0]
    n = p + s
    G = np.empty((n, n))
    L = np.empty((n, n))
    h = np.empty(n)
    g = np.empty(p)
    for b in range(Z.shape[0]):
        G[:p, :p] = Q
        G[:p, p:] = M
        G[p:, :p] = M.T
        G[p:, p:] = T
        # Cholesky that tolerates a (numerically) singular G: a zero pivot means that direction
        # has no extent, so it contributes nothing to h.
        L[:, :] = 0.0
        for j in range(n):
            d = G[j, j]
            for k in range(j):
                d -= L[j, k] * L[j, k]
            if d <= 1e-300:
                continue
            ljj = math.sqrt(d)
            L[j, j] = ljj
            for i in range(j + 1, n):
                acc = G[i, j]
                for k in range(j):
                    acc -= L[i, k] * L[j, k]
                L[i, j] = acc / ljj
        z2 = 0.0
        for i in range(n):
            acc = 0.0
            for k in range(i + 1):
                acc += L[i, k] * Z[b, k]
            h[i] = acc
            z2 += Z[b, i] * Z[b, i]
        yhat = 0.0
        for k in range(p):
            yhat += h[k] * h[k]
        y = 0.0
        for r in range(s):
            y += h[p + r] * h[p + r]
        e = y / s - yhat / p
        for k in range(p):
            g[k] = eta * (2.0 / p) * e * h[k]
        xx = (z2 + chi[b]) / N
        for k in range(p):
            for l in range(k, p):
                dq = (h[k] * g[l] + g[k] * h[l] + xx * g[k] * g[l]) / N
                Q[k, l] += dq
                if l != k:
                    Q[l, k] += dq
            for r in range(s):
                M[k, r] += g[k] * h[p + r] / N
        if not math.isfinite(e):
            return b + 1
    return Z.shape[0]


def _run_gram(p, pstar, eta, N, seed, t_grid, out_Q, out_M):
    n = p + pstar
    Q = np.eye(p)
    M = finite_n_overlaps(p, pstar, N, seed)
    T = np.eye(pstar)
    rng = stream(seed, Purpose.GRAM_SAMPLES, p, pstar, N)
    # Samples are drawn in blocks of a fixed size, whatever the recording grid: the k-th sample
    # is the same on every grid, so values at shared grid points do not depend on the grid.
    Z = np.empty((_GRAM_BLOCK, n))
    chi = np.empty(_GRAM_BLOCK)
    pos = _GRAM_BLOCK
    t = 0
    for g, target in enumerate(t_grid):
        while t < target:
            if pos == _GRAM_BLOCK:
                rng.standard_normal(out=Z)
                chi[:] = rng.chisquare(N - n, size=_GRAM_BLOCK)
                pos = 0
            b = min(_GRAM_BLOCK - pos, int(target - t))
            used = _gram_block(Q, M, T, Z[pos : pos + b], chi[pos : pos + b], eta, N)
            pos += used
            t += used
            if used < b:
                return g, t
        out_Q[g], out_M[g] = Q, M
        if _stop_reason(Q, M) is not None:
            return g + 1, t
    return len(t_grid), t


def _stop_reason(Q: NDArray[np.float64], M: NDArray[np.float64]) -> Status | None:
    trQ = np.trace(Q)
    if not np.isfinite(trQ) or not np.all(np.isfinite(M)) or trQ > DIVERGENCE_TRACE * Q.shape[0]:
        return Status.DIVERGED
    if risk1(Q, M, np.eye(M.shape[1])) <= RISK_FLOOR:
        return Status.CONVERGED
    return None


# ------------------------------------------------------------------------ public
def simulate(
    p: int,
    pstar: int,
    *,
    eta: ArrayLike,
    N: int,
    seed: ArrayLike = 0,
    alpha: ArrayLike | None = None,
    alpha_max: float | None = None,
    method: Literal["weights", "gram"] = "gram",
    escape_fraction: float = 0.5,
) -> xr.Dataset:
    """Finite-N one-pass SGD from the paper's initialization, recorded on an alpha grid.

    Parameters
    ----------
    p, pstar, N : student width, teacher width, input dimension (``N >= p + pstar``).
    eta : learning rate, scalar or 1-D; with ``seed`` 1-D the runs form an (eta, seed) grid.
    alpha_max : last recorded alpha when ``alpha`` is not given (log grid from ``1/N``).
    seed : int or 1-D ints; with ``(p, pstar, N)`` keys the initial weights and the samples.
    method : ``"weights"`` (p x N weights) or ``"gram"`` (exact reduced chain, cost O(1) in N).
    alpha : recording grid, increasing from 0; rounded to whole samples (``alpha * N``).

    Returns
    -------
    The trajectory schema of :func:`quadsgd.ode.integrate` with dims ``(eta, seed)`` for array
    arguments (scalars give no batch dim). ``alpha = 0`` holds the run's own ``Q(0) = I`` and
    measured ``M(0)`` (also in ``M0``), from which the ODE can be started. A run stops early
    when the risk falls below ``RISK_FLOOR`` (SGD is then frozen) or trace(Q) blows up.
    """
    p, pstar, N = _validate.widths(p, pstar, N)
    if method not in ("weights", "gram"):
        raise ValueError(f"method must be 'weights' or 'gram'; got {method!r}")
    eta_arr = _validate.positive_array("eta", eta)
    seed_arr = _validate.seeds("seed", seed)
    if eta_arr.ndim > 1 or seed_arr.ndim > 1:
        raise ValueError("eta and seed must be scalars or 1-D")
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    if alpha is None:
        if alpha_max is None:
            raise ValueError("alpha_max is required when no alpha grid is given")
        grid = sgd_alpha_grid(alpha_max, N, num=121)
    else:
        grid = np.asarray(alpha, dtype=np.float64)
    t_grid = sample_counts(grid, N)
    grid = t_grid / N

    etas, seeds = np.atleast_1d(eta_arr), np.atleast_1d(seed_arr)
    E, S, G = etas.size, seeds.size, grid.size
    Q = np.full((E, S, G, p, p), np.nan)
    M = np.full((E, S, G, p, pstar), np.nan)
    status = np.empty((E, S), dtype=np.int8)
    alpha_stop = np.empty((E, S))
    run = _run_weights if method == "weights" else _run_gram
    for i, e in enumerate(etas):
        for j, sd in enumerate(seeds):
            filled, t = run(p, pstar, float(e), N, int(sd), t_grid, Q[i, j], M[i, j])
            reason = _stop_reason(Q[i, j, filled - 1], M[i, j, filled - 1]) if filled else Status.DIVERGED
            if filled < G and reason is not Status.CONVERGED:
                reason = Status.DIVERGED
            if reason is Status.DIVERGED:
                Q[i, j, filled:] = np.nan
                M[i, j, filled:] = np.nan
            elif reason is Status.CONVERGED:
                Q[i, j, filled:] = Q[i, j, filled - 1]
                M[i, j, filled:] = M[i, j, filled - 1]
            status[i, j] = reason if reason is not None else Status.CENSORED
            alpha_stop[i, j] = t / N
    risk = theory_risk(Q, M)  # NaN overlaps (after a divergence) give NaN risk
    threshold = escape_fraction * plateau_risk(p, pstar)
    alpha_escape = escape_alpha(grid, risk, threshold)
    undecided = status == Status.CENSORED
    status[undecided & np.isfinite(alpha_escape)] = Status.ESCAPED

    dims: tuple[str, ...] = ()
    pick: tuple[int | slice, int | slice] = (slice(None), slice(None))
    coords: dict[Hashable, Any] = {}
    if eta_arr.ndim:
        dims += ("eta",)
    else:
        pick = (0, pick[1])
    if seed_arr.ndim:
        dims += ("seed",)
        coords["seed"] = seeds
    else:
        pick = (pick[0], 0)
    ds = trajectory_dataset(
        alpha=grid,
        risk=risk[pick],
        status=status[pick],
        alpha_escape=alpha_escape[pick],
        alpha_stop=alpha_stop[pick],
        eta=etas if eta_arr.ndim else eta_arr,
        Q=Q[pick],
        M=M[pick],
        M0=M[pick][..., 0, :, :],
        batch_dims=dims,
        coords=coords,
        attrs={
            "method": f"sgd-{method}",
            "p": p,
            "pstar": pstar,
            "N": N,
            "escape_fraction": escape_fraction,
            "escape_threshold": threshold,
            "quadsgd_version": __version__,
        },
    )
    if not seed_arr.ndim:
        ds = ds.assign_coords(seed=int(seed_arr))
    return ds
