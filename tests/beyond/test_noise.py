"""Label-noise store (quadsgd.beyond.noise): SGD against the noisy ODE, the ODE against the
closed-form stationary risk."""

from __future__ import annotations

import numpy as np

from quadsgd.schema import missing_attrs
from quadsgd.sgd import simulate


def test_store_is_described_and_selectable(noise_store):
    assert missing_attrs(noise_store) == []
    assert noise_store["risk"].dims == ("dynamics", "noise", "eta_over_p", "seed", "alpha")


def test_ode_end_point_is_the_stationary_risk(noise_store):
    """The noisy ODE settles where the closed-form stationary state says (p = p* = 1)."""
    d = noise_store.sel(dynamics="ode", noise=0.05)
    end, predicted = d["risk_end"].transpose("eta_over_p", "seed").values, d["risk_stationary"].values
    np.testing.assert_allclose(end, np.broadcast_to(predicted[:, None], end.shape), rtol=1e-3)


def test_sgd_late_risk_follows_the_noisy_ode(noise_store):
    """Finite-N SGD fluctuates around the ODE: its late-time clean risk agrees with the ODE's
    within 25 % at N = 20000, and both rise with the noise."""
    late = noise_store["risk_late_mean"].mean("seed")
    sgd, ode = late.sel(dynamics="sgd", noise=0.05).values, late.sel(dynamics="ode", noise=0.05).values
    np.testing.assert_allclose(sgd, ode, rtol=0.25)
    assert np.all(late.sel(noise=0.05).values > 10 * late.sel(noise=0.0).values)


def test_noise_zero_is_the_noiseless_run(noise_store):
    d = noise_store.sel(dynamics="sgd", noise=0.0, eta_over_p=0.1)
    run = simulate(1, 1, eta=0.1, N=20000, seed=np.array([0, 1]), alpha=noise_store.alpha.values)
    np.testing.assert_array_equal(d["risk"].values, run["risk"].values)
