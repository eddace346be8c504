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
    for a in alpha[1:]:
        rw, rg = w.risk.sel(alpha=a).values, g.risk.sel(alpha=a).values
        assert stats.ks_2samp(rw, rg).pvalue > 1e-3, a
        se = np.sqrt(rw.var(ddof=1) / rw.size + rg.var(ddof=1) / rg.size)
        assert abs(rw.mean() - rg.mean()) < 4 * se, a
    # M(0) from the Bartlett construction has the law of the QR one.
    assert stats.ks_2samp(w.M0.values.ravel(), g.M0.values.ravel()).pvalue > 1e-3


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
    a = sgd.simulate(2, 1, eta=0.29, N=N, alpha=coarse, seed=3, method=method)
    b = sgd.simulate(2, 1, eta=0.29, N=N, alpha=fine, seed=3, method=method).sel(alpha=coarse)
    for name in ("Q", "M", "risk"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
