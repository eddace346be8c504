"""quadsgd.empirical.datasets: the population-flow store and the flow curves."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import empirical as em
from quadsgd.schema import missing_attrs
from quadsgd.storage import open_store, write_zarr_atomic


def test_population_late_time_laws() -> None:
    ds = em.population_flow_dataset(cases=((6, 1, "gaussian"), (6, 2, "equal"), (4, 6, "equal")),
                                    t=np.logspace(-2, 5, 120), t_weight_max=5.0)
    for d, ms, kind in ((6, 1, "gaussian"), (6, 2, "equal")):
        case = ds.sel(d=d, mstar=ms, teacher=kind)
        E, t = case["E"].values, ds["time"].values
        slope = np.log(E[-1] / E[-20]) / np.log(t[-1] / t[-20])  # log-log slope of the stored curve
        assert float(case["exponent"]) == pytest.approx(slope, abs=2e-3)
        assert float(case["exponent"]) == pytest.approx(-2.0, abs=2e-3)
        assert float(case["prefactor"]) == pytest.approx((d - ms) * (ms + 2) / (16 * (d + 2)), rel=1e-2)
    exp_case = ds.sel(d=4, mstar=6, teacher="equal")
    # equal teacher: symmetric mode only, rate 2 (2d + 4) lam*, lam* = 1/d
    assert float(exp_case["rate"]) == pytest.approx(2 * (2 * 4 + 4) / 4, rel=1e-2)
    assert float(ds["weight_flow_maxdev"].max()) < 1e-6
    np.testing.assert_allclose(ds["L"], ds["E"] / 2)


def test_population_store_is_indexed_by_its_parameters(tmp_path) -> None:
    cases = ((5, 1, "gaussian"), (5, 1, "equal"), (4, 5, "equal"))
    ds = em.population_flow_dataset(cases=cases, t=np.logspace(-6, 2, 20), t_weight_max=1.0)
    assert missing_attrs(ds) == []
    back = open_store(write_zarr_atomic(ds, tmp_path / "flow.zarr")).load()
    assert back["computed"].sum() == len(cases)
    for d, ms, kind in cases:
        assert bool(back["computed"].sel(d=d, mstar=ms, teacher=kind))
        assert np.isfinite(back["E"].sel(d=d, mstar=ms, teacher=kind)).all()
    assert np.isnan(back["E"].sel(d=4, mstar=1, teacher="gaussian")).all()  # not asked for
    # the teacher is population_teacher's: E at t -> 0 is E(A(0) = I)
    A_star = em.population_teacher(5, 1, "gaussian", 0)
    D = np.eye(5) - A_star
    E0 = np.sum(D * D) + np.trace(D) ** 2 / 2
    assert float(back["E"].sel(d=5, mstar=1, teacher="gaussian")[0]) == pytest.approx(E0, rel=1e-3)


def test_population_cases_validated() -> None:
    with pytest.raises(ValueError, match="repeats"):
        em.population_flow_dataset(cases=((4, 1, "gaussian"), (4, 1, "gaussian")), t=np.logspace(-1, 1, 5))
    with pytest.raises(ValueError, match="teacher"):
        em.population_flow_dataset(cases=((4, 1, "bogus"),), t=np.logspace(-1, 1, 5))


def test_flow_curves_dataset() -> None:
    ds = em.flow_curves_dataset(4, 1, [1.5, 3.0], [0, 1], t_max=1e2, n_eval=8)
    assert ds["train_error"].dims == ("alpha", "seed", "time") and ds.sizes["time"] == 9
    assert missing_attrs(ds) == []
    inst = em.make_instance(4, 1, 12, 1)
    r = em.gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, 1e2, n_eval=8)
    np.testing.assert_allclose(ds["gen_error"].sel(alpha=3.0, seed=1), r.gen_error, rtol=1e-12)
