"""Closed-form expectations of quadsgd.theory against Monte Carlo over (lambda, nu)."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import theory

N_MC = 400_000


def mc_moments(Q, M, T, eta, rng, n=N_MC, noise=0.0):
    """Per-sample dQ, dM contributions, sampled from the Gaussian of (lambda, nu), with the
    label ``y + sqrt(noise) xi`` (``xi ~ N(0, 1)``) in the SGD step; the loss is the clean one."""
    p, s = M.shape
    cov = np.block([[Q, M], [M.T, T]])
    h = rng.multivariate_normal(np.zeros(p + s), cov, size=n, method="cholesky")
    lam, nu = h[:, :p], h[:, p:]
    e = (nu**2).sum(1) / s - (lam**2).sum(1) / p
    e_noisy = e + np.sqrt(noise) * rng.standard_normal(n)
    ll = lam[:, :, None] * lam[:, None, :]
    dQ = (4 * eta / p) * e_noisy[:, None, None] * ll + (4 * eta**2 / p**2) * (e_noisy**2)[:, None, None] * ll
    dM = (2 * eta / p) * e_noisy[:, None, None] * lam[:, :, None] * nu[:, None, :]
    loss = 0.5 * e**2
    return dQ, dM, loss


def assert_within_se(estimate_samples, exact, nsigma=5.0):
    mean = estimate_samples.mean(0)
    se = estimate_samples.std(0, ddof=1) / np.sqrt(len(estimate_samples))
    z = np.abs(mean - exact) / se
    assert np.all(z < nsigma), f"max deviation {z.max():.2f} standard errors"


@pytest.mark.parametrize(
    "p,pstar,eta",
    [(1, 1, 0.05), (1, 3, 0.5), (2, 2, 1.0), (3, 2, 2.0), (4, 1, 0.2), (2, 4, 3.0)],
)
def test_ode_rhs_matches_monte_carlo(p, pstar, eta, rng, random_overlaps):
    Q, M, T = random_overlaps(p, pstar, rng)
    dQ, dM = theory.ode_rhs(Q, M, T, eta)
    dQ_mc, dM_mc, _ = mc_moments(Q, M, T, eta, rng)
    assert_within_se(dQ_mc, dQ)
    assert_within_se(dM_mc, dM)


@pytest.mark.parametrize("p,pstar,eta", [(16, 1, 4.0), (17, 3, 6.0), (20, 5, 8.0)])
def test_wide_ode_rhs_matches_monte_carlo(p, pstar, eta, rng, random_overlaps):
    """From p = 16 on the right-hand side runs on a second code path (contiguous matrices per
    member, register tiles of 4 x 8 with scalar tails when p is not a multiple of 4 or 8): it
    matches the sampled expectations too. Fewer samples than above keep the (n, p, p) arrays
    small; the eta^2 terms are resolved (they are many standard errors off zero)."""
    Q, M, T = random_overlaps(p, pstar, rng)
    dQ, dM = theory.ode_rhs(Q, M, T, eta)
    dQ_mc, dM_mc, _ = mc_moments(Q, M, T, eta, rng, n=20_000)
    assert_within_se(dQ_mc, dQ)
    assert_within_se(dM_mc, dM)
    dQ_first, _ = theory.ode_rhs(Q, M, T, 1e-8 * eta)  # the O(eta) part alone, rescaled
    se = dQ_mc.std(0, ddof=1) / np.sqrt(len(dQ_mc))
    assert np.max(np.abs(dQ - 1e8 * dQ_first) / se) > 10


@pytest.mark.parametrize("p,pstar", [(1, 1), (3, 2), (8, 4), (13, 3), (15, 5)])
def test_the_two_right_hand_side_paths_agree(p, pstar, rng, random_overlaps):
    """The per-member path of p >= 16 (``_rhs_contiguous``: register tiles, dQ's O(p^2 p*) part as
    one rank-2 p* update) run below 16 against the lane path that the Monte Carlo tests above
    check: the same closed forms in another order of operations, so equal to rounding. Sampling
    alone resolves only the larger terms at p >= 16 (a review found that dropping half of the
    ``X Q + Q X`` term or halving ``tr X`` there passed the wide Monte Carlo test); this does not."""
    from quadsgd._kernels import _rhs_contiguous, rhs_lanes, rhs_rows

    lanes, ns = 3, p * p + p * pstar
    y, T = np.empty((ns, lanes)), np.empty((pstar * pstar, lanes))
    for k in range(lanes):
        Q, M, Tk = random_overlaps(p, pstar, rng)
        y[:, k] = np.concatenate([Q.ravel(), M.ravel()])
        T[:, k] = Tk.ravel()
    eta, noise = p * np.array([0.1, 1.0, 3.0]), np.array([0.0, 0.2, 1.0])
    lane_path, contiguous = np.empty_like(y), np.empty_like(y)
    w = np.empty((rhs_rows(p, pstar), lanes))
    rhs_lanes(y, T, eta, noise, p, pstar, lane_path, w)
    _rhs_contiguous(y, T, eta, noise, p, pstar, contiguous, w)
    np.testing.assert_allclose(contiguous, lane_path, rtol=1e-12, atol=1e-13 * np.abs(lane_path).max())


@pytest.mark.parametrize("p,pstar,eta,noise", [(1, 1, 1.0, 4.0), (2, 3, 1.0, 1.0), (3, 2, 2.0, 4.0)])
def test_ode_rhs_with_label_noise_matches_monte_carlo(p, pstar, eta, noise, rng, random_overlaps):
    """Label noise of variance ``noise`` in the SGD step: the sampled expectations match
    ``ode_rhs(..., noise=)``, and the noise term is resolved (the noiseless right-hand side is
    many standard errors off), so the test can fail."""
    Q, M, T = random_overlaps(p, pstar, rng)
    dQ, dM = theory.ode_rhs(Q, M, T, eta, noise=noise)
    dQ_mc, dM_mc, _ = mc_moments(Q, M, T, eta, rng, noise=noise)
    assert_within_se(dQ_mc, dQ)
    assert_within_se(dM_mc, dM)
    dQ_clean, dM_clean = theory.ode_rhs(Q, M, T, eta)
    np.testing.assert_array_equal(dM_clean, dM)
    se = dQ_mc.std(0, ddof=1) / np.sqrt(len(dQ_mc))
    assert np.max(np.abs(dQ_mc.mean(0) - dQ_clean) / se) > 10.0


def test_label_noise_broadcasts_like_eta_and_is_checked(rng, random_overlaps):
    blocks = [random_overlaps(2, 1, rng) for _ in range(3)]
    Q = np.stack([b[0] for b in blocks])
    M = np.stack([b[1] for b in blocks])
    noise = np.array([0.0, 0.5, 2.0])
    dQ, _ = theory.ode_rhs(Q, M, None, 0.3, noise=noise)
    for i in range(3):
        np.testing.assert_array_equal(dQ[i], theory.ode_rhs(Q[i], M[i], None, 0.3, noise=noise[i])[0])
    # A batch shape coming from noise alone: one instance, three noise levels.
    np.testing.assert_array_equal(theory.ode_rhs(Q[1], M[1], None, 0.3, noise=noise)[0][2],
                                  theory.ode_rhs(Q[1], M[1], None, 0.3, noise=2.0)[0])
    for bad in (-0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match="noise"):
            theory.ode_rhs(Q, M, None, 0.3, noise=bad)
    with pytest.raises(ValueError, match="noise"):
        theory.ode_rhs(Q, M, None, np.ones(3), noise=np.ones(2))


@pytest.mark.parametrize("p,pstar", [(1, 1), (2, 3), (4, 2)])
def test_risk_matches_monte_carlo_loss(p, pstar, rng, random_overlaps):
    Q, M, T = random_overlaps(p, pstar, rng)
    _, _, loss = mc_moments(Q, M, T, 1.0, rng)
    assert_within_se(loss, theory.risk(Q, M, T))


def test_eta_squared_term_is_what_separates_small_and_large_eta(rng, random_overlaps):
    """The MC test above must be able to see the eta^2 term: it is not negligible at eta=3."""
    Q, M, T = random_overlaps(2, 4, rng)
    dQ_small, _ = theory.ode_rhs(Q, M, T, 1e-6)
    dQ_big, _ = theory.ode_rhs(Q, M, T, 3.0)
    assert not np.allclose(dQ_big / 3.0, dQ_small / 1e-6, rtol=0.05)


def test_broadcasting_over_batches_matches_single_calls(rng, random_overlaps):
    p, pstar = 3, 2
    blocks = [random_overlaps(p, pstar, rng) for _ in range(6)]
    Q = np.stack([b[0] for b in blocks]).reshape(2, 3, p, p)
    M = np.stack([b[1] for b in blocks]).reshape(2, 3, p, pstar)
    eta = np.array([[0.1], [2.0]])  # broadcasts over the second batch axis
    dQ, dM = theory.ode_rhs(Q, M, None, eta)
    r = theory.risk(Q, M)
    assert dQ.shape == (2, 3, p, p) and dM.shape == (2, 3, p, pstar) and r.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            q1, m1 = theory.ode_rhs(Q[i, j], M[i, j], np.eye(pstar), eta[i, 0])
            np.testing.assert_array_equal(dQ[i, j], q1)
            np.testing.assert_array_equal(dM[i, j], m1)
            assert r[i, j] == theory.risk(Q[i, j], M[i, j])


def test_risk_is_zero_on_the_zero_error_manifold(rng):
    p, pstar = 5, 2
    U, _ = np.linalg.qr(rng.standard_normal((p, pstar)))
    M = np.sqrt(p / pstar) * U
    Q = (p / pstar) * U @ U.T
    assert abs(theory.risk(Q, M)) < 1e-13
    dQ, dM = theory.ode_rhs(Q, M, None, 0.7)
    assert np.abs(dQ).max() < 1e-12 and np.abs(dM).max() < 1e-12


@pytest.mark.parametrize("p,pstar", [(1, 1), (2, 1), (4, 2), (8, 3)])
def test_plateau_fixed_point_and_risks(p, pstar):
    """q* = p/(p+2) zeroes dQ at M = 0 as eta -> 0; risks at Q = I and Q = q* I."""
    q = theory.plateau_norm(p)
    M = np.zeros((p, pstar))
    dQ, dM = theory.ode_rhs(q * np.eye(p), M, None, 1e-8)
    assert np.abs(dQ).max() < 1e-15 and not dM.any()
    assert theory.risk(q * np.eye(p), M) == pytest.approx(theory.plateau_risk(p, pstar), rel=1e-14)
    assert theory.risk(np.eye(p), M) == pytest.approx(theory.initial_risk(p, pstar), rel=1e-14)


def test_linearised_escape_rate_matches_jacobian():
    """dM = rate * M to first order in M on the plateau (finite-difference Jacobian)."""
    p, pstar, eta = 4, 2, 0.01
    q = theory.plateau_norm(p)
    M = 1e-7 * np.ones((p, pstar))
    _, dM = theory.ode_rhs(q * np.eye(p), M, None, eta)
    np.testing.assert_allclose(dM / M, theory.escape_rate(p, pstar, eta), rtol=1e-6)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: theory.risk(np.eye(2), np.zeros((3, 1))), "M"),
        (lambda: theory.risk(np.zeros((2, 3)), np.zeros((2, 1))), "Q"),
        (lambda: theory.risk(np.eye(2), np.zeros((2, 2)), np.eye(3)), "T"),
        (lambda: theory.ode_rhs(np.eye(2)[None].repeat(3, 0), np.zeros((2, 2, 1))), "batch"),
        (lambda: theory.plateau_risk(0, 1), "p"),
        (lambda: theory.plateau_risk(2, -1), "pstar"),
        (lambda: theory.escape_rate(2, 1, 0.0), "eta"),
        (lambda: theory.escape_time_estimate(2, 1, 0.1, 0.5), "N"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
