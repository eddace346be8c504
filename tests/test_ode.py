"""The batched integrator against scipy's solve_ivp, and the plateau / phase predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from quadsgd import init, ode, theory
from quadsgd.grids import log_alpha_grid
from quadsgd.status import Status


def reference_solution(Q0, M0, eta, alpha, rtol=1e-12, atol=1e-14, noise=0.0):
    """Independent integration: scipy's DOP853 on the flattened state."""
    p, s = M0.shape

    def f(_, y):
        dQ, dM = theory.ode_rhs(y[: p * p].reshape(p, p), y[p * p :].reshape(p, s), None, eta, noise=noise)
        return np.concatenate([dQ.ravel(), dM.ravel()])

    y0 = np.concatenate([Q0.ravel(), M0.ravel()])
    sol = solve_ivp(f, (0, alpha[-1]), y0, method="DOP853", t_eval=alpha, rtol=rtol, atol=atol)
    Q = sol.y[: p * p].T.reshape(-1, p, p)
    M = sol.y[p * p :].T.reshape(-1, p, s)
    return Q, M, theory.risk(Q, M)


@pytest.mark.parametrize("p,pstar,eta", [(1, 1, 0.1), (3, 2, 0.5), (2, 4, 0.3)])
def test_matches_scipy_reference(p, pstar, eta):
    Q0, M0, _ = init.ode_initial(p, pstar, 10_000, seed=7)
    alpha = log_alpha_grid(60.0, num=40)
    ds = ode.integrate(Q0, M0, eta, alpha, rtol=1e-10, atol=1e-13)
    Q, M, r = reference_solution(Q0, M0, eta, alpha)
    np.testing.assert_allclose(ds.risk.values, r, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ds.M.values, M, atol=1e-7)
    np.testing.assert_allclose(ds.Q.values, Q, atol=1e-7)


def test_label_noise_matches_scipy_reference():
    """With label noise the integrator follows the reference built on ``theory.ode_rhs(noise=)``
    (whose noise term is checked by Monte Carlo in test_theory.py), and the noise is visible:
    it raises the late risk far beyond the tolerance."""
    Q0, M0, _ = init.ode_initial(2, 1, 10_000, seed=5)
    alpha = log_alpha_grid(100.0, num=40)
    ds = ode.integrate(Q0, M0, 0.2, alpha, noise=0.2, rtol=1e-10, atol=1e-13)
    Q, M, r = reference_solution(Q0, M0, 0.2, alpha, noise=0.2)
    np.testing.assert_allclose(ds.risk.values, r, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ds.Q.values, Q, atol=1e-7)
    np.testing.assert_allclose(ds.M.values, M, atol=1e-7)
    clean = ode.integrate(Q0, M0, 0.2, alpha, rtol=1e-10, atol=1e-13)
    assert float(ds.risk[-1]) > 10 * float(clean.risk[-1]) + 1e-6


def test_default_tolerances_reach_the_escape_time_accurately():
    Q0, M0, _ = init.ode_initial(2, 1, 10_000, seed=3)
    fine = log_alpha_grid(100.0, num=4000)
    _, _, r = reference_solution(Q0, M0, 0.3, fine)
    threshold = 0.5 * theory.plateau_risk(2, 1)
    i = np.argmax(r <= threshold)
    reference = np.interp(threshold, r[i : i - 2 : -1], fine[i : i - 2 : -1])
    ds = ode.integrate(Q0, M0, 0.3, log_alpha_grid(100.0, num=20))
    assert float(ds.alpha_escape) == pytest.approx(reference, rel=1e-5)


def test_batch_members_are_bit_identical_to_single_runs():
    Q0, M0, _ = init.ode_initial(3, 2, 10_000, seed=np.arange(5))
    etas = np.array([0.1, 0.4, 3.0])  # the last one diverges
    ds = ode.integrate(Q0[None], M0[None], etas[:, None], batch_dims=("eta", "seed"))
    for i, e in enumerate(etas):
        for j in (0, 4):
            alone = ode.integrate(Q0[j], M0[j], e)
            np.testing.assert_array_equal(ds.risk[i, j].values, alone.risk.values)
            np.testing.assert_array_equal(ds.M[i, j].values, alone.M.values)
            assert ds.alpha_escape[i, j].equals(alone.alpha_escape)


@pytest.mark.parametrize("chunk", [1, 3, 8, 13, 64])
def test_members_are_bit_identical_in_any_lane_block_order_and_chunk(chunk):
    """19 members (two full lane blocks and a partial one, or blocks of 1, 3, 13 members) with
    different learning rates, noise levels, teachers and statuses, in two orders: every member's
    numbers equal those of its run alone (a lane of its own), whatever its lane and companions."""
    n = 19
    Q0, M0, _ = init.ode_initial(3, 2, 10_000, seed=np.arange(n))
    rng = np.random.default_rng(3)
    eta = rng.choice([0.05, 0.3, 0.9, 3.0], size=n)  # 3.0 diverges
    noise = rng.choice([0.0, 0.1], size=n)
    T = np.eye(2) * rng.choice([1.0, 1.5], size=n)[:, None, None]  # per-member escape thresholds
    alpha = log_alpha_grid(300.0, num=30)
    kw = dict(alpha=alpha, chunk=chunk, overlaps="trajectory")
    order = rng.permutation(n)
    runs = [(np.arange(n), ode.integrate(Q0, M0, eta, T=T, noise=noise, **kw)),
            (order, ode.integrate(Q0[order], M0[order], eta[order], T=T[order], noise=noise[order], **kw))]
    statuses = set()
    for b in range(0, n, 3):
        alone = ode.integrate(Q0[b], M0[b], eta[b], alpha, T[b], noise=noise[b])
        statuses.add(int(alone.status))
        for idx, ds in runs:
            m = ds.isel(member=int(np.flatnonzero(idx == b)[0]))
            for var in ("risk", "Q", "M", "status", "alpha_escape", "alpha_stop", "n_steps"):
                np.testing.assert_array_equal(m[var].values, alone[var].values, err_msg=var)
    assert {Status.DIVERGED, Status.ESCAPED} <= statuses


@pytest.mark.parametrize("p,pstar", [(16, 2), (17, 3)])
def test_wide_members_are_bit_identical_alone_and_in_a_batch(p, pstar):
    """From p = 16 on the right-hand side is evaluated per member on contiguous matrices: a
    member's numbers still do not depend on its companions, lane or block."""
    n = 6
    Q0, M0, _ = init.ode_initial(p, pstar, 10_000, seed=np.arange(n))
    eta = p * np.array([0.02, 0.05, 0.1, 0.05, 0.6, 0.02])  # 0.6 p diverges
    noise = np.array([0.0, 0.1, 0.0, 0.0, 0.0, 0.3])
    T = np.eye(pstar) * np.array([1.0, 1.0, 1.5, 0.8, 1.0, 1.2])[:, None, None]  # per-member teachers
    alpha = log_alpha_grid(100.0, num=12)
    batch = ode.integrate(Q0, M0, eta, alpha, T, overlaps="final", chunk=4, noise=noise)
    for b in range(n):
        alone = ode.integrate(Q0[b], M0[b], eta[b], alpha, T[b], overlaps="final", noise=noise[b])
        m = batch.isel(member=b)
        for var in ("risk", "Q_final", "M_final", "status", "alpha_escape", "alpha_stop", "n_steps"):
            np.testing.assert_array_equal(m[var].values, alone[var].values, err_msg=var)
    assert Status.DIVERGED in batch.status.values


def test_divergence_is_a_status_and_does_not_poison_the_batch():
    Q0, M0, _ = init.ode_initial(2, 1, 10_000, seed=[0, 1])
    ds = ode.integrate(Q0, M0, np.array([5.0, 0.2]))
    assert list(ds.status.values) == [Status.DIVERGED, Status.ESCAPED]
    stop = ds.alpha > ds.alpha_stop[0]
    assert np.isnan(ds.risk[0].where(stop, drop=True)).all()
    assert np.isfinite(ds.risk[1]).all()


def test_converged_member_stops_and_holds_its_last_state():
    Q0, M0, _ = init.ode_initial(1, 1, 10_000, seed=0)
    ds = ode.integrate(Q0, M0, 0.1, log_alpha_grid(1e4))
    assert int(ds.status) == Status.CONVERGED
    after = ds.risk.where(ds.alpha > ds.alpha_stop, drop=True)
    assert after.size > 10 and float(after.max()) <= ode.DEFAULTS["risk_floor"]
    assert (after == after[-1]).all()


@pytest.mark.parametrize("p,pstar", [(1, 1), (2, 1), (4, 2), (8, 1)])
def test_plateau_norm_risk_and_escape_rate(p, pstar):
    """From a tiny M0 the norm phase settles on q* = p/(p+2) and eps = 1/p* + 1/(p+2); |M| then
    grows at 4 eta / (p p*). The norms relax at 4 eta / p, no faster than M grows, so the
    window starts after 8 growth times. The small-eta forms hold to ~1% at this eta; the
    finite-eta fixed point (eta^2 term of dQ included) to much better."""
    eta = 0.005 * p
    rng = np.random.default_rng(1)
    M0 = 1e-12 * rng.standard_normal((p, pstar))
    rate = theory.escape_rate(p, pstar, eta)
    alpha = np.linspace(0, 16.0 / rate, 201)
    ds = ode.integrate(np.eye(p), M0, eta, alpha)
    late = ds.isel(alpha=slice(100, None))
    q = np.diagonal(late.Q.values, axis1=-2, axis2=-1)
    np.testing.assert_allclose(q, theory.plateau_norm(p), rtol=2e-2)
    np.testing.assert_allclose(q[-50:], theory.plateau_norm(p, pstar, eta), rtol=2e-5)
    np.testing.assert_allclose(late.risk.values, theory.plateau_risk(p, pstar), rtol=2e-2)
    norm_M = np.linalg.norm(late.M.values, axis=(-2, -1))
    slope = np.polyfit(late.alpha.values, np.log(norm_M), 1)[0]
    assert slope == pytest.approx(rate, rel=0.03)
    assert slope == pytest.approx(theory.escape_rate(p, pstar, eta, finite_eta=True), rel=2e-3)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(eta=0.0), "eta"),
        (dict(eta=-1.0), "eta"),
        (dict(alpha=np.array([0.0, 2.0, 1.0])), "alpha"),
        (dict(alpha=np.array([-1.0, 0.0, 1.0])), "alpha"),
        (dict(M0=np.zeros((3, 1))), "M"),
        (dict(escape_fraction=1.5), "escape_fraction"),
        (dict(noise=-0.5), "noise"),
        (dict(noise=np.array([np.nan])), "noise"),
        (dict(overlaps="some"), "overlaps"),
        (dict(batch_dims=("a", "b")), "batch_dims"),
        # before: a ZeroDivisionError in the kernel, or (numpy's error model) a silent fallback
        (dict(atol=0.0), "atol"),
        (dict(rtol=-1e-9), "rtol"),
        (dict(risk_floor=-1.0), "risk_floor"),
        (dict(settled_risk=np.nan), "settled_risk"),
        (dict(divergence_trace=0.0), "divergence_trace"),
        (dict(max_steps=2.5), "max_steps"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = dict(Q0=np.eye(2)[None], M0=np.full((1, 2, 1), 0.01), eta=0.1, alpha=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        ode.integrate(**args)



@pytest.mark.parametrize(
    ("Q0", "M0", "match"),
    [
        (-np.eye(2), np.zeros((2, 1)), "Q0 must be positive semi-definite"),
        (np.eye(2), np.full((2, 1), 3.0), r"joint covariance \[\[Q0, M0\]"),
        (np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros((2, 1)), "symmetric"),
        (np.eye(2), np.array([[np.nan], [0.0]]), "finite"),
    ],
    ids=["negative-Q0", "M0-too-large", "non-symmetric-Q0", "nan-M0"],
)
def test_initial_overlaps_must_be_a_covariance(Q0, M0, match):
    with pytest.raises(ValueError, match=match):
        ode.integrate(Q0, M0, 0.1)


def test_batch_dim_named_like_a_core_dim_is_refused_before_integrating():
    with pytest.raises(ValueError, match="core dimensions"):
        ode.integrate(np.eye(2)[None], np.full((1, 2, 1), 0.01), 0.1, batch_dims=("alpha",))
