"""Finite-eta phase diagram store (quadsgd.beyond.phase_diagram): closed-form edges against
numerical ones, regions against the ODE's own statuses."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd.grids import log_alpha_grid
from quadsgd.init import ode_initial
from quadsgd.ode import integrate
from quadsgd.phase import Phase
from quadsgd.schema import missing_attrs
from quadsgd.status import Status
from quadsgd.theory import plateau_norm, zero_error_edge_numerical


def test_store_is_described(phase_store):
    assert missing_attrs(phase_store) == []
    assert phase_store["region"].dims == ("p", "pstar", "eta_over_p")
    assert float(phase_store["eta_opt_ode_over_p"].sel(p=2, pstar=1)) == 0.11
    assert np.isnan(phase_store["eta_opt_ode_over_p"].sel(p=1, pstar=1))


def test_plateau_edge_is_where_the_plateau_fixed_point_disappears(phase_store):
    for p in phase_store.p.values:
        for s in phase_store.pstar.values:
            edge = float(phase_store["eta_plateau_edge_over_p"].sel(p=p, pstar=s)) * p
            plateau_norm(int(p), int(s), edge * (1 - 1e-6))
            with pytest.raises(ValueError, match="no plateau fixed point"):
                plateau_norm(int(p), int(s), edge * (1 + 1e-6))


def test_zero_error_edge_against_the_jacobian(phase_store):
    for p in phase_store.p.values:
        for s in phase_store.pstar.values:
            stored = float(phase_store["eta_zero_error_edge_over_p"].sel(p=p, pstar=s)) * p
            if p < s:
                assert np.isnan(stored)
                continue
            assert stored == pytest.approx(zero_error_edge_numerical(int(p), int(s)), rel=1e-4)


def test_regions_match_the_ode_from_the_paper_start(phase_store):
    """At every grid point of (p, p*) = (2, 1) and (4, 2) the stored region is what the ODE does."""
    # A settled end state can lie above the escape threshold: the ODE then reports it censored.
    expected = {Phase.LEARNS: (Status.ESCAPED, Status.CONVERGED), Phase.SETTLES: (Status.SETTLED, Status.CENSORED),
                Phase.DIVERGES: (Status.DIVERGED,), Phase.TRAPPED: (Status.CENSORED,)}
    for p, s in ((2, 1), (4, 2)):
        d = phase_store.sel(p=p, pstar=s)
        edges = [float(d[name]) for name in ("eta_divergence_edge_over_p", "eta_stationary_edge_over_p")]
        # Away from the edges: the bisection's resolution, and the slow decay right at an edge.
        keep = np.all([np.abs(np.log(d["eta_over_p"].values / e)) > 0.02 for e in edges], axis=0)
        etas = d["eta_over_p"].values[keep] * p
        Q0, M0, T = ode_initial(p, s, 1000, np.arange(1))
        ode = integrate(Q0, M0, etas[:, None], log_alpha_grid(3000, 12), T, overlaps="final")
        for region, status, eta in zip(d["region"].values[keep], ode["status"].values[:, 0], etas, strict=True):
            assert int(status) in [int(x) for x in expected[Phase(int(region))]], (p, s, eta, region, status)
