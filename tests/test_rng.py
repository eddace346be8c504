"""Keyed random streams: one draw per (seed, purpose, key), independent of the batch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quadsgd import init
from quadsgd.rng import Purpose, haar_rows, seed_sequence, stream


def test_a_stream_depends_only_on_seed_purpose_and_key():
    a = stream(7, Purpose.ODE_INIT, 2, 1, 100).standard_normal(5)
    np.testing.assert_array_equal(a, stream(7, Purpose.ODE_INIT, 2, 1, 100).standard_normal(5))
    np.testing.assert_array_equal(a, stream(7.0, Purpose.ODE_INIT, 2, 1, 100).standard_normal(5))
    others = [
        stream(8, Purpose.ODE_INIT, 2, 1, 100),  # another seed
        stream(7, Purpose.GRAM_INIT, 2, 1, 100),  # another purpose
        stream(7, Purpose.ODE_INIT, 2, 1, 101),  # another problem
        stream(7, Purpose.ODE_INIT, 1, 2, 100),  # the key is ordered
    ]
    for other in others:
        assert not np.array_equal(a, other.standard_normal(5))


def test_seed_sequence_is_the_documented_keyed_sequence():
    ss = seed_sequence(5, Purpose.WEIGHTS_SAMPLES, 3, 2, 50)
    assert ss.entropy == 5 and ss.spawn_key == (int(Purpose.WEIGHTS_SAMPLES), 3, 2, 50)
    ref = np.random.SeedSequence(entropy=5, spawn_key=(3, 3, 2, 50))
    np.testing.assert_array_equal(ss.generate_state(4), ref.generate_state(4))


def test_purposes_are_distinct_tags():
    assert len({int(p) for p in Purpose}) == len(Purpose)


@pytest.mark.parametrize("seed", [-1, 2**63, 0.5, True])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        seed_sequence(seed, Purpose.ODE_INIT, 1, 1, 10)


def test_streams_do_not_depend_on_the_batch():
    """A member's M(0) is its own stream's: alone, first or last in a batch, any batch shape."""
    _, batch, _ = init.ode_initial(2, 1, 100, seed=[3, 11, 5])
    _, grid, _ = init.ode_initial(2, 1, 100, seed=[[5, 3], [11, 0]])
    for s, row in ((3, batch[0]), (11, batch[1]), (5, batch[2])):
        expected = stream(s, Purpose.ODE_INIT, 2, 1, 100).standard_normal((2, 1)) / np.sqrt(100)
        np.testing.assert_array_equal(row, expected)
    np.testing.assert_array_equal(grid[0, 0], batch[2])
    np.testing.assert_array_equal(grid[1, 0], batch[1])


def test_haar_rows_are_orthonormal_and_haar_distributed():
    g = np.random.default_rng(0)
    rows = haar_rows(g, 3, 7)
    assert rows.shape == (3, 7)
    np.testing.assert_allclose(rows @ rows.T, np.eye(3), atol=1e-12)
    # Haar: the first coordinate of a uniform unit vector in R^N has x^2 ~ Beta(1/2, (N-1)/2).
    x = np.array([haar_rows(g, 1, 7)[0, 0] for _ in range(2000)])
    assert stats.kstest(x**2, stats.beta(0.5, 3.0).cdf).pvalue > 1e-3
    assert stats.kstest(np.sign(x), lambda v: np.where(v < 0, 0.0, np.where(v < 1, 0.5, 1.0))).pvalue > 1e-3 or (
        abs(np.mean(x > 0) - 0.5) < 0.05)


def test_haar_rows_avoid_a_span():
    g = np.random.default_rng(1)
    avoid = haar_rows(g, 2, 6)
    rows = haar_rows(g, 3, 6, avoid=avoid)
    np.testing.assert_allclose(rows @ rows.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rows @ avoid.T, 0.0, atol=1e-12)
