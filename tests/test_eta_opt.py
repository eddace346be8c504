"""The optimal-learning-rate search against a brute-force dense scan, and its growth rules."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd.eta_opt import EtaOptOutcome, EtaOptSearch, search_eta_opt
from quadsgd.grids import log_alpha_grid

P, PSTAR, N, SEEDS = 1, 1, 1000, np.arange(3)
ALPHA = log_alpha_grid(1e3, 16)


@pytest.fixture
def scanner(direct_scan):
    """A scanner for the search built on the reference scan; records what it was asked to scan."""
    calls: list[np.ndarray] = []

    def run(eta_over_p):
        calls.append(np.asarray(eta_over_p))
        return direct_scan(P, PSTAR, eta_over_p, SEEDS, N, ALPHA)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def _spacing(result) -> float:
    """Largest ratio between the optimum and its scanned neighbours."""
    etas = result.scan.eta_over_p.values
    k = int(np.flatnonzero(etas == result.eta_over_p_opt)[0])
    ratios = [etas[k] / etas[k - 1]] if k > 0 else []
    ratios += [etas[k + 1] / etas[k]] if k + 1 < etas.size else []
    return max(ratios)


def test_search_lands_on_the_brute_force_optimum(scanner, direct_scan, brute_force_optimum):
    start = np.geomspace(0.05, 1.0, 6)
    result = search_eta_opt(scanner(start), scanner, EtaOptSearch(refine_points=6, refine_rounds=2))
    assert result.outcome is EtaOptOutcome.FOUND
    dense = np.geomspace(0.03, 0.5, 121)
    eta_best, mean_best = brute_force_optimum(direct_scan(P, PSTAR, dense, SEEDS, N, ALPHA))
    # Both grids resolve the true optimum to their spacing, so they agree to the sum of both.
    tolerance = np.log(_spacing(result)) + np.log(dense[1] / dense[0])
    assert abs(np.log(result.eta_over_p_opt / eta_best)) <= tolerance
    assert _spacing(result) < 1.1  # two refinement rounds resolve the optimum to < 10%
    # The refined optimum is as good as the dense grid's, up to the dense grid's resolution.
    stats = result.statistics()
    assert int(stats.n_escaped) == SEEDS.size
    assert float(stats.alpha_escape_mean) <= mean_best * (1 + 1e-2)
    # The flags describe the scan: the grid reaches instability, the optimum is interior.
    assert result.reaches_instability and not result.at_lower_edge
    assert result.eta_over_p_opt <= result.eta_over_p_max_stable


def test_search_grows_up_to_instability_and_scans_no_point_twice(scanner):
    start = np.array([0.03, 0.04, 0.05])  # every seed escapes everywhere: the grid must grow
    result = search_eta_opt(scanner(start), scanner, EtaOptSearch(grow=1.5, refine_points=2, refine_rounds=1))
    assert result.reaches_instability
    top = result.scan.isel(eta_over_p=-1)
    assert not np.isin(top.status.values, [0, 1]).all()  # some seed fails at the largest point
    asked = np.concatenate(scanner.calls)
    assert np.unique(asked).size == asked.size
    np.testing.assert_array_equal(np.sort(result.added.eta_over_p.values), np.sort(np.concatenate(scanner.calls[1:])))
    assert result.eta_over_p_opt > 0.05


def test_search_grows_down_while_the_minimum_is_at_the_bottom(scanner, direct_scan, brute_force_optimum):
    start = np.array([0.13, 0.2, 0.3])  # 0.13 is the only stable point: the minimum sits at the bottom
    scan = scanner(start)
    assert np.isclose(search_eta_opt(scan, scanner, EtaOptSearch(max_grow=0, refine_rounds=0)).eta_over_p_opt, 0.13)
    result = search_eta_opt(scan, scanner, EtaOptSearch(grow=1.5, refine_points=4, refine_rounds=2))
    assert result.outcome is EtaOptOutcome.FOUND and not result.at_lower_edge
    assert result.scan.eta_over_p.values[0] < result.eta_over_p_opt < 0.13
    dense = np.geomspace(0.03, 0.5, 121)
    eta_best, _ = brute_force_optimum(direct_scan(P, PSTAR, dense, SEEDS, N, ALPHA))
    assert abs(np.log(result.eta_over_p_opt / eta_best)) <= np.log(_spacing(result)) + np.log(dense[1] / dense[0])


def test_search_without_a_stable_learning_rate(scanner):
    start = np.array([5.0, 8.0, 10.0])  # every run diverges
    result = search_eta_opt(scanner(start), scanner, EtaOptSearch(max_grow=3))
    assert result.outcome is EtaOptOutcome.NONE_ESCAPED
    assert np.isnan(result.eta_over_p_opt) and np.isnan(result.eta_over_p_max_stable)
    assert result.reaches_instability
    with pytest.raises(ValueError, match="no optimum"):
        result.statistics()


def test_no_growth_and_no_refinement_selects_on_the_given_grid(scanner, brute_force_optimum):
    start = np.geomspace(0.05, 1.0, 6)
    scan = scanner(start)
    result = search_eta_opt(scan, scanner, EtaOptSearch(max_grow=0, refine_rounds=0))
    assert result.added is None and len(scanner.calls) == 1
    assert result.eta_over_p_opt == pytest.approx(brute_force_optimum(scan)[0], rel=1e-12)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(grow=1.0), "grow"),
        (dict(grow=float("nan")), "grow"),
        (dict(max_grow=-1), "max_grow"),
        (dict(refine_points=0), "refine_points"),
        (dict(refine_points=2.5), "refine_points"),
        (dict(refine_rounds=True), "refine_rounds"),
    ],
)
def test_bad_options_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        EtaOptSearch(**kwargs)
