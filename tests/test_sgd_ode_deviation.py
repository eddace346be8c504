"""The pre-escape SGD-vs-ODE deviation is O(1/sqrt N) with the law of the linear-noise approximation.

Claim (docs/science.md, "Pre-escape deviation of SGD from the ODE"): well before escape,
``sqrt(N) (X_SGD - X_ODE)`` at fixed alpha has a distribution that does not depend on N, with the
standard deviation of the linear-noise approximation (LNA) of ``scripts/sgd_ode_deviation.py``.
Checked at (p, p*) = (2, 1), eta = 0.2 (eta/p = 0.1), alpha = 2 (the ODE escapes near 12):
a two-sample KS test between N = 1000 and N = 4000, and the standard deviation within 20% of the
LNA at both N (240 seeds: the standard error of a standard deviation is 4.6%). A power check:
the same comparison against the LNA of a 1.5 times larger eta fails.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from quadsgd.ode import integrate
from quadsgd.sgd import simulate

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sgd_ode_deviation.py"


def _load():
    spec = importlib.util.spec_from_file_location("sgd_ode_deviation", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


P, PSTAR, ETA, ALPHA, SEEDS = 2, 1, 0.2, 2.0, np.arange(240)


def _deviations(N: int) -> tuple[np.ndarray, np.ndarray]:
    grid = np.array([0.0, 1.0, ALPHA])
    s = simulate(P, PSTAR, eta=ETA, N=N, seed=SEEDS, alpha=grid)
    o = integrate(np.broadcast_to(np.eye(P), (SEEDS.size, P, P)), s.M0.values, ETA, s.alpha.values,
                  batch_dims=("seed",))
    d_risk = math.sqrt(N) * (s.risk.values[:, -1] - o.risk.values[:, -1])
    d_q = math.sqrt(N) * (s.Q.values[:, -1, 0, 0] - o.Q.values[:, -1, 0, 0])  # one entry: independent seeds
    return d_risk, d_q


@pytest.fixture(scope="module")
def deviations():
    return {N: _deviations(N) for N in (1_000, 4_000)}


@pytest.fixture(scope="module")
def lna_sd():
    mod = _load()
    grid = np.round(np.arange(0.0, ALPHA + 0.05, 0.1), 10)
    out = {}
    for eta in (ETA, 1.5 * ETA):
        pred = mod.lna(P, PSTAR, eta, grid, n_paths=8, n_mc=60_000)
        out[eta] = (pred["sd_risk"][-1], pred["sd_q"][-1])
    return out


def test_deviation_law_does_not_depend_on_n(deviations):
    (r1, q1), (r4, q4) = deviations[1_000], deviations[4_000]
    assert stats.ks_2samp(r1, r4).pvalue > 1e-3
    assert stats.ks_2samp(q1, q4).pvalue > 1e-3


def test_deviation_sd_matches_the_linear_noise_approximation(deviations, lna_sd):
    sd_risk, sd_q = lna_sd[ETA]
    for N, (r, q) in deviations.items():
        assert np.std(r, ddof=1) == pytest.approx(sd_risk, rel=0.2), N
        assert np.std(q, ddof=1) == pytest.approx(sd_q, rel=0.2), N
    # power: the LNA of a 1.5 times larger learning rate is rejected by the same tolerance
    wrong_risk, wrong_q = lna_sd[1.5 * ETA]
    r, q = deviations[4_000]
    assert abs(np.std(r, ddof=1) / wrong_risk - 1) > 0.2
    assert abs(np.std(q, ddof=1) / wrong_q - 1) > 0.2
