"""Finite-N SGD: the Gram chain against weight space in law, both against the ODE (Figure 1)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quadsgd import ode, sgd, theory
from quadsgd.status import Status


def ode_from_run(ds):
    """The ODE started from each run's own measured overlaps at alpha = 0."""
    dims = tuple(d for d in ds.status.dims)
    return ode.integrate(ds.Q.isel(alpha=0).values, ds.M0.values, ds.eta.values, ds.alpha.values,
                         batch_dims=dims)


def test_gram_chain_and_weights_agree_in_distribution():
    """Risk at fixed alpha (plateau and mid-escape) over many seeds at small N: a two-sample KS
    test, and means within the standard error of their difference."""
    N, seeds = 60, np.arange(300)
    alpha = np.array([0.0, 2.0, 5.0, 9.0])
    w = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds, method="weights", alpha=alpha)
    g = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds, method="gram", alpha=alpha)
    assert_same_risk_law(w, g, alpha[1:])
    # M(0) from the Bartlett construction has the law of the QR one.
    assert stats.ks_2samp(w.M0.values.ravel(), g.M0.values.ravel()).pvalue > 1e-3


def test_gram_chain_runs_at_the_smallest_input_dimension():
    """At N = p + pstar no input direction is left beyond the span of the weights (the
    chi-square of the Gram chain has 0 degrees of freedom; numpy refuses to draw it), and the
    chain still has the law of weight space. Power: the same test tells N = 3 from N = 4."""
    seeds, alpha = np.arange(400), np.array([0.0, 1.0, 3.0])
    w = sgd.simulate(2, 1, eta=0.1, N=3, seed=seeds, method="weights", alpha=alpha)
    g = sgd.simulate(2, 1, eta=0.1, N=3, seed=seeds, method="gram", alpha=alpha)
    assert_same_risk_law(w, g, alpha[1:])
    wider = sgd.simulate(2, 1, eta=0.1, N=4, seed=seeds + 1000, method="gram", alpha=alpha)
    assert stats.ks_2samp(g.risk.sel(alpha=1.0).values, wider.risk.sel(alpha=1.0).values).pvalue < 1e-3


def assert_same_risk_law(a, b, alphas):
    """KS test and means of the risk at each alpha. At N = 60 about 1 run in 700 diverges (in
    both chains): a diverged run's NaN counts as an infinite risk for KS, and the means are of
    the risk capped at 10 plateaus, so that one rare huge value does not decide the test."""
    plateau = theory.plateau_risk(int(a.attrs["p"]), int(a.attrs["pstar"]))
    for x in alphas:
        ra = np.nan_to_num(a.risk.sel(alpha=x).values, nan=np.inf)
        rb = np.nan_to_num(b.risk.sel(alpha=x).values, nan=np.inf)
        assert stats.ks_2samp(ra, rb).pvalue > 1e-3, x
        ca, cb = np.minimum(ra, 10 * plateau), np.minimum(rb, 10 * plateau)
        se = np.sqrt(ca.var(ddof=1) / ca.size + cb.var(ddof=1) / cb.size)
        assert abs(ca.mean() - cb.mean()) < 4 * se, x


def test_the_distribution_test_can_tell_learning_rates_apart():
    """Power check for the test above: a 25% lower eta is detected at the same sizes."""
    N, seeds = 60, np.arange(300)
    alpha = np.array([0.0, 5.0])
    a = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds, method="gram", alpha=alpha)
    b = sgd.simulate(2, 1, eta=0.15, N=N, seed=seeds + 1000, method="gram", alpha=alpha)
    assert stats.ks_2samp(a.risk[:, 1].values, b.risk[:, 1].values).pvalue < 1e-3


@pytest.mark.parametrize("p,pstar,eta", [(2, 1, 0.2), (4, 2, 0.4)])
def test_gram_chain_follows_the_ode_before_escape_and_escapes_with_it(p, pstar, eta):
    """Figure 1 check at N = 10^4. Before escape the overlaps follow the ODE within O(1/sqrt N);
    escape times scatter by O(1) in alpha (SGD noise kicks M at the scale of M(0) itself), so the
    median ratio over seeds is what must agree; afterwards the risk heads to zero."""
    N = 10_000
    ds = sgd.simulate(p, pstar, eta=eta, N=N, alpha_max=150, seed=np.arange(8), method="gram")
    o = ode_from_run(ds)
    pre = ds.alpha < 0.5 * float(o.alpha_escape.min())
    assert int(pre.sum()) > 20
    dev_risk = float(np.abs(ds.risk - o.risk).where(pre).max())
    q_sgd = np.diagonal(ds.Q.values, axis1=-2, axis2=-1)[:, pre.values]
    q_ode = np.diagonal(o.Q.values, axis1=-2, axis2=-1)[:, pre.values]
    assert dev_risk < 8 / np.sqrt(N)
    assert np.abs(q_sgd - q_ode).max() < 12 / np.sqrt(N)
    ratio = ds.alpha_escape.values / o.alpha_escape.values
    assert np.median(ratio) == pytest.approx(1.0, abs=0.15)
    assert (ds.status.values == Status.ESCAPED).all()
    assert float(ds.risk.isel(alpha=-1).max()) < 1e-3 * theory.plateau_risk(p, pstar)


def test_weight_space_run_follows_its_ode():
    N = 1000
    ds = sgd.simulate(2, 1, eta=0.2, N=N, alpha_max=60, seed=np.arange(4), method="weights")
    o = ode_from_run(ds)
    np.testing.assert_allclose(ds.M0.values, ds.M.isel(alpha=0).values)
    np.testing.assert_allclose(ds.Q.isel(alpha=0).values, np.broadcast_to(np.eye(2), (4, 2, 2)), atol=1e-12)
    pre = ds.alpha < 0.5 * float(o.alpha_escape.min())
    assert float(np.abs(ds.risk - o.risk).where(pre).max()) < 8 / np.sqrt(N)
    assert np.median(ds.alpha_escape.values / o.alpha_escape.values) == pytest.approx(1.0, abs=0.3)
    assert float(ds.risk.isel(alpha=-1).max()) < 1e-2


@pytest.mark.parametrize("method", ["weights", "gram"])
def test_seed_gives_identical_runs_alone_or_in_a_batch(method):
    alpha = np.linspace(0, 3, 7)
    batch = sgd.simulate(2, 2, eta=[0.1, 0.3], N=200, seed=[4, 9], method=method, alpha=alpha)
    alone = sgd.simulate(2, 2, eta=0.3, N=200, seed=9, method=method, alpha=alpha)
    np.testing.assert_array_equal(batch.Q.sel(eta=0.3, seed=9).values, alone.Q.values)
    np.testing.assert_array_equal(batch.risk.sel(eta=0.3, seed=9).values, alone.risk.values)


def test_gram_cost_does_not_depend_on_N():
    """Same seed, same samples: at N = 10^6 the chain is as cheap as at N = 10^3 and runs."""
    ds = sgd.simulate(3, 2, eta=0.3, N=10**6, alpha=np.array([0.0, 1e-3, 2e-3]), seed=1, method="gram")
    assert np.isfinite(ds.risk).all() and ds.M0.shape == (3, 2)
    assert np.abs(ds.M0.values).max() < 10 / np.sqrt(1e6)


def test_divergent_learning_rate_is_a_status():
    ds = sgd.simulate(2, 1, eta=[0.2, 3.0], N=500, alpha_max=30, seed=0, method="gram")
    assert list(ds.status.values) == [Status.ESCAPED, Status.DIVERGED]
    assert np.isnan(ds.risk.sel(eta=3.0).isel(alpha=-1))


def test_converged_run_stops_and_holds_its_state():
    ds = sgd.simulate(1, 1, eta=0.1, N=500, alpha_max=400, seed=0, method="gram")
    assert int(ds.status) == Status.CONVERGED
    tail = ds.risk.where(ds.alpha > ds.alpha_stop, drop=True)
    assert tail.size > 0 and float(tail.max()) <= sgd.RISK_FLOOR


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(p=0), "p"),
        (dict(pstar=-1), "pstar"),
        (dict(N=2), "N"),
        (dict(eta=0.0), "eta"),
        (dict(seed=-3), "seed"),
        (dict(method="exact"), "method"),
        (dict(alpha_max=None), "alpha_max"),
        (dict(noise=-0.1), "noise"),
        (dict(noise=float("nan")), "noise"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = dict(p=2, pstar=1, eta=0.1, N=100, alpha_max=1.0, seed=0)
    args.update(kwargs)
    p, pstar = args.pop("p"), args.pop("pstar")
    with pytest.raises(ValueError, match=name):
        sgd.simulate(p, pstar, **args)


def test_alpha_grid_finer_than_one_sample_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        sgd.simulate(2, 1, eta=0.1, N=10, alpha=np.array([0.0, 0.01, 0.02]))


def test_arguments_after_the_widths_are_keyword_only():
    with pytest.raises(TypeError):
        sgd.simulate(2, 1, 0.1, 100, alpha_max=1.0)  # type: ignore[misc]


@pytest.mark.parametrize("method", ["gram", "weights"])
def test_values_at_shared_alpha_points_do_not_depend_on_the_recording_grid(method):
    """A seed fixes the run: a finer recording grid zooms into the same sample path (issue 15)."""
    N = 1000 if method == "gram" else 200
    coarse = np.array([0.0, 5.0, 10.0, 20.0])
    fine = np.linspace(0.0, 20.0, 201)
    seed = [3, 5] if method == "gram" else 3  # gram: two runs side by side in the lanes
    a = sgd.simulate(2, 1, eta=0.29, N=N, alpha=coarse, seed=seed, method=method)
    b = sgd.simulate(2, 1, eta=0.29, N=N, alpha=fine, seed=seed, method=method).sel(alpha=coarse)
    for name in ("Q", "M", "risk"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


# ------------------------------------------------------------------- label noise (issue 19.4)
NOISE = 1.0


def test_label_noise_weights_and_gram_agree_in_distribution():
    """With label noise the two chains still agree in law (same test as without noise)."""
    N, seeds = 60, np.arange(300)
    alpha = np.array([0.0, 2.0, 5.0, 9.0])
    w = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds, method="weights", alpha=alpha, noise=NOISE)
    g = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds, method="gram", alpha=alpha, noise=NOISE)
    assert_same_risk_law(w, g, alpha[1:])


def test_the_distribution_test_sees_label_noise():
    """Power check for the test above: the same runs without noise are told apart."""
    N, seeds = 60, np.arange(300)
    alpha = np.array([0.0, 9.0])
    a = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds, method="gram", alpha=alpha, noise=NOISE)
    b = sgd.simulate(2, 1, eta=0.2, N=N, seed=seeds + 1000, method="gram", alpha=alpha)
    ra, rb = (np.nan_to_num(d.risk[:, 1].values, nan=np.inf) for d in (a, b))
    assert stats.ks_2samp(ra, rb).pvalue < 1e-3


def one_step_weight_space(W, X, xi, eta, noise, pstar):
    """Q after one explicit SGD step ``w_k += (eta/sqrt N)(2/p)(y + sqrt(noise) xi - yhat) lambda_k x``
    from ``W`` (p, N), for each row of ``X`` (K, N); shape (K, p, p)."""
    p, N = W.shape
    lam = X @ W.T / np.sqrt(N)
    e = (X[:, :pstar] ** 2).sum(1) / pstar + np.sqrt(noise) * xi - (lam**2).sum(1) / p
    W1 = W[None] + (eta / np.sqrt(N)) * (2 / p) * (e[:, None] * lam)[:, :, None] * X[:, None, :]
    return np.einsum("kpi,kqi->kpq", W1, W1) / N


def one_step_gram(Q, M, Z, chi, xi, eta, noise, N):
    """Q after one Gram-chain step from (Q, M) for each row of ``Z`` (K, pstar + p): K lanes
    started from the same state, one sample each; shape (K, p, p)."""
    K, p = Z.shape[0], Q.shape[0]
    lanes = lambda a: np.ascontiguousarray(np.repeat(a[..., None], K, axis=-1))  # noqa: E731
    q, mm = lanes(Q), lanes(M)
    sgd._gram_lanes(q, lanes(Q - M @ M.T), mm, Z[:, None, :].copy(), chi[:, None].copy(), xi[:, None].copy(),
                    np.sqrt(noise), np.full(K, eta * 2 / p), N, -1.0, 0, np.full(K, -1), False,
                    np.ones(K, dtype=bool), np.zeros(K, dtype=np.int64))
    return np.moveaxis(q, -1, 0)


@pytest.mark.parametrize("noise", [0.0, 4.0])
def test_gram_step_has_the_mean_of_an_explicit_weight_space_step(noise):
    """Monte Carlo over many single steps from one fixed state: the mean increment of Q of the
    Gram chain against that of explicit weight-space steps (numpy, independent of the kernels).
    The label-noise part of the diagonal increment, about (4 eta^2/p^2) noise Q_kk / N, is more
    than 8 standard errors here, so a chain that ignored or mis-scaled the noise would fail."""
    p, pstar, N, eta, K = 2, 1, 12, 0.5, 60_000
    rng = np.random.default_rng(7)
    W = rng.standard_normal((p, N)) * 0.8
    W[:, :pstar] += 0.6
    Q, M = W @ W.T / N, W[:, :pstar] / np.sqrt(N)
    w_step = one_step_weight_space(W, rng.standard_normal((K, N)), rng.standard_normal(K), eta, noise, pstar) - Q
    g_step = one_step_gram(Q, M, rng.standard_normal((K, p + pstar)), rng.chisquare(N - p - pstar, K),
                           rng.standard_normal(K), eta, noise, N) - Q
    se = np.sqrt(w_step.var(0, ddof=1) / K + g_step.var(0, ddof=1) / K)
    assert (np.abs(w_step.mean(0) - g_step.mean(0)) < 4 * se).all()
    noise_part = 4 * eta**2 / p**2 * 4.0 * np.diag(Q) / N
    assert (noise_part > 8 * np.diag(se)).all()


def test_sgd_with_label_noise_follows_the_ode_with_label_noise():
    """At N = 10^4 the Gram chain with noise follows ode.integrate(noise=...) on the plateau
    (alpha <= 10; at this noise neither escapes by alpha = 40), and the clean ODE is more than
    three tolerances away there (the test sees the noise)."""
    p, pstar, eta, N, noise = 2, 1, 0.2, 10_000, 4.0
    ds = sgd.simulate(p, pstar, eta=eta, N=N, alpha_max=10, seed=np.arange(6), method="gram", noise=noise)
    args = (ds.Q.isel(alpha=0).values, ds.M0.values, ds.eta.values, ds.alpha.values)
    o = ode.integrate(*args, batch_dims=("seed",), noise=noise)
    clean = ode.integrate(*args, batch_dims=("seed",))
    q_sgd, q_ode, q_clean = (np.trace(d.Q.values, axis1=-2, axis2=-1) for d in (ds, o, clean))
    tol = 12 / np.sqrt(N)
    assert np.abs(q_sgd - q_ode).max() < tol
    assert np.abs(q_sgd - q_clean).max() > 3 * tol
    assert np.abs(ds.risk - o.risk).max() < 8 / np.sqrt(N)


@pytest.mark.parametrize("method", ["weights", "gram"])
def test_zero_noise_draws_nothing_extra(method):
    """noise=0 keeps the sample path of a run without the keyword; noise > 0 changes it."""
    kw = dict(eta=0.3, N=200, seed=2, method=method, alpha=np.linspace(0, 3, 4))
    plain = sgd.simulate(2, 1, **kw)
    zero, noisy = sgd.simulate(2, 1, noise=0.0, **kw), sgd.simulate(2, 1, noise=0.1, **kw)
    np.testing.assert_array_equal(plain.Q.values, zero.Q.values)
    assert not np.array_equal(plain.Q.values[-1], noisy.Q.values[-1])
    np.testing.assert_array_equal(plain.M0.values, noisy.M0.values)


# -------------------------------------------------------------------------------- escape
@pytest.mark.parametrize("method", ["weights", "gram"])
def test_alpha_escape_is_the_first_sample_at_or_below_the_threshold(method):
    """Against the risk recomputed (theory.risk) from overlaps recorded after every sample."""
    N = 100 if method == "gram" else 60
    ds = sgd.simulate(2, 1, eta=0.3, N=N, alpha=np.arange(0, 30 * N) / N, seed=np.arange(3), method=method)
    below = theory.risk(ds.Q.values, ds.M.values) <= float(ds.attrs["escape_threshold"])
    hit = below.any(axis=-1)
    assert hit.sum() >= 2
    expected = np.where(hit, ds.alpha.values[np.argmax(below, axis=-1)], np.nan)
    np.testing.assert_array_equal(ds.alpha_escape.values, expected)


@pytest.mark.parametrize("method", ["weights", "gram"])
def test_alpha_escape_does_not_depend_on_the_grid_or_on_stopping_at_escape(method):
    N = 1000 if method == "gram" else 200
    coarse = np.array([0.0, 5.0, 10.0, 40.0])
    fine = np.linspace(0.0, 40.0, 161)
    kw = dict(eta=0.29, N=N, seed=np.arange(4), method=method)
    a = sgd.simulate(2, 1, alpha=coarse, **kw)
    b = sgd.simulate(2, 1, alpha=fine, **kw)
    c = sgd.simulate(2, 1, alpha=fine, stop_at_escape=True, **kw)
    assert np.isfinite(a.alpha_escape).all()
    np.testing.assert_array_equal(a.alpha_escape.values, b.alpha_escape.values)
    np.testing.assert_array_equal(a.alpha_escape.values, c.alpha_escape.values)
    # The stopped run is the same run up to its escape sample, and nothing after it.
    np.testing.assert_array_equal(c.alpha_stop.values, c.alpha_escape.values)
    assert (c.status.values == Status.ESCAPED).all()
    before = c.alpha <= c.alpha_escape
    np.testing.assert_array_equal(c.Q.where(before).values, b.Q.where(before).values)
    assert c.risk.where(~before).isnull().all()
    assert (b.alpha_stop.values == 40.0).all()


@pytest.mark.parametrize("stop_at_escape", [False, True])
def test_runs_side_by_side_are_the_runs_alone(stop_at_escape):
    """More runs than one batch of lanes (sgd.LANES), those at eta = 3 diverging, with label
    noise: every run's numbers, status and times are those of the run simulated alone. Lanes stop
    at different samples, so batches are compacted to their running lanes (down to one, which
    runs the scalar kernel) along the way."""
    etas, seeds = np.array([0.25, 3.0]), np.arange(sgd.LANES // 2 + 3)
    kw = dict(N=300, method="gram", alpha=np.linspace(0, 30, 16), noise=0.05, stop_at_escape=stop_at_escape)
    batch = sgd.simulate(2, 1, eta=etas, seed=seeds, **kw)
    assert etas.size * seeds.size > sgd.LANES
    assert (batch.status.sel(eta=3.0) == Status.DIVERGED).all()
    assert (batch.status.sel(eta=0.25) == Status.ESCAPED).sum() >= 2
    for e in etas:
        for sd in seeds:
            alone = sgd.simulate(2, 1, eta=e, seed=sd, **kw)
            one = batch.sel(eta=e, seed=sd)
            for name in ("Q", "M", "risk", "status", "alpha_escape", "alpha_stop"):
                np.testing.assert_array_equal(one[name].values, alone[name].values, err_msg=f"{name} {e} {sd}")
