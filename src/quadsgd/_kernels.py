"""Compiled kernels: the population risk and the ODE right-hand side, on blocks of lanes.

Each formula of docs/conventions.md sections 2-3 is written once here. The right-hand side
(:func:`rhs_lanes`) and the risk (:func:`risk_lanes`) work on a block of up to :data:`LANES`
independent instances stored with the instance index innermost (every matrix entry is a row of
lanes), so their arithmetic runs in SIMD lanes: the compiler vectorizes the loops over lanes. Each
lane's numbers come from the same sequence of IEEE operations whatever the other lanes hold, and
whether it is computed in a vector or a scalar remainder path: no sum runs across lanes and nothing
is contracted or reassociated (no fast-math). So an instance gives bit-identical results alone or
in any batch, in any lane. :mod:`quadsgd.theory` packs batches into lane blocks; :mod:`quadsgd.ode`
integrates lane blocks directly.

Layout of a state block ``y`` (``n_state = p^2 + p pstar`` rows, one column per lane): row
``i p + j`` holds ``Q_ij``, row ``p^2 + k pstar + r`` holds ``M_kr``; a teacher block ``T`` has
row ``r pstar + t`` for ``T_rt``.

Private to the package: the names here may change without notice.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd._jit import njit
from quadsgd._simd import vload, vmuladd, vsplat, vstore, vzero

__all__ = [
    "LANES", "CONTIGUOUS_P", "risk_lanes", "risk_lane", "rhs_lanes", "rhs_rows", "pack_lanes", "risk1", "risk_batch",
    "rhs_batch", "flatten_batch", "flat_noise",
]

#: Instances per block (at most; a smaller batch uses fewer lanes). Loops over lanes have a
#: run-time trip count, which the compiler vectorizes (a constant one of a few lanes it unrolls
#: into scalar code instead); 32 lanes (8 AVX2 vectors) amortize each loop's setup.
LANES = 32


@njit(cache=True)
def _mirror_lanes(out, o0, p):  # pragma: no cover - compiled
    """Copy the upper triangle of the (p x p) block at row ``o0`` of ``out`` to its lower one."""
    L = out.shape[1]
    for i in range(p):
        for j in range(i + 1, p):
            for k in range(L):
                out[o0 + j * p + i, k] = out[o0 + i * p + j, k]


@njit(cache=True)
def _sym_prod(A, a0, B, b0, p, out, o0):  # pragma: no cover - compiled
    """Upper triangle and mirror of ``A @ B`` (p x p blocks at rows ``a0``, ``b0``), known to be
    symmetric (``Q Q``, ``Q (Q Q)``). Row by row with ``l`` before ``j``: each loaded ``A_il``
    serves a row of products and the accumulations over ``l`` of different ``j`` are independent,
    so the FP-add latency is hidden; every entry still sums over ``l`` in order."""
    L = out.shape[1]
    for i in range(p):
        for j in range(i, p):
            for k in range(L):
                out[o0 + i * p + j, k] = 0.0
        for l in range(p):
            ra = a0 + i * p + l
            for j in range(i, p):
                rb = b0 + l * p + j
                ro = o0 + i * p + j
                for k in range(L):
                    out[ro, k] += A[ra, k] * B[rb, k]
    _mirror_lanes(out, o0, p)


@njit(cache=True)
def _prod(A, a0, n, m, B, b0, q, out, o0):  # pragma: no cover - compiled
    """``(A @ B)`` for an (n x m) block of ``A`` and an (m x q) block of ``B``, into ``out``."""
    L = out.shape[1]
    for i in range(n):
        for j in range(q):
            for k in range(L):
                out[o0 + i * q + j, k] = 0.0
        for l in range(m):
            ra = a0 + i * m + l
            for j in range(q):
                rb = b0 + l * q + j
                ro = o0 + i * q + j
                for k in range(L):
                    out[ro, k] += A[ra, k] * B[rb, k]


@njit(cache=True)
def _sym_prod_t(A, a0, B, b0, p, s, out, o0):  # pragma: no cover - compiled
    """Upper triangle and mirror of ``A @ B^T`` for (p x s) blocks, known to be symmetric
    (``M M^T``, ``(M T) M^T``)."""
    L = out.shape[1]
    for i in range(p):
        for j in range(i, p):
            for k in range(L):
                out[o0 + i * p + j, k] = 0.0
        for r in range(s):
            ra = a0 + i * s + r
            for j in range(i, p):
                rb = b0 + j * s + r
                ro = o0 + i * p + j
                for k in range(L):
                    out[ro, k] += A[ra, k] * B[rb, k]
    _mirror_lanes(out, o0, p)


@njit(cache=True)
def _mm_tiled(A, B, out, upper):  # pragma: no cover - compiled
    """``out = A @ B`` for contiguous ``A (n, m)``, ``B (m, q)``; with ``upper`` (square, result
    known to be symmetric) only the upper triangle, then mirrored. Tiles of 4 rows x 8 columns
    keep their partial sums in vector registers over the whole inner index
    (:mod:`quadsgd._simd`); every entry still sums over ``l`` in order,
    ``((0 + A_i0 B_0j) + A_i1 B_1j) + ...``, as the scalar tails do."""
    n, m = A.shape
    q = B.shape[1]
    i = 0
    while i + 4 <= n:
        r0, r1, r2, r3 = A[i], A[i + 1], A[i + 2], A[i + 3]
        j = i if upper else 0
        while j + 8 <= q:
            c00, c01, c10, c11 = vzero(), vzero(), vzero(), vzero()
            c20, c21, c30, c31 = vzero(), vzero(), vzero(), vzero()
            for l in range(m):
                b = B[l]
                b0 = vload(b, j)
                b1 = vload(b, j + 4)
                a = vsplat(r0[l])
                c00 = vmuladd(c00, a, b0)
                c01 = vmuladd(c01, a, b1)
                a = vsplat(r1[l])
                c10 = vmuladd(c10, a, b0)
                c11 = vmuladd(c11, a, b1)
                a = vsplat(r2[l])
                c20 = vmuladd(c20, a, b0)
                c21 = vmuladd(c21, a, b1)
                a = vsplat(r3[l])
                c30 = vmuladd(c30, a, b0)
                c31 = vmuladd(c31, a, b1)
            vstore(out[i], j, c00)
            vstore(out[i], j + 4, c01)
            vstore(out[i + 1], j, c10)
            vstore(out[i + 1], j + 4, c11)
            vstore(out[i + 2], j, c20)
            vstore(out[i + 2], j + 4, c21)
            vstore(out[i + 3], j, c30)
            vstore(out[i + 3], j + 4, c31)
            j += 8
        if j + 4 <= q:
            c00, c10, c20, c30 = vzero(), vzero(), vzero(), vzero()
            for l in range(m):
                b0 = vload(B[l], j)
                c00 = vmuladd(c00, vsplat(r0[l]), b0)
                c10 = vmuladd(c10, vsplat(r1[l]), b0)
                c20 = vmuladd(c20, vsplat(r2[l]), b0)
                c30 = vmuladd(c30, vsplat(r3[l]), b0)
            vstore(out[i], j, c00)
            vstore(out[i + 1], j, c10)
            vstore(out[i + 2], j, c20)
            vstore(out[i + 3], j, c30)
            j += 4
        for jj in range(j, q):
            for ii in range(i, i + 4):
                acc = 0.0
                for l in range(m):
                    acc += A[ii, l] * B[l, jj]
                out[ii, jj] = acc
        i += 4
    for ii in range(i, n):
        for jj in range(ii if upper else 0, q):
            acc = 0.0
            for l in range(m):
                acc += A[ii, l] * B[l, jj]
            out[ii, jj] = acc
    if upper:
        for i in range(n):
            for j in range(i + 1, n):
                out[j, i] = out[i, j]


@njit(cache=True)
def _sym_update(dQ, Q, QQ, QQQ, aQ, aQQ, aQ3, Mt, U, V):  # pragma: no cover - compiled
    """Upper triangle of ``dQ = aQ Q + aQQ QQ + aQ3 QQQ + sum_r (M_ir U_rj + V_ri M_jr)``
    (``Mt``, ``U``, ``V`` of shape (pstar, p)), then mirrored: four rows at a time, four columns
    per vector, the rank-2 pstar sum in order of ``r`` after the three matrix terms."""
    p = Q.shape[0]
    s = Mt.shape[0]
    sQ, sQQ, sQ3 = vsplat(aQ), vsplat(aQQ), vsplat(aQ3)
    i = 0
    while i + 4 <= p:
        for j in range(i, p - 3, 4):
            acc0 = vmuladd(vmuladd(vmuladd(vzero(), sQ, vload(Q[i], j)), sQQ, vload(QQ[i], j)), sQ3, vload(QQQ[i], j))
            acc1 = vmuladd(vmuladd(vmuladd(vzero(), sQ, vload(Q[i + 1], j)), sQQ, vload(QQ[i + 1], j)), sQ3,
                           vload(QQQ[i + 1], j))
            acc2 = vmuladd(vmuladd(vmuladd(vzero(), sQ, vload(Q[i + 2], j)), sQQ, vload(QQ[i + 2], j)), sQ3,
                           vload(QQQ[i + 2], j))
            acc3 = vmuladd(vmuladd(vmuladd(vzero(), sQ, vload(Q[i + 3], j)), sQQ, vload(QQ[i + 3], j)), sQ3,
                           vload(QQQ[i + 3], j))
            for r in range(s):
                u = vload(U[r], j)
                m = vload(Mt[r], j)
                mr, vr = Mt[r], V[r]
                acc0 = vmuladd(vmuladd(acc0, vsplat(mr[i]), u), vsplat(vr[i]), m)
                acc1 = vmuladd(vmuladd(acc1, vsplat(mr[i + 1]), u), vsplat(vr[i + 1]), m)
                acc2 = vmuladd(vmuladd(acc2, vsplat(mr[i + 2]), u), vsplat(vr[i + 2]), m)
                acc3 = vmuladd(vmuladd(acc3, vsplat(mr[i + 3]), u), vsplat(vr[i + 3]), m)
            vstore(dQ[i], j, acc0)
            vstore(dQ[i + 1], j, acc1)
            vstore(dQ[i + 2], j, acc2)
            vstore(dQ[i + 3], j, acc3)
        for jj in range(p - (p - i) % 4, p):
            for ii in range(i, i + 4):
                dQ[ii, jj] = _sym_update_entry(Q, QQ, QQQ, aQ, aQQ, aQ3, Mt, U, V, ii, jj)
        i += 4
    for ii in range(i, p):
        for jj in range(ii, p):
            dQ[ii, jj] = _sym_update_entry(Q, QQ, QQQ, aQ, aQQ, aQ3, Mt, U, V, ii, jj)
    for i in range(p):
        for j in range(i + 1, p):
            dQ[j, i] = dQ[i, j]


@njit(cache=True, inline="always")
def _sym_update_entry(Q, QQ, QQQ, aQ, aQQ, aQ3, Mt, U, V, i, j):  # pragma: no cover - compiled
    """One entry of :func:`_sym_update`, in the same order of operations."""
    acc = ((0.0 + aQ * Q[i, j]) + aQQ * QQ[i, j]) + aQ3 * QQQ[i, j]
    for r in range(Mt.shape[0]):
        acc = (acc + Mt[r, i] * U[r, j]) + V[r, i] * Mt[r, j]
    return acc


#: From this width on an instance's right-hand side is evaluated on contiguous matrices, lane by
#: lane (rows of p >= 16 numbers fill vectors, products in register tiles); below it, across
#: lanes. The two paths evaluate the same closed forms in a different order of operations, so
#: they agree to rounding, not bit for bit; each is bit-identical for a member alone or in a batch.
CONTIGUOUS_P = 16

# Scratch rows of rhs_lanes after the matrices (each a row of lanes): traces, then coefficients.
_TRQ, _TRT, _TRX, _TRQQ, _TRTT, _AQ, _AX, _AQQ, _AM, _AXQ, _AQ3, _BM, _BMT, _BQM = range(14)


@njit(cache=True, inline="always")
def _coefficients(trQ, trT, trX, trQQ, trTT, eta, noise, p, s):  # pragma: no cover - compiled
    """The closed forms of docs/conventions.md sections 3.2-3.3 collected per matrix:
    ``dM = bM M + bMT (M T) + bQM (Q M)`` and
    ``dQ = aQ Q + aX X + aQQ (Q Q) + aM (M T M^T) + aXQ (X Q + Q X) + aQ3 (Q Q Q)``."""
    a = trT / s - trQ / p
    cM = 2.0 * eta / p
    c1 = 4.0 * eta / p
    c2 = 4.0 * eta * eta / (p * p)
    cq = ((trT * trT + 2.0 * trTT) / (s * s) - 2.0 * (trT * trQ + 2.0 * trX) / (p * s)
          + (trQ * trQ + 2.0 * trQQ) / (p * p))
    return (
        c1 * a + c2 * (cq + noise),
        2.0 * c1 / s + c2 * (4.0 * trT / (s * s) - 4.0 * trQ / (p * s)),
        -2.0 * c1 / p + c2 * (4.0 * trQ / (p * p) - 4.0 * trT / (p * s)),
        8.0 * c2 / (s * s),
        -8.0 * c2 / (p * s),
        8.0 * c2 / (p * p),
        cM * a,
        2.0 * cM / s,
        -2.0 * cM / p,
    )


@njit(cache=True)
def rhs_rows(p, s):  # pragma: no cover - compiled
    """Rows of the scratch block ``w`` of :func:`rhs_lanes` (at least twice the state's rows)."""
    return 4 * p * p + 2 * p * s + 14


@njit(cache=True)
def _rhs_contiguous(y, T, eta, noise, p, s, out, w):  # pragma: no cover - compiled
    """:func:`rhs_lanes` lane by lane on contiguous copies of each instance's matrices. The
    block is transposed into (and the result out of) the scratch ``w`` row by row, so that the
    strided side of each copy walks along cache lines shared by consecutive rows.

    The O(p^2 p*) part of ``dQ`` is one rank-2p* update on the upper triangle,
    ``aX X + aM M T M^T + aXQ (X Q + Q X) = M U^T + V M^T`` with ``U = aX M + aM M T + aXQ Q M``
    and ``V = aXQ Q M`` (``T`` symmetric), kept as rows of ``M^T`` so that every loop runs along
    a contiguous row of p numbers."""
    L = out.shape[1]
    pp = p * p
    ns = pp + p * s
    Yc = w[:ns].reshape(L, ns)
    Oc = w[ns:2 * ns].reshape(L, ns)
    for i in range(ns):
        for k in range(L):
            Yc[k, i] = y[i, k]
    Tc = np.empty((s, s))
    QQ = np.empty((p, p))
    QQQ = np.empty((p, p))
    Mt = np.empty((s, p))  # M^T
    MTt = np.empty((s, p))  # (M T)^T = T M^T (T symmetric)
    QMt = np.empty((s, p))  # (Q M)^T = M^T Q
    U = np.empty((s, p))
    V = np.empty((s, p))
    for k in range(L):
        Q = Yc[k, :pp].reshape(p, p)
        M = Yc[k, pp:].reshape(p, s)
        dQ = Oc[k, :pp].reshape(p, p)
        dM = Oc[k, pp:].reshape(p, s)
        for r in range(s * s):
            Tc[r // s, r % s] = T[r, k]
        for r in range(s):
            for j in range(p):
                Mt[r, j] = M[j, r]
        _mm_tiled(Q, Q, QQ, True)
        _mm_tiled(Q, QQ, QQQ, True)
        _mm_tiled(Tc, Mt, MTt, False)
        _mm_tiled(Mt, Q, QMt, False)
        trQ = 0.0
        trQQ = 0.0
        for i in range(p):
            trQ += Q[i, i]
            trQQ += QQ[i, i]
        trX = 0.0
        for i in range(p * s):
            trX += Yc[k, pp + i] * Yc[k, pp + i]
        trT = 0.0
        for r in range(s):
            trT += Tc[r, r]
        trTT = 0.0
        for r in range(s * s):
            trTT += T[r, k] * T[r, k]
        aQ, aX, aQQ, aM, aXQ, aQ3, bM, bMT, bQM = _coefficients(trQ, trT, trX, trQQ, trTT, eta[k], noise[k], p, s)
        for r in range(s):
            for j in range(p):
                U[r, j] = aX * Mt[r, j] + aM * MTt[r, j] + aXQ * QMt[r, j]
                V[r, j] = aXQ * QMt[r, j]
                dM[j, r] = bM * Mt[r, j] + bMT * MTt[r, j] + bQM * QMt[r, j]
        _sym_update(dQ, Q, QQ, QQQ, aQ, aQQ, aQ3, Mt, U, V)
    for i in range(ns):
        for k in range(L):
            out[i, k] = Oc[k, i]


@njit(cache=True)
def rhs_lanes(y, T, eta, noise, p, s, out, w):  # pragma: no cover - compiled
    """dQ/dalpha, dM/dalpha (docs/conventions.md section 3) for a block of instances (lanes).

    ``y`` (p^2 + p pstar, lanes) holds ``Q, M`` (module docstring), ``T`` (pstar^2, lanes),
    ``eta`` and ``noise`` (lanes,) the learning rates and label-noise variances; ``out`` gets the
    derivatives in the layout of ``y``; ``w`` (:func:`rhs_rows`, lanes) is scratch, allocated once
    per integration rather than per call. ``Q`` and ``T`` are taken as symmetric and ``dQ`` is
    returned exactly symmetric, so a symmetric ``Q`` stays so along a trajectory. The two
    (p x p) products ``Q Q`` and ``Q (Q Q)`` (upper triangles: p^2 (p + 1) multiply-adds
    together) are the only O(p^3) work; ``X Q`` enters only as ``X Q + Q X = M (Q M)^T + (Q M) M^T``,
    which costs O(p^2 p*). The closed forms of sections 3.2-3.3 are collected into one coefficient
    per matrix and lane (:func:`_coefficients`). From :data:`CONTIGUOUS_P` on, each instance is
    evaluated on contiguous matrices (:func:`_rhs_contiguous`).

    Label noise of variance ``noise`` adds ``noise Q`` to ``E[(y_noisy - yhat)^2 lambda lambda^T]``
    (section 3.3: an independent centred label term, whose cross terms average to zero).
    """
    if p >= CONTIGUOUS_P:
        _rhs_contiguous(y, T, eta, noise, p, s, out, w)
        return
    L = out.shape[1]
    pp = p * p
    ps = p * s
    QQ = 0
    QQQ = pp
    X = 2 * pp
    MTMt = 3 * pp
    MT = 4 * pp
    QM = 4 * pp + ps
    SC = 4 * pp + 2 * ps
    _sym_prod(y, 0, y, 0, p, w, QQ)
    _sym_prod(y, 0, w, QQ, p, w, QQQ)
    _sym_prod_t(y, pp, y, pp, p, s, w, X)
    _prod(y, pp, p, s, T, 0, s, w, MT)
    _prod(y, 0, p, p, y, pp, s, w, QM)
    _sym_prod_t(w, MT, y, pp, p, s, w, MTMt)

    for c in range(5):
        for k in range(L):
            w[SC + c, k] = 0.0
    for i in range(p):
        for k in range(L):
            w[SC + _TRQ, k] += y[i * p + i, k]
            w[SC + _TRX, k] += w[X + i * p + i, k]
            w[SC + _TRQQ, k] += w[QQ + i * p + i, k]
    for r in range(s):
        for k in range(L):
            w[SC + _TRT, k] += T[r * s + r, k]
    for r in range(s * s):
        for k in range(L):
            w[SC + _TRTT, k] += T[r, k] * T[r, k]
    for k in range(L):
        cf = _coefficients(w[SC + _TRQ, k], w[SC + _TRT, k], w[SC + _TRX, k], w[SC + _TRQQ, k],
                           w[SC + _TRTT, k], eta[k], noise[k], p, s)
        for c in range(9):
            w[SC + _AQ + c, k] = cf[c]

    for i in range(ps):
        for k in range(L):
            out[pp + i, k] = (w[SC + _BM, k] * y[pp + i, k] + w[SC + _BMT, k] * w[MT + i, k]
                              + w[SC + _BQM, k] * w[QM + i, k])
    for kk in range(p):
        for l in range(kk, p):
            row = kk * p + l
            for k in range(L):
                xq = 0.0  # (X Q + Q X)_kl
                for r in range(s):
                    xq += (y[pp + kk * s + r, k] * w[QM + l * s + r, k]
                           + w[QM + kk * s + r, k] * y[pp + l * s + r, k])
                out[row, k] = (w[SC + _AQ, k] * y[row, k] + w[SC + _AX, k] * w[X + row, k]
                               + w[SC + _AQQ, k] * w[QQ + row, k] + w[SC + _AM, k] * w[MTMt + row, k]
                               + w[SC + _AXQ, k] * xq + w[SC + _AQ3, k] * w[QQQ + row, k])
                out[l * p + kk, k] = out[row, k]


@njit(cache=True)
def risk_lanes(y, T, p, s, lo, hi, acc, out):  # pragma: no cover - compiled
    """Population risk eps(Q, M, T) (docs/conventions.md section 2) of lanes ``lo..hi-1`` of a
    block into ``out``; ``acc`` (5, lanes) is scratch. A lane's value does not depend on the range
    it is computed in (the whole block at once, or alone)."""
    pp = p * p
    for c in range(5):
        for k in range(lo, hi):
            acc[c, k] = 0.0
    for i in range(p):
        for k in range(lo, hi):
            acc[0, k] += y[i * p + i, k]
    for r in range(s):
        for k in range(lo, hi):
            acc[1, k] += T[r * s + r, k]
    # Q and T are symmetric, so tr(QQ) = sum Q_ij^2, tr(MM^T) = sum M_ij^2.
    for i in range(pp):
        for k in range(lo, hi):
            acc[2, k] += y[i, k] * y[i, k]
    for i in range(s * s):
        for k in range(lo, hi):
            acc[3, k] += T[i, k] * T[i, k]
    for i in range(pp, pp + p * s):
        for k in range(lo, hi):
            acc[4, k] += y[i, k] * y[i, k]
    for k in range(lo, hi):
        trQ = acc[0, k]
        trT = acc[1, k]
        teacher = (trT * trT + 2.0 * acc[3, k]) / (s * s)
        student = (trQ * trQ + 2.0 * acc[2, k]) / (p * p)
        cross = 2.0 * (trQ * trT + 2.0 * acc[4, k]) / (p * s)
        out[k] = 0.5 * (teacher + student - cross)


@njit(cache=True)
def risk_lane(y, T, k, p, s):  # pragma: no cover - compiled
    """:func:`risk_lanes` of lane ``k`` alone."""
    L = y.shape[1]
    acc = np.empty((5, L))
    out = np.empty(L)
    risk_lanes(y, T, p, s, k, k + 1, acc, out)
    return out[k]


@njit(cache=True)
def pack_lanes(Q, M, T, b, k, y, Tl):  # pragma: no cover - compiled
    """Load instance ``b`` of flat batches ``Q (n, p, p)``, ``M (n, p, pstar)``, ``T (n, pstar,
    pstar)`` into lane ``k`` of the blocks ``y`` and ``Tl``."""
    p = Q.shape[1]
    s = T.shape[1]
    pp = p * p
    for i in range(p):
        for j in range(p):
            y[i * p + j, k] = Q[b, i, j]
        for r in range(s):
            y[pp + i * s + r, k] = M[b, i, r]
    for r in range(s):
        for t in range(s):
            Tl[r * s + t, k] = T[b, r, t]


@njit(cache=True)
def risk1(Q, M, T):  # pragma: no cover - compiled
    """Population risk of one instance ``Q (p, p)``, ``M (p, pstar)``, ``T (pstar, pstar)``."""
    p = Q.shape[0]
    s = T.shape[0]
    y = np.empty((p * p + p * s, 1))
    Tl = np.empty((s * s, 1))
    pack_lanes(Q.reshape(1, p, p), M.reshape(1, p, s), T.reshape(1, s, s), 0, 0, y, Tl)
    return risk_lane(y, Tl, 0, p, s)


@njit(cache=True)
def risk_batch(Q, M, T, out):  # pragma: no cover - compiled
    for b in range(Q.shape[0]):
        out[b] = risk1(Q[b], M[b], T[b])


@njit(cache=True)
def _rhs_batch(Q, M, T, eta, noise, dQ, dM):  # pragma: no cover - compiled
    n, p, s = M.shape
    pp = p * p
    L = max(1, min(LANES, n))
    y = np.zeros((pp + p * s, L))
    Tl = np.zeros((s * s, L))
    e = np.zeros(L)
    nz = np.zeros(L)
    out = np.empty_like(y)
    w = np.empty((rhs_rows(p, s), L))
    for b0 in range(0, n, L):
        m = min(L, n - b0)
        for k in range(m):
            pack_lanes(Q, M, T, b0 + k, k, y, Tl)
            e[k] = eta[b0 + k]
            nz[k] = noise[b0 + k]
        rhs_lanes(y, Tl, e, nz, p, s, out, w)
        for k in range(m):
            for i in range(p):
                for j in range(p):
                    dQ[b0 + k, i, j] = out[i * p + j, k]
                for r in range(s):
                    dM[b0 + k, i, r] = out[pp + i * s + r, k]


def rhs_batch(
    Q: NDArray[np.float64], M: NDArray[np.float64], T: NDArray[np.float64], eta: NDArray[np.float64],
    dQ: NDArray[np.float64], dM: NDArray[np.float64], noise: NDArray[np.float64] | None = None,
) -> None:
    """dQ/dalpha, dM/dalpha of flat batches (``Q (n, p, p)``, ``M (n, p, pstar)``, ``T (n, pstar,
    pstar)``, ``eta (n,)``, ``noise (n,)``, zero by default) into ``dQ``, ``dM``: lane blocks of
    :func:`rhs_lanes`, so an instance's numbers do not depend on its batch."""
    n, p, s = M.shape
    nz = np.zeros(n) if noise is None else noise
    _rhs_batch(Q, M, T, eta, nz, dQ, dM)


def flat_noise(noise: NDArray[np.float64], batch: tuple[int, ...]) -> NDArray[np.float64]:
    """``noise`` (from :func:`quadsgd._validate.eta_and_noise`) broadcast to ``batch`` and flattened:
    a C-contiguous, writable copy (see :func:`flatten_batch`)."""
    return np.array(np.broadcast_to(noise, batch), order="C").reshape(-1)


#: Relative tolerance of the symmetry of ``Q`` and ``T`` and of the positive semi-definiteness of
#: the joint covariance ``[[Q, M], [M^T, T]]`` (relative to its largest entry, at least 1).
OVERLAP_RTOL = 1e-9


def flatten_batch(
    Q: ArrayLike,
    M: ArrayLike,
    T: ArrayLike | None,
    eta: ArrayLike | None = None,
    *,
    missing_ok: bool | None = None,
    joint_psd: bool = False,
    names: tuple[str, str, str] = ("Q", "M", "T"),
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None,
           tuple[int, ...]]:
    """Validate shapes and values, broadcast ``Q, M, T`` (and ``eta``) to one batch shape, and flatten it.

    Returns C-contiguous ``Q (n, p, p)``, ``M (n, p, pstar)``, ``T (n, pstar, pstar)``,
    ``eta (n,)`` (None if not given) and the batch shape, ``n = prod(batch)``.

    Values (``ValueError`` naming the argument, by ``names``, and the rule): every entry finite;
    ``Q`` and ``T`` symmetric within :data:`OVERLAP_RTOL` (then made exactly symmetric, which leaves
    a symmetric input bit for bit unchanged); ``eta`` finite. For dynamics (``eta`` given) ``Q`` and
    ``T`` must also be positive semi-definite (smallest eigenvalue >= ``-OVERLAP_RTOL`` x scale),
    and with ``joint_psd`` (the start of an integration: ``(lambda, nu)`` is a Gaussian pair) the
    joint covariance ``[[Q, M], [M^T, T]]`` too; the right-hand side alone may be evaluated at any
    symmetric point with PSD blocks.
    ``missing_ok`` (default: when no ``eta`` is given, i.e. a risk evaluation) lets a member holding
    NaN through unchecked, as a missing point (after a divergence) whose risk is NaN.
    """
    Q = np.asarray(Q, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    nQ, nM, nT = names
    if Q.ndim < 2 or Q.shape[-1] != Q.shape[-2]:
        raise ValueError(f"{nQ} must have shape (..., p, p); got {Q.shape}")
    if M.ndim < 2 or M.shape[-2] != Q.shape[-1]:
        raise ValueError(f"{nM} must have shape (..., p, pstar) with p = {Q.shape[-1]}; got {M.shape}")
    p, s = M.shape[-2:]
    T = np.eye(s) if T is None else np.asarray(T, dtype=np.float64)
    if T.ndim < 2 or T.shape[-2:] != (s, s):
        raise ValueError(f"{nT} must have shape (..., pstar, pstar) with pstar = {s}; got {T.shape}")
    eta_arr = None if eta is None else np.asarray(eta, dtype=np.float64)
    try:
        batch = np.broadcast_shapes(Q.shape[:-2], M.shape[:-2], T.shape[:-2])
    except ValueError as err:
        raise ValueError(
            f"batch shapes of {nQ} {Q.shape[:-2]}, {nM} {M.shape[:-2]}, {nT} {T.shape[:-2]} do not broadcast"
        ) from err
    if eta_arr is not None:
        if not np.all(np.isfinite(eta_arr)):
            raise ValueError(f"eta must be finite; got {eta_arr[~np.isfinite(eta_arr)][:4].tolist()}")
        try:
            batch = np.broadcast_shapes(batch, eta_arr.shape)
        except ValueError as err:
            raise ValueError(f"eta of shape {eta_arr.shape} does not broadcast to batch {batch}") from err
    Q, T = _check_overlaps(Q, M, T, names, missing_ok=eta is None if missing_ok is None else missing_ok,
                           psd=eta is not None, joint=joint_psd)
    n = int(np.prod(batch, dtype=np.int64))

    def flat(x: NDArray[np.float64], tail: tuple[int, ...]) -> NDArray[np.float64]:
        # A copy, always writable: numba compiles a separate specialization for read-only
        # arrays (a broadcast view is one), which the warm-up job would not have made.
        return np.array(np.broadcast_to(x, batch + tail), order="C").reshape((n,) + tail)

    eta_flat = None if eta_arr is None else flat(eta_arr, ())
    return flat(Q, (p, p)), flat(M, (p, s)), flat(T, (s, s)), eta_flat, batch


def _first_bad(mask: NDArray[np.bool_]) -> str:
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return f" (first at batch index {idx})" if idx else ""


def _check_overlaps(
    Q: NDArray[np.float64], M: NDArray[np.float64], T: NDArray[np.float64], names: tuple[str, str, str], *,
    missing_ok: bool, psd: bool, joint: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The value rules of :func:`flatten_batch` on the un-broadcast blocks; returns ``Q, T``
    made exactly symmetric."""
    nQ, nM, nT = names
    p, s = M.shape[-2:]
    batch = np.broadcast_shapes(Q.shape[:-2], M.shape[:-2], T.shape[:-2])
    missing = np.zeros(batch, dtype=bool)
    if missing_ok:
        for x in (Q, M, T):
            missing = missing | np.broadcast_to(np.isnan(x).any(axis=(-2, -1)), batch)
    for name, x in ((nQ, Q), (nM, M), (nT, T)):
        bad = ~np.isfinite(x).all(axis=(-2, -1))
        bad = np.broadcast_to(bad, batch) & ~missing
        if bad.any():
            vals = x[~np.isfinite(x)][:4].tolist()
            raise ValueError(f"{name} must be finite (no NaN or infinity); got {vals}{_first_bad(bad)}")
    with np.errstate(invalid="ignore"):
        for name, x in ((nQ, Q), (nT, T)):
            asym = np.abs(x - np.swapaxes(x, -1, -2)).max(axis=(-2, -1), initial=0.0)
            scale = np.maximum(1.0, np.abs(x).max(axis=(-2, -1), initial=0.0))
            bad = np.broadcast_to(asym > OVERLAP_RTOL * scale, batch) & ~missing
            if bad.any():
                worst = float(np.nanmax(np.broadcast_to(asym, batch)[bad]))
                raise ValueError(f"{name} must be symmetric (an overlap matrix); largest |{name} - {name}^T| "
                                 f"is {worst:.3g}{_first_bad(bad)}")
        Q = 0.5 * (Q + np.swapaxes(Q, -1, -2))
        T = 0.5 * (T + np.swapaxes(T, -1, -2))
        blocks = []
        if psd:
            blocks += [(f"{nQ}", Q), (f"{nT}", T)]
        if joint:
            Qb, Mb, Tb = (np.broadcast_to(x, batch + x.shape[-2:]) for x in (Q, M, T))
            top = np.concatenate([Qb, Mb], axis=-1)
            bottom = np.concatenate([np.swapaxes(Mb, -1, -2), Tb], axis=-1)
            blocks.append((f"the joint covariance [[{nQ}, {nM}], [{nM}^T, {nT}]] of (lambda, nu)",
                           np.concatenate([top, bottom], axis=-2)))
        for what, G in blocks:
            G = np.broadcast_to(G, batch + G.shape[-2:])
            ok = ~missing
            eig = np.full(batch + G.shape[-1:], np.nan)
            eig[ok] = np.linalg.eigvalsh(G[ok])
            scale = np.maximum(1.0, np.abs(G).max(axis=(-2, -1), initial=0.0))
            bad = (eig.min(axis=-1, initial=np.inf) < -OVERLAP_RTOL * scale) & ok
            if bad.any():
                lowest = float(np.min(eig[bad]))
                raise ValueError(f"{what} must be positive semi-definite (a covariance); smallest eigenvalue "
                                 f"{lowest:.3g}{_first_bad(bad)}")
    return Q, T
