"""Initial conditions: the paper's laws, and reproducibility independent of batch composition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quadsgd import init


def test_ode_initial_law_and_shapes():
    Q0, M0, T = init.ode_initial(3, 2, 400, seed=np.arange(2000))
    assert Q0.shape == (2000, 3, 3) and M0.shape == (2000, 3, 2) and T.shape == (2, 2)
    np.testing.assert_array_equal(Q0[17], np.eye(3))
    np.testing.assert_array_equal(T, np.eye(2))
    z = M0.ravel() * np.sqrt(400)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_member_does_not_depend_on_its_batch():
    _, batch, _ = init.ode_initial(2, 1, 1000, seed=np.array([[5, 6], [7, 8]]))
    _, alone, _ = init.ode_initial(2, 1, 1000, seed=7)
    np.testing.assert_array_equal(batch[1, 0], alone)
    _, other_problem, _ = init.ode_initial(2, 1, 1001, seed=7)
    assert not np.array_equal(other_problem, alone)


def test_finite_n_weights_are_orthonormal_sets_with_norm_N():
    W, Wstar = init.finite_n_weights(4, 2, 300, seed=3)
    np.testing.assert_allclose(W @ W.T / 300, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(Wstar @ Wstar.T / 300, np.eye(2), atol=1e-12)
    W2, _ = init.finite_n_weights(4, 2, 300, seed=3)
    np.testing.assert_array_equal(W, W2)


def test_bartlett_overlaps_have_the_law_of_explicit_weights():
    """M(0) drawn in O(1) work against M(0) read off explicit Haar weights, entry and norm laws."""
    p, pstar, N, n = 3, 2, 12, 1500
    explicit = np.stack([
        (lambda W, Ws: W @ Ws.T / N)(*init.finite_n_weights(p, pstar, N, s)) for s in range(n)
    ])
    reduced = np.stack([init.finite_n_overlaps(p, pstar, N, s) for s in range(n)])
    assert stats.ks_2samp(explicit[:, 0, 0], reduced[:, 0, 0]).pvalue > 1e-3
    assert stats.ks_2samp((explicit**2).sum((1, 2)), (reduced**2).sum((1, 2))).pvalue > 1e-3
    # At N = 12 the law is far from N(0, 1/N) (|M|^2 is bounded by pstar): a real check.
    assert (reduced**2).sum((1, 2)).max() <= pstar + 1e-12


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: init.ode_initial(0, 1, 10, 0), "p"),
        (lambda: init.ode_initial(1, 1.5, 10, 0), "pstar"),
        (lambda: init.ode_initial(2, 2, 3, 0), "N"),
        (lambda: init.ode_initial(2, 2, 10, -1), "seed"),
        (lambda: init.finite_n_weights(True, 1, 10, 0), "p"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
