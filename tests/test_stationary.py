"""Stationary states at finite eta and label noise (quadsgd.stationary; docs/conventions.md 10.3-10.4).

Every closed form is checked against an independent computation: brute-force minimisation of
theory.risk over weights, long integrations of ode.integrate, and the finite-difference Jacobian
of theory.ode_rhs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from quadsgd import init, ode, stationary, theory
from quadsgd.grids import log_alpha_grid
from quadsgd.implicit_bias import polar_factor
from quadsgd.status import Status

NARROW = [(1, 2), (1, 3), (2, 3), (2, 4), (3, 5)]


def _long_run(p, pstar, eta, noise=0.0, seeds=(0, 1), alpha_max=1e5):
    Q0, M0, _ = init.ode_initial(p, pstar, 10_000, list(seeds))
    return ode.integrate(Q0, M0, eta, log_alpha_grid(alpha_max, num=40), noise=noise)


@pytest.mark.parametrize("p,pstar", NARROW)
def test_best_fit_is_the_brute_force_minimum(p, pstar):
    """Minimise theory.risk over explicit weights W (p rows in p* + p dimensions, teacher on the
    first p* axes) from 20 random starts: no start goes below the closed form, the best reaches it,
    and its Q has the predicted spectrum."""
    rng = np.random.default_rng(p * 100 + pstar)
    d = pstar + p

    def f(w):
        W = w.reshape(p, d)
        return float(theory.risk(W @ W.T, W[:, :pstar]))

    best = min((minimize(f, rng.standard_normal(p * d), method="BFGS", options={"gtol": 1e-10})
                for _ in range(20)), key=lambda r: r.fun)
    target = stationary.best_fit_risk(p, pstar)
    assert best.fun == pytest.approx(target, rel=1e-7)
    W = best.x.reshape(p, d)
    Qfit, _ = stationary.best_fit_point(p, pstar)
    np.testing.assert_allclose(np.linalg.eigvalsh(W @ W.T), np.diag(Qfit), rtol=1e-4)
    assert float(theory.risk(*stationary.best_fit_point(p, pstar))) == pytest.approx(target, rel=1e-13)


@pytest.mark.parametrize("p,pstar", NARROW)
def test_narrow_end_point_matches_long_integrations(p, pstar):
    """The ODE from the paper's initialization ends at the closed-form finite-eta state, from small
    eta (where it is the best fit) up to 0.95 of the narrow edge (below the divergence of the norm
    phase); the excess over the best fit grows with eta at the predicted small-eta slope."""
    edge = stationary.eta_stationary_edge(p, pstar)
    from quadsgd.phase import eta_norm_blowup_edge

    top = min(0.95 * edge, 0.95 * eta_norm_blowup_edge(p, pstar))
    etas = np.array([1e-3 * p, 0.3 * top, top])
    ds = _long_run(p, pstar, etas[:, None], alpha_max=1e5 / etas.min() * 1e-3 * p)
    assert not np.isin(ds.status.values, [Status.DIVERGED, Status.MAX_STEPS]).any()
    end = ds.risk.values[..., -1]
    np.testing.assert_allclose(end, np.repeat(stationary.stationary_risk(p, pstar, etas)[:, None], 2, 1), rtol=1e-7)
    excess = end[:, 0] - stationary.best_fit_risk(p, pstar)
    assert excess[0] / etas[0] == pytest.approx(stationary.narrow_excess_slope(p, pstar), rel=5e-3)
    assert np.all(np.diff(excess) > 0)
    np.testing.assert_allclose(excess, stationary.narrow_excess_risk(p, pstar, etas), rtol=1e-6)


@pytest.mark.parametrize("p,pstar", NARROW)
def test_narrow_state_is_stable_below_its_edge_and_merges_with_the_plateau(p, pstar):
    """Finite-difference Jacobian of theory.ode_rhs on all independent entries of (Q, M): besides the
    p p* - p(p+1)/2 rotation zeros every eigenvalue is negative up to the edge; at the edge m -> 0."""
    edge = stationary.eta_stationary_edge(p, pstar)
    iu = np.triu_indices(p)
    nq = iu[0].size
    zeros = p * pstar - p * (p + 1) // 2
    for frac in (0.2, 0.7, 0.99):
        eta = frac * edge
        Q, M = stationary.stationary_point(p, pstar, eta)

        def field(v, eta=eta):
            Qx = np.zeros((p, p))
            Qx[iu] = v[:nq]
            Qx = Qx + np.triu(Qx, 1).T
            dQ, dM = theory.ode_rhs(Qx, v[nq:].reshape(p, pstar), None, eta)
            return np.concatenate([dQ[iu], dM.ravel()])

        v0 = np.concatenate([Q[iu], M.ravel()])
        assert np.abs(field(v0)).max() < 1e-13
        h = 1e-6
        J = np.stack([(field(v0 + h * u) - field(v0 - h * u)) / (2 * h) for u in np.eye(v0.size)], axis=1)
        ev = np.sort(np.linalg.eigvals(J).real)[::-1]
        assert np.abs(ev[:zeros]).max() < 1e-7 and ev[zeros] < -1e-4
    _, m, _ = stationary.stationary_family(p, pstar, [0.999 * edge, 1.001 * edge])
    assert m[0] ** 2 < 1e-2 and np.isnan(m[1])  # m^2 vanishes linearly at the edge


@pytest.mark.parametrize(
    "p,pstar,eta_over_p,noise",
    [(1, 1, 0.1, 0.3), (2, 2, 0.1, 0.1), (4, 1, 0.1, 0.1), (4, 1, 0.15, 0.5), (3, 2, 0.15, 0.2),
     (4, 2, 0.2, 0.05), (1, 2, 0.1, 0.2)],
)
def test_noisy_stationary_risk_matches_long_integrations(p, pstar, eta_over_p, noise):
    """With label noise the ODE settles at the stationary state of the family: closed form (p <= p*)
    or root of the cubic (p > p*), against the end of a long integration and a root solve of
    theory.ode_rhs started there."""
    from scipy.optimize import root

    eta = eta_over_p * p
    ds = _long_run(p, pstar, eta, noise)
    pred = float(stationary.stationary_risk(p, pstar, eta, noise))
    np.testing.assert_allclose(ds.risk.values[:, -1], pred, rtol=1e-7)
    Q, M = ds.Q.values[0, -1], ds.M.values[0, -1]

    iu = np.triu_indices(p)

    def unpack(v):
        Qx = np.zeros((p, p))
        Qx[iu] = v[: iu[0].size]
        return Qx + np.triu(Qx, 1).T, v[iu[0].size:].reshape(p, pstar)

    def field(v):
        dQ, dM = theory.ode_rhs(*unpack(v), None, eta, noise)
        return np.concatenate([dQ[iu], dM.ravel()])

    sol = root(field, np.concatenate([Q[iu], M.ravel()]), tol=1e-14)
    assert np.abs(field(sol.x)).max() < 1e-12
    polished = theory.risk(*unpack(sol.x))
    assert float(polished) == pytest.approx(pred, rel=1e-9)
    # The stationary risk is ~ (eta/p) noise at small eta: the slope at noise 0 against integration.
    small = 1e-3
    ds0 = _long_run(p, pstar, eta, 0.0, seeds=(0,))
    ds1 = _long_run(p, pstar, eta, small, seeds=(0,))
    slope = (ds1.risk.values[0, -1] - ds0.risk.values[0, -1]) / small
    if p > pstar:  # the noiseless run approaches zero error only as alpha^-2
        slope = (ds1.risk.values[0, -1] - float(stationary.stationary_risk(p, pstar, eta, 0.0))) / small
    assert slope == pytest.approx(float(stationary.noise_risk_slope(p, pstar, eta)), rel=2e-2)


@pytest.mark.parametrize("p,pstar", [(3, 1), (4, 2)])
def test_noise_does_not_make_wide_students_drift_along_the_manifold(p, pstar):
    """p > p* with label noise: the polar factor M (M^T M)^(-1/2) stays constant along the ODE (no
    drift), so different initializations end at different points of the (shifted) manifold."""
    ds = _long_run(p, pstar, 0.15 * p, 0.2, seeds=(0, 1, 2))
    C = polar_factor(ds.M.values)
    assert np.abs(C - C[:, 1:2]).max() < 1e-10
    ends = ds.M.values[:, -1]
    assert min(np.abs(ends[i] - ends[j]).max() for i in range(3) for j in range(i)) > 0.1
    # Orthogonal students hold q > 0 from the noise: the family's q, in the frame of each seed.
    _, _, q = stationary.stationary_family(p, pstar, 0.15 * p, 0.2)
    Qend = ds.Q.values[:, -1]
    P = np.eye(p) - C[:, -1] @ np.swapaxes(C[:, -1], -1, -2)
    np.testing.assert_allclose(np.trace(P @ Qend, axis1=-2, axis2=-1), (p - pstar) * float(q), rtol=1e-6)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="p must be <= pstar"):
        stationary.best_fit_risk(3, 2)
    with pytest.raises(ValueError, match="noise"):
        stationary.stationary_risk(2, 2, 0.1, -1.0)
    with pytest.raises(ValueError, match="eta"):
        stationary.narrow_excess_risk(1, 2, 0.0)
    with pytest.raises(ValueError, match="no stationary state"):
        stationary.stationary_point(1, 2, 10.0)


@pytest.mark.parametrize("call, match", [
    (lambda: stationary.stationary_risk(2, 1, 0.1, True), r"^noise must be finite numbers >= 0; got True of type bool"),
    (lambda: stationary.stationary_risk(2, 1, 0.1, "0.1"), r"^noise must be finite numbers >= 0; got '0.1' of"),
    (lambda: stationary.stationary_family(1, 2, 0.1, float("nan")), r"^noise must be finite and >= 0; got \[nan\]"),
    (lambda: stationary.stationary_risk(2, 1, [0.1, 0.2], [0.0, 0.1, 0.2]),
     r"^eta and noise must broadcast together; got shapes \(2,\) and \(3,\)"),
    (lambda: stationary.stationary_point(2, 1, [0.1, 0.2]), r"^eta must be a finite number with 0.0 < eta; got \[0.1"),
    (lambda: stationary.stationary_point(2, 1, 0.1, -0.5), r"^noise must be a finite number .*; got -0.5"),
])
def test_bad_eta_and_noise_are_refused_in_one_line(call, match):
    with pytest.raises(ValueError, match=match) as err:
        call()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("p,pstar", [(2, 1), (4, 1), (5, 2), (3, 3), (1, 1)])
def test_zero_error_stationary_risk_is_zero_not_a_negative_rounding_residue(p, pstar):
    # Independently: the zero-error point's risk from theory.risk is a rounding residue, not a
    # real negative; the returned risk is >= 0 and exactly 0 there.
    eta = 0.5 * stationary.eta_stationary_edge(p, pstar) * np.array([0.2, 0.6, 1.0])
    Q, M = stationary.stationary_point(p, pstar, float(eta[0]))
    assert abs(float(theory.risk(Q, M))) < 1e-13
    got = stationary.stationary_risk(p, pstar, eta, 0.0)
    assert np.all(got == 0.0), got
    noisy = stationary.stationary_risk(p, pstar, eta, 1e-3)
    assert np.all(noisy > 0), noisy


@pytest.mark.parametrize("p,pstar", [(2, 1), (1, 3), (1, 2), (3, 3), (4, 2)])
def test_noise_risk_slope_is_nan_where_the_noiseless_state_is_lost(p, pstar):
    edge = stationary.eta_stationary_edge(p, pstar)
    below, above = 0.98 * edge, np.array([1.02, 2.0, 6.0]) * edge
    assert np.all(np.isnan(stationary.noise_risk_slope(p, pstar, above)))
    # Below the edge it is the derivative of the stationary risk in the noise (finite difference
    # of the root of the stationary equations).
    h = 1e-7
    fd = (stationary.stationary_risk(p, pstar, below, h) - stationary.stationary_risk(p, pstar, below, 0.0)) / h
    np.testing.assert_allclose(stationary.noise_risk_slope(p, pstar, below), fd, rtol=1e-4)
