"""Runs whose end state sits at or above the escape threshold (narrow students with a poor best
fit, strong label noise): they learn what they can but never cross the threshold, so the ODE calls
them ``censored``. The stores flag them (``censored_by_threshold``) and ``quadsgd summary`` says so,
instead of reporting a trapped run or a missing escape as a measurement (docs/beyond.md)."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import init, ode
from quadsgd.beyond._cases import censored_by_threshold, escape_threshold
from quadsgd.cli import CENSORED_NOTE, format_beyond
from quadsgd.grids import log_alpha_grid
from quadsgd.status import Status


@pytest.mark.parametrize("p,pstar,eta_over_p,noise", [
    (1, 2, 0.09, 0.0), (1, 2, 0.13, 0.0), (1, 3, 0.05, 0.0), (2, 3, 0.15, 0.0), (2, 1, 0.1, 2.0), (2, 1, 0.1, 3.5),
])
def test_flag_is_the_ode_status_censored_at_the_end_state(p, pstar, eta_over_p, noise):
    # Independent: long ODE runs from the paper's start. Where flagged they end at the end state's
    # risk (not on the plateau) with status censored; elsewhere they cross the threshold.
    Q0, M0, _ = init.ode_initial(p, pstar, 10_000, [0, 1])
    ds = ode.integrate(Q0, M0, p * eta_over_p, log_alpha_grid(3e4, num=30), noise=noise)
    flag = int(censored_by_threshold(p, pstar, p * eta_over_p, noise))
    end = ds["risk"].values[:, -1]
    assert np.all((ds["status"].values == Status.CENSORED) == bool(flag)), (ds["status"].values, flag)
    if flag:
        assert np.all(end >= escape_threshold(p, pstar, 0.5))
        assert np.all(np.abs(ds["alpha"].values[-1] - 3e4) < 1)  # ran to the end, did not diverge


def test_narrow_store_flags_censored_rows_and_summary_says_so(narrow_store):
    flag = narrow_store["censored_by_threshold"]
    assert flag.attrs["units"] == "1" and "escape threshold" in flag.attrs["long_name"]
    assert narrow_store["escape_threshold"].attrs["units"] == "1"
    status = narrow_store["status"]
    ran = narrow_store["risk_end"].notnull()
    # (1, 2) at eta/p = 0.12 is beyond 0.107: its end state's risk is above the threshold.
    assert int(flag.sel(p=1, pstar=2, eta_over_p=0.12)) == 1
    np.testing.assert_array_equal((status == Status.CENSORED).where(ran, False).any("seed").values,
                                  (flag == 1).where(ran.any("seed"), False).values)
    censored = narrow_store.sel(p=1, pstar=2, eta_over_p=0.12)
    np.testing.assert_allclose(censored["risk_end"].values,
                               censored["risk_best_fit"] + censored["risk_excess_predicted"], rtol=1e-3)
    rows = format_beyond("narrow", narrow_store)
    noted = [r for r in rows if CENSORED_NOTE in r]
    assert len(noted) == 1 and noted[0].split()[:4] == ["1", "2", "0.33333", "0.12"]


def test_noise_store_carries_the_flag(noise_store):
    assert noise_store["censored_by_threshold"].dims == ("noise", "eta_over_p")
    assert noise_store["censored_by_threshold"].attrs["long_name"].startswith("end state at or above")
    # (1, 1) at eta/p = 0.1: stationary risks 0 and 6e-3 against a threshold of 2/3: never flagged.
    assert not noise_store["censored_by_threshold"].any()


def test_a_narrow_row_where_every_run_diverged_is_not_called_censored():
    """(1, 2) between the norm blow-up from Q = I (eta/p = 0.1818) and the end-state edge (0.2143):
    the end state exists above the threshold, but the runs blow up before reaching it."""
    from quadsgd.beyond.narrow import narrow_case
    from quadsgd.status import Status

    ds = narrow_case(1, 2, N=1000, seeds=2, eta_over_p=(0.1, 0.2, 2), alpha_max=1e3)
    diverged = (ds["status"] == int(Status.DIVERGED)).all("seed").values
    assert diverged.tolist() == [False, True]
    assert not bool(ds["censored_by_threshold"].values[1])
