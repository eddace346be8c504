"""Finite-N one-pass SGD (docs/conventions.md section 1), in weight space and as an exact Gram chain.

``method="weights"`` runs the real thing: ``W`` is (p, N), each step draws a fresh
``x ~ N(0, I_N)`` and applies ``w_k += (eta/sqrt N)(2/p)(y - yhat) lambda_k x``. Gaussian
numbers are drawn in blocks by numpy's SFC64 generator (the fastest bit generator numpy ships)
and the sequential updates run in a compiled loop; drawing the ``N`` numbers of a sample is the
cost floor (see ``docs/performance.md``).

``method="gram"`` is exact in law at a cost independent of N. The update involves ``x`` only
through the pre-activations ``h = (lambda, nu) = [W; W*] x / sqrt N ~ N(0, G)`` and ``|x|^2``,
where ``G`` is the Gram matrix of the stacked rows divided by N. Since ``T = I``, ``nu`` itself is
``N(0, I_pstar)``, and given ``nu`` the student pre-activations are
``lambda = M nu + L z``, ``z ~ N(0, I_p)``, where ``S = Q - M M^T = L L^T`` (Cholesky) is the
Gram matrix of the students' components outside the teachers' span (the Schur complement of
``T`` in ``G``). The squared norm of ``x`` is ``|nu|^2 + |z|^2`` in the span of the rows plus an
independent ``chi^2_{N - n}`` for the rest, ``n = p + pstar``. Writing
``g = eta (2/p)(y - yhat) lambda``, ``r = L z`` and ``|x_perp|^2 = |z|^2 + chi^2_{N - n}`` the step is

    Q += (lambda g^T + g lambda^T + (|x|^2 / N) g g^T) / N,    M += g nu^T / N,
    S += (r g^T + g r^T + (|x_perp|^2 / N) g g^T) / N,

and ``T`` stays fixed, so the chain on ``(Q, M)`` reproduces weight-space SGD in distribution.
The ``S`` update is the same step written for ``Q - M M^T`` (its ``M`` terms cancel against
``M nu`` in ``lambda``), so each sample costs one p x p Cholesky, not one of the
``(p + pstar)``-square ``G``. The recorded ``Q`` is the carried ``Q``, not ``S + M M^T``.
The runs of one call (its ``(eta, seed)`` pairs) advance side by side, up to ``LANES`` at a
time, in one compiled kernel whose per-lane arithmetic does not depend on the batch; a single
run uses a scalar kernel with the same operations in the same order.

Label noise (``noise``) and the escape check after every sample are documented in
:func:`simulate`; docs/conventions.md sections 1 and 5.5.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd import __version__, _validate
from quadsgd._jit import njit
from quadsgd._kernels import risk1
from quadsgd.grids import sample_counts, sgd_alpha_grid
from quadsgd.init import finite_n_overlaps, finite_n_weights
from quadsgd.rng import Purpose, seed_sequence, stream
from quadsgd.schema import trajectory_dataset
from quadsgd.status import Status
from quadsgd.theory import plateau_risk
from quadsgd.theory import risk as theory_risk

__all__ = ["simulate", "DIVERGENCE_TRACE", "RISK_FLOOR", "LANES"]

DIVERGENCE_TRACE = 1e4  # diverged: trace(Q)/p above this (as in the ODE)
RISK_FLOOR = 1e-12  # converged: risk below this; SGD is then frozen (y - yhat = 0)
_BLOCK_NUMBERS = 1 << 20  # Gaussian numbers per drawn block (8 MiB)
_GRAM_BLOCK = 1 << 14  # samples per drawn block of the Gram chain, fixed so that draws do not follow the grid
#: Gram-chain runs of one call advanced side by side (see _gram_lanes).
LANES = 16


@njit(cache=True, nogil=True)
def _risk_from_sums(trq, sq2, sm2, p, s):  # pragma: no cover - compiled
    """Population risk at ``T = I`` (docs/conventions.md section 2) from ``trace Q``,
    ``sum Q_ij^2`` and ``sum M_ij^2``: the sums an SGD step can accumulate as it updates."""
    return 0.5 * (1.0 + 2.0 / s + (trq * trq + 2.0 * sq2) / (p * p) - 2.0 * (trq + 2.0 * sm2 / s) / p)


# ------------------------------------------------------------------- weight space
@njit(cache=True, nogil=True)
def _weights_block(W, X, xi, sn, Qt, pstar, c, stop, thr, t0, esc, stop_at_escape):  # pragma: no cover - compiled
    """Apply the SGD steps of the samples in ``X`` (B, N) to ``W`` (p, N) in place.

    ``c = eta (2/p) / sqrt(N)`` and lambda = W x / sqrt N; the teacher rows are sqrt(N) e_r so
    nu_r = x_r. The label is ``y + sn xi[b]`` (``sn = sqrt(noise)``; ``xi`` is empty when
    ``sn == 0``). ``Qt`` (p, p) carries ``W W^T / N`` forward by the same step,
    ``Q += (lambda g^T + g lambda^T + (|x|^2/N) g g^T) / N`` with ``g = eta (2/p)(y - yhat) lambda``,
    so that the risk can be checked after every sample at O(p^2) instead of O(p^2 N); the first
    sample whose risk is ``<= thr`` is stored in ``esc[0]`` (a global count, ``t0`` before this
    block). Returns the number of samples used: fewer than B if ``W`` blew up, or when
    ``stop_at_escape`` and the run escaped.
    """
    p, N = W.shape
    inv_sqrt_n = 1.0 / math.sqrt(N)
    inv_n = 1.0 / N
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
        if sn > 0.0:
            e += sn * xi[b]
        for k in range(p):
            ck = c * e * lam[k]
            for i in range(N):
                W[k, i] += ck * x[i]
        if not math.isfinite(e) or abs(e) > stop:
            return b + 1
        if esc[0] < 0:
            xx = np.dot(x, x) * inv_n
            cg = c * e / inv_sqrt_n  # g_k = cg lam_k
            trq = 0.0
            sq2 = 0.0
            sm2 = 0.0
            for k in range(p):
                for l in range(p):
                    q = Qt[k, l] + cg * lam[k] * lam[l] * (2.0 + xx * cg) * inv_n
                    Qt[k, l] = q
                    sq2 += q * q
                trq += Qt[k, k]
                for r in range(pstar):
                    sm2 += W[k, r] * W[k, r] * inv_n
            if _risk_from_sums(trq, sq2, sm2, p, pstar) <= thr:
                esc[0] = t0 + b + 1
                if stop_at_escape:
                    return b + 1
    return X.shape[0]


def _overlaps_from_weights(W: NDArray[np.float64], pstar: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    N = W.shape[1]
    return W @ W.T / N, W[:, :pstar] / math.sqrt(N)


def _run_weights(p, pstar, eta, N, seed, t_grid, out_Q, out_M, noise, thr, esc, stop_at_escape):
    W, _ = finite_n_weights(p, pstar, N, seed)
    rng = np.random.Generator(np.random.SFC64(seed_sequence(seed, Purpose.WEIGHTS_SAMPLES, p, pstar, N)))
    noise_rng = stream(seed, Purpose.WEIGHTS_NOISE, p, pstar, N) if noise > 0 else None
    block = max(1, _BLOCK_NUMBERS // N)
    X = np.empty((block, N))
    xi = np.empty(block if noise > 0 else 0)
    c = eta * (2.0 / p) / math.sqrt(N)
    stop = 1e3 * DIVERGENCE_TRACE * (1 + 1 / pstar)
    Qt, M0 = _overlaps_from_weights(W, pstar)
    if theory_risk(Qt, M0) <= thr:
        esc[0] = 0
    t = 0
    for g, target in enumerate(t_grid):
        while t < target and not (stop_at_escape and esc[0] >= 0):
            b = min(block, int(target - t))
            rng.standard_normal(out=X[:b])
            if noise_rng is not None:
                # The k-th sample's xi is the k-th number of its stream, on every grid.
                noise_rng.standard_normal(out=xi[:b])
            used = _weights_block(W, X[:b], xi[:b], math.sqrt(noise), Qt, pstar, c, stop, thr, t, esc, stop_at_escape)
            t += used
            if used < b and not (stop_at_escape and esc[0] >= 0):
                return g, t
        if t < target:  # stopped at escape before this grid point
            return g, t
        out_Q[g], out_M[g] = _overlaps_from_weights(W, pstar)
        if _stop_reason(out_Q[g], out_M[g]) is not None:
            return g + 1, t
    return len(t_grid), t


# --------------------------------------------------------------------- Gram chain
@njit(cache=True, nogil=True)
def _gram_lanes(Q, S, M, Z, chi, xi, sn, c, N, thr, t0, esc, stop_at_escape, active, used):  # pragma: no cover
    """Advance ``K`` independent Gram chains (lanes) by the samples of ``Z`` (K, B, pstar + p) and
    ``chi`` (K, B) in place.

    State per lane ``l``: ``Q[:, :, l]`` (p, p), ``M[:, :, l]`` (p, pstar) and the Schur complement
    ``S = Q - M M^T`` (p, p), the Gram matrix of the students' components outside the teachers'
    span. Sample ``b`` of lane ``l`` is ``Z[l, b] = (nu, z)``: ``nu`` are the teacher
    pre-activations themselves (``T = I``) and ``lambda = M nu + L z`` with ``S = L L^T`` (module
    docstring). Each arithmetic statement below is one loop over lanes: one run is a chain of
    dependent operations (Cholesky, square roots and divisions included, then the update that
    the next Cholesky needs) whose latency leaves the core idle, and independent runs fill it.
    Each lane's arithmetic is the same, in the same order, whatever the number of lanes, so a
    run's numbers do not depend on its batch.

    ``c`` (K,) is ``eta (2/p)``; the label is ``y + sn xi[l, b]`` (``xi`` (K, B) is not read when
    ``sn == 0``). After each sample the risk is checked; the first sample at or below ``thr``
    is stored in ``esc[l]`` (a global count; ``t0`` before this block). A lane that makes a
    non-finite step, or escapes with ``stop_at_escape``, is marked inactive, its samples used
    stored in ``used[l]``; it is still computed to the end of the block (its numbers are no
    longer used), which keeps the lanes in step.
    """
    B = Z.shape[1]
    p, s, K = M.shape
    L = np.zeros((p, p, K))
    r = np.empty((p, K))
    lam = np.empty((p, K))
    g = np.empty((p, K))
    d = np.empty(K)
    inv = np.empty(K)
    nu2 = np.empty(K)
    z2 = np.empty(K)
    yhat = np.empty(K)
    e = np.empty(K)
    trq = np.empty(K)
    sq2 = np.empty(K)
    sm2 = np.empty(K)
    inv_n = 1.0 / N
    zt = np.empty((Z.shape[2], K))
    for b in range(B):
        # This sample's numbers of every lane side by side, so that the loops below read them
        # contiguously (the draws are contiguous per lane instead).
        for q in range(Z.shape[2]):
            for l in range(K):
                zt[q, l] = Z[l, b, q]
        # Cholesky of S that tolerates a (numerically) singular S: a non-positive pivot means
        # that direction has no extent, so its column is zero and adds nothing to lambda.
        for j in range(p):
            for l in range(K):
                d[l] = S[j, j, l]
            for k in range(j):
                for l in range(K):
                    d[l] -= L[j, k, l] * L[j, k, l]
            for l in range(K):
                ljj = math.sqrt(d[l]) if d[l] > 0.0 else 0.0
                L[j, j, l] = ljj
                inv[l] = 1.0 / ljj if ljj > 0.0 else 0.0
            for i in range(j + 1, p):
                for l in range(K):
                    d[l] = S[i, j, l]
                for k in range(j):
                    for l in range(K):
                        d[l] -= L[i, k, l] * L[j, k, l]
                for l in range(K):
                    L[i, j, l] = d[l] * inv[l]
        for l in range(K):
            nu2[l] = 0.0
            z2[l] = 0.0
            yhat[l] = 0.0
        for q in range(s):
            for l in range(K):
                nu2[l] += zt[q, l] * zt[q, l]
        for k in range(p):
            for l in range(K):
                r[k, l] = 0.0
            for m in range(k + 1):
                for l in range(K):
                    r[k, l] += L[k, m, l] * zt[s + m, l]
            for l in range(K):
                lam[k, l] = r[k, l]
                z2[l] += zt[s + k, l] * zt[s + k, l]
            for q in range(s):
                for l in range(K):
                    lam[k, l] += M[k, q, l] * zt[q, l]
            for l in range(K):
                yhat[l] += lam[k, l] * lam[k, l]
        for l in range(K):
            e[l] = nu2[l] / s - yhat[l] / p
        if sn > 0.0:
            for l in range(K):
                e[l] += sn * xi[l, b]
        for k in range(p):
            for l in range(K):
                g[k, l] = c[l] * e[l] * lam[k, l]
        for l in range(K):
            z2[l] = (z2[l] + chi[l, b]) * inv_n  # |x|^2 / N outside the teachers' span
            nu2[l] = z2[l] + nu2[l] * inv_n  # |x|^2 / N
            trq[l] = 0.0
            sq2[l] = 0.0
            sm2[l] = 0.0
        # The risk's sums (trace Q, sum Q^2, sum M^2) are taken during the update, which touches
        # every entry anyway; they feed the escape check.
        for k in range(p):
            for l in range(K):
                gk = g[k, l]
                qkk = Q[k, k, l] + (2.0 * lam[k, l] + nu2[l] * gk) * gk * inv_n
                Q[k, k, l] = qkk
                S[k, k, l] += (2.0 * r[k, l] + z2[l] * gk) * gk * inv_n
                trq[l] += qkk
                sq2[l] += qkk * qkk
            for j in range(k + 1, p):
                for l in range(K):
                    gk = g[k, l]
                    gj = g[j, l]
                    q = Q[j, k, l] + (lam[k, l] * gj + gk * lam[j, l] + nu2[l] * gk * gj) * inv_n
                    Q[j, k, l] = q
                    sq2[l] += 2.0 * q * q
                for l in range(K):
                    gk = g[k, l]
                    gj = g[j, l]
                    S[j, k, l] += (r[k, l] * gj + gk * r[j, l] + z2[l] * gk * gj) * inv_n
            for q in range(s):
                for l in range(K):
                    m = M[k, q, l] + g[k, l] * zt[q, l] * inv_n
                    M[k, q, l] = m
                    sm2[l] += m * m
        for l in range(K):
            if not active[l]:
                continue
            if not math.isfinite(e[l]):
                active[l] = False
                used[l] = b + 1
            elif esc[l] < 0 and _risk_from_sums(trq[l], sq2[l], sm2[l], p, s) <= thr:
                esc[l] = t0 + b + 1
                if stop_at_escape:
                    active[l] = False
                    used[l] = b + 1
    # Only the lower triangles of Q and S are updated above; mirror them once per call.
    for k in range(p):
        for j in range(k + 1, p):
            for l in range(K):
                Q[k, j, l] = Q[j, k, l]
                S[k, j, l] = S[j, k, l]


@njit(cache=True, nogil=True)
def _gram_one(Q, S, M, Z, chi, xi, sn, c, N, thr, t0, esc, stop_at_escape):  # pragma: no cover - compiled
    """:func:`_gram_lanes` for one run: ``Q``, ``S`` (p, p), ``M`` (p, pstar), ``Z`` (B, pstar + p),
    ``chi`` (B,), ``xi`` (B,) or empty, ``c = eta (2/p)``, ``esc`` (1,). Returns the number of
    samples used (fewer than B after a non-finite step, or at escape with ``stop_at_escape``).

    The same operations in the same order as one lane of :func:`_gram_lanes` (so a run's numbers
    do not depend on its batch; ``test_seed_gives_identical_runs_alone_or_in_a_batch``), without
    the per-statement lane loops, which cost more than they save for a single run.
    """
    p, s = M.shape
    L = np.zeros((p, p))
    r = np.empty(p)
    lam = np.empty(p)
    g = np.empty(p)
    inv_n = 1.0 / N
    for b in range(Z.shape[0]):
        z = Z[b]
        for j in range(p):
            d = S[j, j]
            for k in range(j):
                d -= L[j, k] * L[j, k]
            ljj = math.sqrt(d) if d > 0.0 else 0.0
            L[j, j] = ljj
            inv = 1.0 / ljj if ljj > 0.0 else 0.0
            for i in range(j + 1, p):
                acc = S[i, j]
                for k in range(j):
                    acc -= L[i, k] * L[j, k]
                L[i, j] = acc * inv
        nu2 = 0.0
        z2 = 0.0
        yhat = 0.0
        for q in range(s):
            nu2 += z[q] * z[q]
        for k in range(p):
            acc = 0.0
            for m in range(k + 1):
                acc += L[k, m] * z[s + m]
            r[k] = acc
            z2 += z[s + k] * z[s + k]
            for q in range(s):
                acc += M[k, q] * z[q]
            lam[k] = acc
            yhat += acc * acc
        e = nu2 / s - yhat / p
        if sn > 0.0:
            e += sn * xi[b]
        for k in range(p):
            g[k] = c * e * lam[k]
        xs = (z2 + chi[b]) * inv_n
        xx = xs + nu2 * inv_n
        trq = 0.0
        sq2 = 0.0
        sm2 = 0.0
        for k in range(p):
            gk = g[k]
            qkk = Q[k, k] + (2.0 * lam[k] + xx * gk) * gk * inv_n
            Q[k, k] = qkk
            S[k, k] += (2.0 * r[k] + xs * gk) * gk * inv_n
            trq += qkk
            sq2 += qkk * qkk
            for j in range(k + 1, p):
                gj = g[j]
                q = Q[k, j] + (lam[k] * gj + gk * lam[j] + xx * gk * gj) * inv_n
                Q[k, j] = q
                Q[j, k] = q
                sv = S[k, j] + (r[k] * gj + gk * r[j] + xs * gk * gj) * inv_n
                S[k, j] = sv
                S[j, k] = sv
                sq2 += 2.0 * q * q
            for q in range(s):
                m = M[k, q] + gk * z[q] * inv_n
                M[k, q] = m
                sm2 += m * m
        if not math.isfinite(e):
            return b + 1
        if esc[0] < 0 and _risk_from_sums(trq, sq2, sm2, p, s) <= thr:
            esc[0] = t0 + b + 1
            if stop_at_escape:
                return b + 1
    return Z.shape[0]


def _gram_buffers(K: int, n: int) -> tuple[NDArray[np.float64], ...]:
    """Blocks of draws for ``K`` lanes: ``Z`` (K, B, n), ``chi`` (K, B), ``xi`` (K, B).

    One spare row per lane: with a power-of-two stride between lanes, the kernel's reads of the
    K lanes' sample b would all fall in the same cache set and evict each other. ``xi`` has its
    full shape even without label noise (then never written or read; ``np.empty`` touches no
    memory): an empty block would slice to a contiguous array type, a second compiled
    specialization of :func:`_gram_lanes` that the warm-up job would not have made."""
    Z = np.empty((K, _GRAM_BLOCK + 1, n))[:, :_GRAM_BLOCK]
    chi = np.empty((K, _GRAM_BLOCK + 1))[:, :_GRAM_BLOCK]
    xi = np.empty((K, _GRAM_BLOCK + 1))[:, :_GRAM_BLOCK]
    return Z, chi, xi


def _run_gram(p, pstar, etas, N, seeds, t_grid, out_Q, out_M, noise, thr, esc, stop_at_escape, filled, t_stop):
    """Runs ``(etas[k], seeds[k])`` as the lanes of :func:`_gram_lanes` batches; ``out_Q``
    (K, G, p, p), ``out_M`` (K, G, p, pstar), ``esc``, ``filled`` (grid points written) and
    ``t_stop`` (samples used) (K,) are filled in place.

    Once half the lanes or more have stopped (diverged, converged, or escaped with
    ``stop_at_escape``), the batch is compacted to the running lanes (``ids`` maps a lane to its
    run), so that a few slow runs do not pay for the finished ones."""
    K, n = len(seeds), p + pstar
    Q = np.zeros((p, p, K))
    M = np.empty((p, pstar, K))
    S = np.empty((p, p, K))
    filled[:] = -1
    t_stop[:] = 0
    for k, sd in enumerate(seeds):
        m0 = finite_n_overlaps(p, pstar, N, int(sd))
        Q[:, :, k] = np.eye(p)
        M[:, :, k] = m0
        S[:, :, k] = np.eye(p) - m0 @ m0.T
        if theory_risk(np.eye(p), m0) <= thr:
            esc[k] = 0
            if stop_at_escape:  # stopped at escape at t = 0 (t_grid starts at 0)
                out_Q[k, 0], out_M[k, 0] = np.eye(p), m0
                filled[k] = 1
    act = filled < 0
    ids = np.arange(K)
    c = etas * (2.0 / p)
    sn = math.sqrt(noise)
    rngs = [stream(int(sd), Purpose.GRAM_SAMPLES, p, pstar, N) for sd in seeds]
    noise_rngs = [stream(int(sd), Purpose.GRAM_NOISE, p, pstar, N) for sd in seeds] if noise > 0 else []
    # Samples are drawn in blocks of a fixed size, whatever the recording grid: the k-th sample
    # of a run is the same on every grid and in every batch, so values at shared grid points do
    # not depend on the grid.
    Z, chi, xi = _gram_buffers(K, n)
    pos = _GRAM_BLOCK
    t = 0
    for g, target in enumerate(t_grid):
        while t < target and act.any():
            if 2 * act.sum() <= act.size:
                keep = np.flatnonzero(act)
                Q, S, M = (np.ascontiguousarray(A[:, :, keep]) for A in (Q, S, M))
                Z2, chi2, xi2 = _gram_buffers(keep.size, n)
                Z2[:], chi2[:] = Z[keep], chi[keep]
                if noise > 0:
                    xi2[:] = xi[keep]
                Z, chi, xi = Z2, chi2, xi2
                rngs = [rngs[i] for i in keep]
                noise_rngs = [noise_rngs[i] for i in keep] if noise_rngs else []
                c, ids, act = c[keep], ids[keep], act[keep]
            if pos == _GRAM_BLOCK:
                for l, rng in enumerate(rngs):
                    rng.standard_normal(out=Z[l])
                    # |x|^2 beyond the span of the p + pstar rows; none is left at N = p + pstar.
                    chi[l] = rng.chisquare(N - n, size=_GRAM_BLOCK) if N > n else 0.0
                for l, rng in enumerate(noise_rngs):
                    rng.standard_normal(out=xi[l])
                pos = 0
            b = min(_GRAM_BLOCK - pos, int(target - t))
            was = act.copy()
            used = np.full(ids.size, b, dtype=np.int64)
            e = esc[ids]
            if ids.size == 1:
                used[0] = _gram_one(Q[:, :, 0], S[:, :, 0], M[:, :, 0], Z[0, pos : pos + b], chi[0, pos : pos + b],
                                    xi[0, pos : pos + b], sn, c[0], N, thr, t, e, stop_at_escape)
                act[0] = used[0] == b and not (stop_at_escape and e[0] >= 0)
            else:
                _gram_lanes(Q, S, M, Z[:, pos : pos + b], chi[:, pos : pos + b], xi[:, pos : pos + b], sn, c, N,
                            thr, t, e, stop_at_escape, act, used)
            esc[ids] = e
            for lane in np.flatnonzero(was & ~act):
                run = int(ids[lane])
                t_stop[run] = t + used[lane]
                # A lane stopped at escape on the grid point itself is recorded there.
                filled[run] = g + 1 if (stop_at_escape and esc[run] == target) else g
                if filled[run] > g:
                    out_Q[run, g], out_M[run, g] = Q[:, :, lane], M[:, :, lane]
            pos += b
            t += b
        for lane in np.flatnonzero(act):
            run = int(ids[lane])
            out_Q[run, g], out_M[run, g] = Q[:, :, lane], M[:, :, lane]
            if _stop_reason(out_Q[run, g], out_M[run, g]) is not None:
                act[lane] = False
                filled[run] = g + 1
                t_stop[run] = t
    filled[ids[act]] = len(t_grid)
    t_stop[ids[act]] = t


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
    noise: float = 0.0,
    stop_at_escape: bool = False,
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
    escape_fraction : the escape threshold is ``escape_fraction * plateau_risk(p, pstar)``.
    noise : label-noise variance (>= 0): each sample's teacher label is ``y + sqrt(noise) xi``,
        ``xi ~ N(0, 1)`` from its own keyed stream (``Purpose.WEIGHTS_NOISE`` / ``GRAM_NOISE``).
        With ``noise = 0`` nothing extra is drawn, so the sample path is that of a run without
        the keyword. The recorded ``risk`` stays the clean population risk (the noisy test loss
        is ``risk + noise / 2``).
    stop_at_escape : end each run at its escape sample (status ``escaped``, later grid points
        NaN, ``alpha_stop = alpha_escape``): an escape time then costs ``alpha_escape * N``
        samples, not ``alpha_max * N``.

    Returns
    -------
    The trajectory schema of :func:`quadsgd.ode.integrate` with dims ``(eta, seed)`` for array
    arguments (scalars give no batch dim). ``alpha = 0`` holds the run's own ``Q(0) = I`` and
    measured ``M(0)`` (also in ``M0``), from which the ODE can be started. A run stops early
    when the risk falls below ``RISK_FLOOR`` (SGD is then frozen) or trace(Q) blows up.
    ``alpha_escape`` is ``t / N`` for the first sample ``t`` after which the population risk is
    at or below the escape threshold (0 if it starts there, NaN if never): the risk is checked
    after every sample, so ``alpha_escape`` does not depend on the recording grid or on
    ``stop_at_escape``. Weight space checks it on ``W W^T / N`` carried forward by each step's
    exact rank-one algebra (equal to the recomputed overlaps up to rounding), at O(p^2) per
    sample instead of O(p^2 N).

    Raises
    ------
    ValueError naming the argument: widths, ``eta``, ``seed``, ``method``, ``escape_fraction``,
    ``noise`` (negative or not finite), a missing ``alpha_max`` or a grid finer than one sample.
    """
    p, pstar, N = _validate.widths(p, pstar, N)
    if method not in ("weights", "gram"):
        raise ValueError(f"method must be 'weights' or 'gram'; got {method!r}")
    eta_arr = _validate.positive_array("eta", eta)
    if np.ndim(eta) > 1 or np.ndim(seed) > 1:
        raise ValueError("eta and seed must be scalars or 1-D")
    seed_arr = _validate.seed_coordinate("seed", seed) if np.ndim(seed) else _validate.seeds("seed", seed)
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    noise = _validate.real("noise", noise, low=0.0, low_open=False)
    stop_at_escape = bool(stop_at_escape)
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
    alpha_escape = np.full((E, S), np.nan)
    threshold = escape_fraction * plateau_risk(p, pstar)
    # Runs in (eta, seed) order, flat views of the outputs.
    R = E * S
    Qr, Mr = Q.reshape(R, G, p, p), M.reshape(R, G, p, pstar)
    eta_r, seed_r = np.repeat(etas, S), np.tile(seeds, E)
    esc = np.full(R, -1, dtype=np.int64)
    filled = np.empty(R, dtype=np.int64)
    t_stop = np.empty(R, dtype=np.int64)
    if method == "weights":
        for k in range(R):
            filled[k], t_stop[k] = _run_weights(p, pstar, float(eta_r[k]), N, int(seed_r[k]), t_grid, Qr[k], Mr[k],
                                                noise, threshold, esc[k : k + 1], stop_at_escape)
    else:
        for lo in range(0, R, LANES):
            sl = slice(lo, lo + LANES)
            _run_gram(p, pstar, eta_r[sl], N, seed_r[sl], t_grid, Qr[sl], Mr[sl], noise, threshold, esc[sl],
                      stop_at_escape, filled[sl], t_stop[sl])
    for k in range(R):
        f, t = int(filled[k]), int(t_stop[k])
        if esc[k] >= 0:
            alpha_escape.flat[k] = esc[k] / N
        if stop_at_escape and esc[k] == t:
            reason: Status | None = Status.ESCAPED
        else:
            reason = _stop_reason(Qr[k, f - 1], Mr[k, f - 1]) if f else Status.DIVERGED
            if f < G and reason is not Status.CONVERGED:
                reason = Status.DIVERGED
        if reason is Status.CONVERGED:
            Qr[k, f:] = Qr[k, f - 1]
            Mr[k, f:] = Mr[k, f - 1]
        else:
            Qr[k, f:] = np.nan
            Mr[k, f:] = np.nan
        if reason is None:
            reason = Status.ESCAPED if esc[k] >= 0 else Status.CENSORED
        status.flat[k] = reason
        alpha_stop.flat[k] = t / N
    risk = theory_risk(Q, M)  # NaN overlaps (after a divergence or a stop at escape) give NaN risk

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
