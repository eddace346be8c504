"""The vector intrinsics of quadsgd._simd and the register-tiled products built on them."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from quadsgd._kernels import _mm_tiled, _sym_update
from quadsgd._simd import vload, vmuladd, vsplat, vstore, vzero


@njit
def _muladd(acc, a, b, out):
    vstore(out, 0, vmuladd(vload(acc, 0), vsplat(a), vload(b, 0)))


def test_vmuladd_rounds_the_product_before_the_sum():
    """``1 + (1 + 2^-30)(1 - 2^-30) - 1``: the exact product ``1 - 2^-60`` rounds to 1, so the
    unfused result is 0; a fused multiply-add would give -2^-60. Each lane equals the scalar
    Python expression bit for bit, and lanes do not mix."""
    a = 1.0 + 2.0**-30
    b = np.array([1.0 - 2.0**-30, 2.0, -3.5, 1e-300])
    acc = np.array([-1.0, 0.25, 7.0, 1e-300])
    out = np.full(4, np.nan)
    _muladd(acc, a, b, out)
    assert out[0] == 0.0
    np.testing.assert_array_equal(out, [acc[k] + a * b[k] for k in range(4)])


@njit
def _copy_at(x, i, out, j):
    vstore(out, j, vload(x, i))
    vstore(out, j + 4, vzero())


def test_load_and_store_move_four_numbers_at_any_offset():
    x = np.arange(11.0)
    out = np.full(12, -1.0)
    _copy_at(x, 3, out, 1)
    np.testing.assert_array_equal(out, [-1, 3, 4, 5, 6, 0, 0, 0, 0, -1, -1, -1])


def test_load_refuses_arrays_that_are_not_contiguous_float64_rows():
    with pytest.raises((TypeError, TypingError), match="contiguous 1-D float64"):
        _copy_at(np.arange(22.0)[::2], 0, np.zeros(8), 0)
    with pytest.raises((TypeError, TypingError), match="contiguous 1-D float64"):
        _copy_at(np.arange(11, dtype=np.float32), 0, np.zeros(8), 0)


def _in_order(A, B, upper):
    """``A @ B`` by plain Python sums over the inner index in order: the order the tiles keep."""
    n, m = A.shape
    q = B.shape[1]
    out = np.full((n, q), np.nan)
    for i in range(n):
        for j in range(i if upper else 0, q):
            acc = 0.0
            for l in range(m):
                acc += float(A[i, l]) * float(B[l, j])
            out[i, j] = acc
            if upper:
                out[j, i] = acc
    return out


@pytest.mark.parametrize("n,m,q", [(1, 1, 1), (3, 5, 7), (4, 2, 8), (5, 16, 13), (9, 4, 20), (16, 3, 16)])
def test_tiled_product_equals_the_sum_in_order(n, m, q, rng):
    """Shapes with full 4 x 8 tiles, 4 x 4 tiles and scalar tails in rows and columns."""
    A = rng.standard_normal((n, m))
    B = rng.standard_normal((m, q))
    out = np.full((n, q), np.nan)
    _mm_tiled(A, B, out, False)
    np.testing.assert_array_equal(out, _in_order(A, B, upper=False))


@pytest.mark.parametrize("p", [1, 3, 4, 8, 13, 16, 17, 20, 32])
def test_tiled_symmetric_product_equals_the_sum_in_order(p, rng):
    S = rng.standard_normal((p, p + 2))
    Q = S @ S.T
    out = np.full((p, p), np.nan)
    _mm_tiled(Q, Q, out, True)
    np.testing.assert_array_equal(out, _in_order(Q, Q, upper=True))
    np.testing.assert_allclose(out, Q @ Q, rtol=1e-13, atol=1e-13 * np.abs(Q @ Q).max())


@pytest.mark.parametrize("p,pstar", [(1, 1), (4, 2), (13, 3), (16, 1), (17, 4)])
def test_symmetric_update_matches_its_matrix_form(p, pstar, rng):
    """``aQ Q + aQQ QQ + aQ3 QQQ + M U^T + V M^T`` (with ``U, V`` given as (pstar, p) rows) on the
    upper triangle, mirrored: exactly symmetric and equal to numpy's matrix expression."""
    S = rng.standard_normal((p, p))
    Q, QQ, QQQ = S + S.T, S @ S.T, S.T @ S
    Mt, U, V = (rng.standard_normal((pstar, p)) for _ in range(3))
    aQ, aQQ, aQ3 = 0.3, -1.7, 0.05
    dQ = np.full((p, p), np.nan)
    _sym_update(dQ, Q, QQ, QQQ, aQ, aQQ, aQ3, Mt, U, V)
    expect = aQ * Q + aQQ * QQ + aQ3 * QQQ + Mt.T @ U + V.T @ Mt
    np.testing.assert_array_equal(dQ, dQ.T)
    np.testing.assert_allclose(np.triu(dQ), np.triu(expect), rtol=1e-12, atol=1e-12 * np.abs(expect).max())
