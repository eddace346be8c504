"""Finite-N escape law store (quadsgd.beyond.escape_law) against independent computations."""

from __future__ import annotations

import numpy as np

from quadsgd.init import ode_initial
from quadsgd.ode import integrate
from quadsgd.schema import missing_attrs


def test_store_is_described_and_selectable(escape_law_store):
    ds = escape_law_store
    assert missing_attrs(ds) == []
    assert ds["alpha_escape_sgd"].dims == ("p", "pstar", "N", "seed")
    d = ds.sel(p=2, pstar=1)
    assert int(d["n_escaped"].sum()) == 24
    # The histogram holds every escaped run, inside its edges.
    t = d["alpha_escape_sgd"].values
    for i in range(2):
        assert d["escape_histogram"].isel(N=i).sum() == np.isfinite(t[i]).sum()
        edges = d["escape_histogram_edges"].isel(N=i).values
        assert edges[0] <= np.nanmin(t[i]) and np.nanmax(t[i]) <= edges[-1]


def test_sgd_escape_times_follow_the_ode_from_the_same_start(escape_law_store):
    """Gram-chain SGD against the ODE integrated from each run's own M(0): per run they differ by
    an O(1) fluctuation that shrinks with N, so the mean escape times agree within a few s.e.m."""
    d = escape_law_store.sel(p=2, pstar=1)
    sgd, ode = d["alpha_escape_sgd"].values, d["alpha_escape_ode"].values
    offset = np.nanmean(sgd - ode, axis=1)
    sem = np.nanstd(sgd - ode, axis=1, ddof=1) / np.sqrt(sgd.shape[1])
    assert np.all(np.abs(offset) < 4 * sem + 0.05 * np.nanmean(ode, axis=1)), (offset, sem)
    # The mean escape time grows with N as the ODE's does.
    assert np.nanmean(sgd[1]) > np.nanmean(sgd[0])


def test_ode_escape_times_are_those_of_an_independent_integration(escape_law_store):
    """The stored ODE escape time of a run is that of the ODE from the paper's law of M(0) in
    distribution: its mean over the stored runs agrees with the mean over independent ODE
    starts (init.ode_initial, another stream) within the sampling error."""
    d = escape_law_store.sel(p=2, pstar=1, N=20000)
    Q0, M0, T = ode_initial(2, 1, 20000, np.arange(64))
    ref = integrate(Q0, M0, float(d["eta"]), np.array([0.0, 80.0]), T, overlaps="final")["alpha_escape"].values
    stored = d["alpha_escape_ode"].values
    se = np.hypot(np.std(ref, ddof=1) / np.sqrt(ref.size), np.std(stored, ddof=1) / np.sqrt(stored.size))
    assert abs(np.mean(stored) - np.mean(ref)) < 4 * se
