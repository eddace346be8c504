"""Issue 15 point 2: every status says what happened, and the zero-error manifold's stability edge.

Each status comes from a constructed case; the edge of :func:`theory.eta_zero_error_edge`
(closed form, derived here) is checked against the numerical Jacobian of ``theory.ode_rhs`` on
the whole ``(Q, M)`` space and against integration on both sides.
"""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import init, ode, theory
from quadsgd.escape import escape_statistics
from quadsgd.grids import log_alpha_grid
from quadsgd.status import STATUS_ATTRS, Status

PAIRS = [(2, 1), (4, 1), (8, 1), (4, 2), (8, 2)]


def _near_manifold(p, pstar, scale=1e-3, seed=0):
    """A point at distance ~scale from the zero-error manifold (a valid covariance)."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((p, pstar)))[0]
    W = np.sqrt(p / pstar) * U  # student rows in the teacher basis
    W = np.hstack([W + scale * rng.standard_normal((p, pstar)), scale * rng.standard_normal((p, 3))])
    return W @ W.T, W[:, :pstar]


def test_status_codes_keep_their_numbers_and_flag_meanings_follow():
    assert [int(s) for s in (Status.CONVERGED, Status.ESCAPED, Status.CENSORED, Status.DIVERGED)] == [0, 1, 2, 3]
    assert STATUS_ATTRS["flag_values"] == [int(s) for s in Status]
    assert STATUS_ATTRS["flag_meanings"].split() == [s.name.lower() for s in Status]
    assert {"settled", "max_steps"} <= set(STATUS_ATTRS["flag_meanings"].split())


def test_converged_means_zero_error():
    Q0, M0, _ = init.ode_initial(1, 1, 10_000, seed=0)
    ds = ode.integrate(Q0, M0, 0.1, log_alpha_grid(1e4))
    assert int(ds.status) == Status.CONVERGED
    assert float(ds.risk[-1]) <= ode.DEFAULTS["risk_floor"]


def test_settled_at_finite_risk_above_the_edge():
    """p = 4, p* = 1, eta = 0.698 (the case of the issue): escapes, then stays near 0.6."""
    Q0, M0, _ = init.ode_initial(4, 1, 10_000, seed=np.arange(2))
    ds = ode.integrate(Q0, M0, 0.698, log_alpha_grid(1e4, num=64), overlaps="final")
    assert (ds.status.values == Status.SETTLED).all()
    assert np.isfinite(ds.alpha_escape).all()
    assert (ds.risk[:, -1] > 0.3).all()
    stats = escape_statistics(ds.rename(member="seed"))
    assert int(stats.n_settled) == 2 and int(stats.n_escaped) == 0 and np.isnan(float(stats.alpha_escape_mean))


def test_settled_for_p_below_pstar_and_counted_as_learned_there():
    """p < p*: the escape ends at the best rank-p fit, a fixed point of finite risk (no
    zero-error state exists), so the run is settled, and the statistics count it as learned."""
    Q0, M0, _ = init.ode_initial(1, 2, 10_000, seed=[0, 1])
    ds = ode.integrate(Q0, M0, 0.1, log_alpha_grid(1e4, num=40), overlaps="final", batch_dims=("seed",))
    assert (ds.status.values == Status.SETTLED).all()
    r = ds.risk.values[:, -5:]
    np.testing.assert_allclose(r, np.repeat(r[:, -1:], 5, axis=1), rtol=1e-6)
    assert (r > 0.3).all()
    assert int(escape_statistics(ds).n_escaped) == 2  # attrs p=1 < pstar=2
    assert int(escape_statistics(ds.assign_attrs(p=4, pstar=1)).n_escaped) == 0


def test_escaped_still_descending_at_alpha_max():
    """Below the edge at p > p* the last approach is algebraic (risk ~ alpha^-2): at alpha_max
    the run is neither at the floor nor settled."""
    Q0, M0, _ = init.ode_initial(4, 1, 10_000, seed=0)
    ds = ode.integrate(Q0, M0, 0.4, log_alpha_grid(1e3, num=40))
    assert int(ds.status) == Status.ESCAPED
    r = ds.risk.values
    assert ode.DEFAULTS["risk_floor"] < r[-1] < 1e-4
    slope = np.log(r[-1] / r[-2]) / np.log(ds.alpha.values[-1] / ds.alpha.values[-2])
    assert slope == pytest.approx(-2.0, abs=0.2)


def test_censored_and_diverged_and_max_steps():
    M0 = np.full((2, 1), 1e-12)
    ds = ode.integrate(np.eye(2), M0, 0.2, log_alpha_grid(10.0, num=10))
    assert int(ds.status) == Status.CENSORED and np.isnan(float(ds.alpha_escape))
    Q0, M0r, _ = init.ode_initial(2, 1, 10_000, seed=0)
    ds = ode.integrate(Q0, M0r, 5.0)
    assert int(ds.status) == Status.DIVERGED and np.isnan(float(ds.alpha_escape))
    ds = ode.integrate(Q0, M0r, 0.2, log_alpha_grid(1e3, num=20), max_steps=10)
    assert int(ds.status) == Status.MAX_STEPS and int(ds.n_steps) == 10
    assert np.isnan(ds.risk.values[-1]) and np.isfinite(ds.risk.values[0])


@pytest.mark.parametrize("p,pstar", PAIRS + [(1, 1), (2, 2), (3, 3)])
def test_edge_closed_form_matches_the_numerical_jacobian(p, pstar):
    U = np.linalg.qr(np.random.default_rng(p * 10 + pstar).standard_normal((p, pstar)))[0]
    edge = theory.eta_zero_error_edge(p, pstar)
    assert edge == pytest.approx(p * pstar / (2 * (pstar + 2)), rel=1e-15)
    assert theory.zero_error_edge_numerical(p, pstar, U) == pytest.approx(edge, rel=1e-8)
    # The removed zeros are exactly the tangent and the algebraic (Q orthogonal to U) directions.
    Y1, _ = theory.zero_error_transverse_spectrum(p, pstar, None, U)
    n = p * (p + 1) // 2 + p * pstar
    assert Y1.shape[0] == n - (p * pstar - pstar * (pstar + 1) // 2) - (p - pstar) * (p - pstar + 1) // 2
    below = theory.zero_error_transverse_spectrum(p, pstar, 0.99 * edge, U)
    above = theory.zero_error_transverse_spectrum(p, pstar, 1.01 * edge, U)
    assert below.real.max() < 0 < above.real.max()


@pytest.mark.parametrize("p,pstar", PAIRS + [(2, 2), (3, 3), (5, 3)])
def test_fastest_rate_at_zero_error_is_the_largest_transverse_eigenvalue(p, pstar):
    """The closed form against the numerical Jacobian on the whole (Q, M) space, below the edge."""
    U = np.linalg.qr(np.random.default_rng(p * 10 + pstar + 1).standard_normal((p, pstar)))[0]
    edge = theory.eta_zero_error_edge(p, pstar)
    for eta in (0.05 * edge, 0.5 * edge, 0.95 * edge):
        spectrum = theory.zero_error_transverse_spectrum(p, pstar, eta, U)
        rate = float(theory.zero_error_fastest_rate(p, pstar, eta))
        assert np.abs(spectrum.real).max() == pytest.approx(rate, rel=1e-6)
    with pytest.raises(ValueError, match="no zero-error manifold"):
        theory.zero_error_fastest_rate(1, 2, 0.1)


def test_edge_is_nan_without_a_zero_error_manifold():
    assert np.isnan(theory.eta_zero_error_edge(1, 2))
    with pytest.raises(ValueError, match="no zero-error manifold"):
        theory.zero_error_point(1, 2)


@pytest.mark.parametrize("p,pstar", PAIRS + [(1, 1)])
def test_integration_converges_below_the_edge_and_leaves_above(p, pstar):
    edge = theory.eta_zero_error_edge(p, pstar)
    Q0, M0 = _near_manifold(p, pstar)
    alpha = log_alpha_grid(3e3, num=30)
    ds = ode.integrate(np.stack([Q0, Q0]), np.stack([M0, M0]), np.array([0.97, 1.03]) * edge, alpha)
    lo, hi = ds.isel(member=0), ds.isel(member=1)
    assert int(lo.status) in (Status.CONVERGED, Status.ESCAPED)
    assert float(lo.risk[-1]) < 1e-6 and float(lo.risk[-1]) < 1e-3 * float(lo.risk[0])
    assert int(hi.status) in (Status.SETTLED, Status.DIVERGED)
    assert not float(hi.risk[-1]) < 1e-2  # finite risk, or NaN after divergence
    if p == pstar:  # no finite-risk state near the manifold to settle on
        assert int(hi.status) == Status.DIVERGED
