"""Finite-N escape law and finite-eta phase diagram (quadsgd.phase; docs/conventions.md 10.1-10.2).

Each closed-form edge is checked against integration of the ODE (ode.integrate) or the
finite-difference Jacobian of theory.ode_rhs, never against its own formula.
"""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import init, ode, phase, stationary, theory
from quadsgd.grids import log_alpha_grid
from quadsgd.status import Status

PAIRS = [(1, 1), (2, 1), (4, 1), (8, 1), (2, 2), (4, 2), (8, 2), (3, 3), (1, 2), (2, 4), (1, 3)]


def _final(Q0, M0, eta, alpha_max=1e4, num=20, **kw):
    return ode.integrate(Q0, M0, eta, log_alpha_grid(alpha_max, num=num), overlaps="final", **kw)


@pytest.mark.parametrize("p,pstar,eta_over_p", [(2, 1, 0.05), (2, 1, 0.1427), (4, 2, 0.1945), (1, 1, 0.13),
                                                (1, 2, 0.09), (8, 2, 0.2168)])
def test_escape_law_slope_matches_integration(p, pstar, eta_over_p):
    """alpha_esc from M(0) = m0 d (fixed direction d) over six decades of m0: the slope against
    ln(1/m0^2) is the exact 1/(2 r); the small-eta p p*/(8 eta) is off by more than 5% here."""
    eta = eta_over_p * p
    m0 = np.geomspace(1e-3, 1e-9, 7)
    d = np.random.default_rng(p * 10 + pstar).standard_normal((p, pstar))
    d /= np.linalg.norm(d)
    ds = _final(np.broadcast_to(np.eye(p), (7, p, p)), m0[:, None, None] * d, eta, alpha_max=3e3)
    slope = np.polyfit(np.log(1 / m0**2), ds.alpha_escape.values, 1)[0]
    exact = float(phase.escape_law_slope(p, pstar, eta, finite_eta=True))
    assert slope == pytest.approx(exact, rel=1e-4)
    small = float(phase.escape_law_slope(p, pstar, eta, finite_eta=False))
    assert small == pytest.approx(p * pstar / (8 * eta), rel=1e-15)
    if eta_over_p > 0.06:
        assert abs(small / slope - 1) > 0.05


def test_mean_escape_time_grows_as_the_law_in_ln_N():
    """The paper's initialization M(0) = G / sqrt(N) with the same G at every N (common random
    numbers): the mean over 8 seeds of alpha_esc is linear in ln N with the predicted slope."""
    p, pstar, eta = 4, 2, 0.778
    _, G, _ = init.ode_initial(p, pstar, 10_000, np.arange(8))
    G = G * np.sqrt(10_000)
    Ns = np.array([1e3, 1e5, 1e7, 1e9])
    M0 = G[None] / np.sqrt(Ns)[:, None, None, None]
    ds = _final(np.broadcast_to(np.eye(p), M0.shape[:2] + (p, p)), M0, eta, alpha_max=3e3)
    mean = ds.alpha_escape.values.mean(axis=1)
    slope = np.polyfit(np.log(Ns), mean, 1)[0]
    assert slope == pytest.approx(float(phase.escape_law_slope(p, pstar, eta, finite_eta=True)), rel=1e-3)


def test_escape_law_slope_is_vectorized_and_nan_without_a_plateau():
    eta = np.array([[0.1, 0.2], [0.3, 5.0]])
    out = phase.escape_law_slope(2, 1, eta, finite_eta=True)
    assert out.shape == (2, 2) and np.isnan(out[1, 1]) and np.isfinite(out[0]).all()
    assert out[0, 1] == pytest.approx(1 / (2 * theory.escape_rate(2, 1, 0.2, finite_eta=True)), rel=1e-15)


@pytest.mark.parametrize("p,pstar", PAIRS)
def test_plateau_edge_matches_integration_at_M_zero(p, pstar):
    """On Q = q I, M = 0 started at the double root of the edge: 0.1% below the edge the flow settles
    on a plateau (censored), 0.1% above it blows up."""
    edge = phase.eta_plateau_edge(p, pstar)
    e = edge / p
    k = (p + 4) / (p + 2)
    u_double = (1 + 2 * e) / (2 * e * k)
    Q0 = u_double * p / (p + 2) * np.eye(p)
    ds = _final(np.stack([Q0, Q0]), np.zeros((2, p, pstar)), np.array([0.999, 1.001]) * edge, alpha_max=1e5)
    assert list(ds.status.values) == [Status.CENSORED, Status.DIVERGED]
    assert np.trace(ds.Q_final.values[0]) / p == pytest.approx(theory.plateau_norm(p, pstar, 0.999 * edge), rel=1e-6)


def _plateau_jacobian(p, pstar, eta):
    """Finite-difference Jacobian of theory.ode_rhs at the exact plateau: eigenvalues of the Q block
    (upper-triangle entries, sorted) and the M eigenvalue (the blocks decouple at M = 0)."""
    q = theory.plateau_norm(p, pstar, eta)
    iu = np.triu_indices(p)
    nq = iu[0].size

    def fq(v):
        Qx = np.zeros((p, p))
        Qx[iu] = v
        dQ, _ = theory.ode_rhs(Qx + np.triu(Qx, 1).T, np.zeros((p, pstar)), None, eta)
        return dQ[iu]

    v0 = (q * np.eye(p))[iu]
    h = 1e-6
    JQ = np.stack([(fq(v0 + h * u) - fq(v0 - h * u)) / (2 * h) for u in np.eye(nq)], axis=1)
    _, dM = theory.ode_rhs(q * np.eye(p), 1e-8 * np.ones((p, pstar)), None, eta)
    return np.sort(np.linalg.eigvals(JQ).real), float(dM[0, 0] / 1e-8)


@pytest.mark.parametrize("p,pstar", [(1, 1), (2, 1), (4, 1), (8, 1), (2, 2), (4, 2), (3, 3), (2, 4), (5, 3)])
def test_plateau_is_norm_stable_where_it_exists_and_the_trap_edge_matches_the_jacobian(p, pstar):
    """Q block: every eigenvalue negative up to 0.999 of the plateau edge, the traceless ones 2/(p+2)
    times the isotropic one. M eigenvalue (escape rate): changes sign at the trap edge when it
    exists, stays positive up to the plateau edge otherwise."""
    top = phase.eta_plateau_edge(p, pstar)
    for eta in (0.3 * top, 0.9 * top, 0.999 * top):
        ev, _ = _plateau_jacobian(p, pstar, eta)
        assert ev.max() < 0
        if p > 1:
            np.testing.assert_allclose(ev[1:], 2 / (p + 2) * ev[0], rtol=1e-6)
    trap = phase.eta_plateau_trap_edge(p, pstar)
    if np.isnan(trap):
        etas = np.linspace(0.01, 0.9999, 50) * top
        assert min(_plateau_jacobian(p, pstar, e)[1] for e in etas) > 0
    elif trap < 0.999 * top:
        assert _plateau_jacobian(p, pstar, 0.999 * trap)[1] > 0 > _plateau_jacobian(p, pstar, 1.001 * trap)[1]
    else:  # p* = 2: the trap edge is the plateau edge, where the rate reaches 0
        assert trap == pytest.approx(top, rel=1e-12)
        assert 0 < _plateau_jacobian(p, pstar, (1 - 1e-6) * top)[1] < 1e-2


@pytest.mark.parametrize("p,pstar", PAIRS)
def test_norm_blowup_edge_matches_integration_from_the_identity(p, pstar):
    """From Q = I, M = 0: a plateau 0.1% below the edge, divergence 0.1% above; for p <= p* this is
    also the divergence edge of the full ODE from the paper's initialization (to 1e-3)."""
    edge = phase.eta_norm_blowup_edge(p, pstar)
    ds = _final(np.stack([np.eye(p)] * 2), np.zeros((2, p, pstar)), np.array([0.999, 1.001]) * edge, alpha_max=1e5)
    assert list(ds.status.values) == [Status.CENSORED, Status.DIVERGED]
    numerical = phase.eta_divergence_edge_numerical(p, pstar)
    if p < pstar or p == pstar == 1:
        assert numerical == pytest.approx(edge, rel=1e-3)
    else:  # p >= p*: the run can also diverge after its escape (docs/science.md)
        assert numerical <= edge * (1 + 1e-6)


@pytest.mark.parametrize("p,pstar", [(2, 1), (4, 1), (3, 2), (5, 2), (4, 3)])
def test_settled_edge_matches_continuation_by_integration(p, pstar):
    """p > p*: follow the settled state by integration, each eta started from the previous end state
    plus a random kick of 1e-6 in every entry (continuation), from just above the zero-error edge to
    0.995 of the settled edge: it stays at the finite-risk fixed point (q > 0) of the closed form. 1% beyond the
    edge the same start leaves it. (4, 3) loses the state at the saddle-node, the others at the twist."""
    lo, hi = theory.eta_zero_error_edge(p, pstar), phase.eta_settled_edge(p, pstar)
    assert lo < hi
    rng = np.random.default_rng(p * 10 + pstar)
    Q, M = theory.zero_error_point(p, pstar)
    Q = Q + 0.05 * np.diag([0.0] * pstar + [1.0] * (p - pstar))  # a seed of orthogonal norm
    grid = log_alpha_grid(1e5, num=10)

    def kicked(Q, M):
        W = np.hstack([M, np.linalg.cholesky(Q - M @ M.T + 1e-12 * np.eye(p))])
        W = W + 1e-6 * rng.standard_normal(W.shape)
        return W @ W.T, W[:, :pstar]

    for eta in np.linspace(lo * 1.01, hi * 0.995, 12):
        ds = ode.integrate(*kicked(Q, M), eta, grid, overlaps="final")
        Q, M = ds.Q_final.values, ds.M_final.values
        assert int(ds.status) != Status.DIVERGED
        dQ, dM = theory.ode_rhs(Q, M, None, eta)
        assert max(np.abs(dQ).max(), np.abs(dM).max()) < 1e-6
        spectrum = np.sort(np.linalg.eigvalsh(Q))
        assert spectrum[0] > 1e-3 and np.ptp(spectrum[: p - pstar]) < 1e-4  # p - p* equal orthogonal norms
        # ... and it is the settled state of the closed-form family (quadsgd.stationary).
        assert float(theory.risk(Q, M)) == pytest.approx(float(stationary.stationary_risk(p, pstar, eta)), rel=1e-5)
    ds = ode.integrate(*kicked(Q, M), 1.01 * hi, grid, overlaps="final")
    left = int(ds.status) == Status.DIVERGED or np.abs(ds.Q_final.values - Q).max() > 1e-2
    assert left


@pytest.mark.parametrize("p,pstar", [(2, 1), (4, 2), (3, 3), (2, 4), (1, 2), (1, 1)])
def test_classifier_agrees_with_integration_from_the_paper_initialization(p, pstar):
    """Every phase of classify() on a grid of eta/p, against what ode.integrate does from the paper's
    initialization (3 seeds): diverged; stuck at M ~ 0; ended at the stable end state (zero error,
    or the finite-eta best fit of quadsgd.stationary); or at another finite-risk fixed point."""
    edge = phase.eta_divergence_edge_numerical(p, pstar)
    eta = np.arange(0.10, 0.40, 0.01) * p
    got = phase.classify(p, pstar, eta, eta_divergence=edge)["phase"]
    Q0, M0, _ = init.ode_initial(p, pstar, 10_000, np.arange(3))
    ds = _final(np.repeat(Q0[None], eta.size, 0), np.repeat(M0[None], eta.size, 0), eta[:, None], alpha_max=1e5)
    st, risk = ds.status.values, ds.risk.values[..., -1]
    Mnorm = np.linalg.norm(ds.M_final.values, axis=(-2, -1))
    end = stationary.stationary_risk(p, pstar, eta) if p < pstar else np.zeros(eta.size)
    seen = np.full(eta.size, -1)
    seen[(st == Status.DIVERGED).any(1)] = phase.Phase.DIVERGES
    ok = seen < 0
    seen[ok & (Mnorm < 1e-3).all(1)] = phase.Phase.TRAPPED
    ok = seen < 0
    at_end = (np.abs(risk - end[:, None]) < 1e-4).all(1)
    seen[ok & at_end] = phase.Phase.LEARNS
    seen[(seen < 0)] = phase.Phase.SETTLES
    near_edge = np.zeros(eta.size, bool)
    for x in (edge, phase.eta_plateau_trap_edge(p, pstar), stationary.eta_stationary_edge(p, pstar)):
        near_edge |= np.abs(eta / x - 1) < 0.02
    assert (got == seen)[~near_edge].all(), (got, seen)
    assert set(got[~near_edge]) >= {phase.Phase.LEARNS, phase.Phase.DIVERGES}


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="eta"):
        phase.escape_law_slope(2, 1, -1.0, finite_eta=True)
    with pytest.raises(ValueError, match="pstar"):
        phase.eta_plateau_edge(2, 0)
    with pytest.raises(ValueError, match="N must be"):
        phase.eta_divergence_edge_numerical(2, 1, N=2)


@pytest.mark.parametrize("call, match", [
    (lambda: phase.escape_law_slope(2, 1, 0.1, finite_eta="no"), r"^finite_eta must be True or False; got 'no'"),
    (lambda: phase.eta_divergence_edge_numerical(2, 1, seeds=[]), r"^seeds must hold at least one seed"),
    (lambda: phase.classify(2, 1, [0.1], eta_divergence=-1.0),
     r"^eta_divergence must be a learning rate > 0, or NaN where none was found; got -1.0"),
    (lambda: phase.classify(2, 1, [0.1], eta_divergence="0.3"), r"^eta_divergence must be .*got '0.3'"),
])
def test_bad_options_are_refused_in_one_line(call, match):
    with pytest.raises(ValueError, match=match) as err:
        call()
    assert "\n" not in str(err.value)


def test_classify_reads_a_nan_divergence_edge_as_none_found():
    eta = 2 * np.array([0.05, 0.12])
    got = phase.classify(2, 1, eta, eta_divergence=float("nan"))["phase"]
    assert not np.any(got == phase.Phase.DIVERGES)
    np.testing.assert_array_equal(got, phase.classify(2, 1, eta, eta_divergence=100.0)["phase"])
