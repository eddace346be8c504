"""One validator per kind of argument: whole floats accepted; bools, NaN, infinities, fractions refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quadsgd import _validate


@pytest.mark.parametrize("value", [2, 2.0, np.int64(2), np.float32(2.0), np.uint8(2)])
def test_integers_accept_whole_numbers(value):
    out = _validate.positive_int("n", value)
    assert out == 2 and type(out) is int


@pytest.mark.parametrize("value", [2.5, True, False, np.bool_(True), math.nan, math.inf, -math.inf, "2", None, 1 + 0j])
def test_integers_refuse_everything_else_naming_the_argument(value):
    with pytest.raises(ValueError, match="^width must be an integer"):
        _validate.positive_int("width", value)


@pytest.mark.parametrize("value", [0, -1, -1.0])
def test_positive_int_refuses_zero_and_negatives(value):
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        _validate.positive_int("width", value)


def test_integer_minimum():
    assert _validate.integer("k", 0, minimum=0) == 0
    assert _validate.integer("k", -5) == -5
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        _validate.integer("k", 1, minimum=2)


@pytest.mark.parametrize("value", [0.5, 1, np.float64(1e-300), 7])
def test_positive_real_accepts(value):
    assert _validate.positive_real("eta", value) == float(value)


@pytest.mark.parametrize("value", [0, 0.0, -1, math.nan, math.inf, True, "1", None])
def test_positive_real_refuses(value):
    with pytest.raises(ValueError, match="^eta must be a finite number"):
        _validate.positive_real("eta", value)


@pytest.mark.parametrize("value,ok", [(0.5, True), (1e-9, True), (0.0, False), (1.0, False), (1.5, False),
                                      (math.nan, False)])
def test_fraction_is_the_open_unit_interval(value, ok):
    if ok:
        assert _validate.fraction("f", value) == value
    else:
        with pytest.raises(ValueError, match="^f must be"):
            _validate.fraction("f", value)


def test_real_bounds_open_and_closed():
    assert _validate.real("x", 1.0, low=1.0, low_open=False) == 1.0
    with pytest.raises(ValueError, match="x"):
        _validate.real("x", 1.0, low=1.0)
    assert _validate.real("x", 2.0, high=2.0, high_open=False) == 2.0
    with pytest.raises(ValueError, match="x"):
        _validate.real("x", 2.0, high=2.0)


def test_positive_array():
    np.testing.assert_array_equal(_validate.positive_array("eta", [[0.1, 2]]), [[0.1, 2.0]])
    for bad in ([0.1, 0.0], [0.1, -2], [np.nan], [np.inf, 1.0]):
        with pytest.raises(ValueError, match="eta must be finite and positive"):
            _validate.positive_array("eta", bad)


def test_seeds_any_shape_whole_floats_and_the_int64_limit():
    got = _validate.seeds("seed", [[0, 1.0], [2**63 - 1, np.uint64(5)]])
    assert got.dtype == np.int64 and got.shape == (2, 2)
    assert got[1, 0] == 2**63 - 1
    assert _validate.seeds("seed", 3).shape == ()
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\); got 9223372036854775808"):
        _validate.seeds("seed", 2**63)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
        _validate.seeds("seed", [1, 2**64])
    for bad in (-1, 0.5, True, np.nan, [1, np.inf]):
        with pytest.raises(ValueError, match="seed must be an integer"):
            _validate.seeds("seed", bad)


def test_seeds_that_label_runs_are_one_non_empty_list_without_repeats():
    np.testing.assert_array_equal(_validate.seed_coordinate("seeds", 3), [3])
    np.testing.assert_array_equal(_validate.seed_coordinate("seeds", [4, 0, 2.0]), [4, 0, 2])
    for bad, text in (([1, 1], "seeds must not repeat .*got 1 2 times"), ([2, 5, 5, 5, 2], "seeds .*got 2 2 times"),
                      ([[0, 1]], "seeds must be a non-empty 1-D list"), ([], "seeds must be a non-empty 1-D list"),
                      ([0, -1], "seeds must be an integer")):
        with pytest.raises(ValueError, match=f"^{text}"):
            _validate.seed_coordinate("seeds", bad)


def test_seed_dimensions_refuse_repeated_seeds_at_the_entry_points():
    from quadsgd import sgd
    from quadsgd.sweep import drivers

    with pytest.raises(ValueError, match="^seed must not repeat"):
        sgd.simulate(2, 1, eta=0.2, N=50, seed=[3, 4, 3], alpha_max=1.0)
    with pytest.raises(ValueError, match="^seeds must not repeat"):
        drivers.sgd_seed_runs(2, 1, eta=0.2, N=50, seeds=[1, 1], alpha=[0.0, 1.0])
    with pytest.raises(ValueError, match="^seeds must not repeat"):
        drivers.ode_scan(2, 1, eta_over_p=[0.1], seeds=[5, 5], N=50, alpha=[0.0, 1.0])


def test_arrays_of_non_numbers_are_refused_showing_the_value():
    with pytest.raises(ValueError, match=r"^eta must be finite and positive numbers; got '0.2' of type str$"):
        _validate.positive_array("eta", "0.2")
    with pytest.raises(ValueError, match=r"^eta must be .*got \[True, False\] of type list$"):
        _validate.positive_array("eta", [True, False])


def test_widths():
    assert _validate.widths(2, 1.0) == (2, 1, None)
    assert _validate.widths(2.0, 1, 3) == (2, 1, 3)
    with pytest.raises(ValueError, match="N must be at least p \\+ pstar = 3; got N=2"):
        _validate.widths(2, 1, 2)
    with pytest.raises(ValueError, match="N must be at least p \\+ pstar = 3; got N=0"):
        _validate.widths(2, 1, 0)
    with pytest.raises(ValueError, match="^N must be an integer; got 100.5"):
        _validate.widths(2, 1, 100.5)
    for args, name in (((0, 1), "p"), ((1, 1.5), "pstar"), ((True, 1), "p"), ((1, 1, math.nan), "N")):
        with pytest.raises(ValueError, match=f"^{name} must"):
            _validate.widths(*args)


def test_alpha_grid():
    np.testing.assert_array_equal(_validate.alpha_grid("alpha", [0, 1, 3]), [0.0, 1.0, 3.0])
    for bad, text in (([0.0], "at least 2"), ([[0.0, 1.0]], "1-D"), ([0.0, np.nan], "finite"),
                      ([0.5, 1.0], "start at 0"), ([0.0, 1.0, 1.0], "increase strictly"),
                      ([0.0, 2.0, 1.0], "increase strictly")):
        with pytest.raises(ValueError, match=text):
            _validate.alpha_grid("alpha", bad)


# --- library arguments at the package's entry points (issue 16, section 2) ------------------------


@pytest.mark.parametrize("Q0,M0,text", [
    (np.full((2, 2), np.nan), np.zeros((2, 1)), r"^Q0 must be finite \(no NaN or infinity\)"),
    (np.eye(2), np.array([[np.inf], [0.0]]), r"^M0 must be finite \(no NaN or infinity\)"),
    (np.eye(2), np.array([[np.nan], [0.0]]), r"^M0 must be finite"),
    (-np.eye(2), np.zeros((2, 1)), r"^Q0 must be positive semi-definite \(a covariance\); smallest eigenvalue -1"),
    (np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros((2, 1)), r"^Q0 must be symmetric .* is 0\.5"),
])
def test_ode_integrate_refuses_invalid_initial_overlaps(Q0, M0, text):
    from quadsgd import ode

    with pytest.raises(ValueError, match=text):
        ode.integrate(Q0, M0, 0.1)


def test_the_joint_covariance_must_be_positive_semi_definite():
    from quadsgd._kernels import flatten_batch

    Q, M = np.eye(2), np.ones((2, 1))  # |M| too large for unit Q and T: (lambda, nu) not Gaussian
    with pytest.raises(ValueError, match=r"joint covariance \[\[Q0, M0\], \[M0\^T, T\]\] .* positive semi-definite"):
        flatten_batch(Q, M, None, 0.1, joint_psd=True, names=("Q0", "M0", "T"))
    flatten_batch(Q, 0.5 * M, None, 0.1, joint_psd=True)
    # Symmetric within round-off is accepted and made exactly symmetric; symmetric input is unchanged.
    Qr = np.array([[1.0, 0.3], [0.3 + 1e-15, 1.0]])
    Qf = flatten_batch(Qr, np.zeros((2, 1)), None, 0.1)[0][0]
    assert np.array_equal(Qf, Qf.T)
    Qs = np.array([[1.0, 0.3], [0.3, 1.0]])
    assert np.array_equal(flatten_batch(Qs, np.zeros((2, 1)), None)[0][0], Qs)


def test_risk_of_a_missing_point_is_nan_but_inf_is_refused():
    from quadsgd import theory

    Q = np.stack([np.eye(2), np.full((2, 2), np.nan)])
    r = theory.risk(Q, np.zeros((2, 2, 1)))
    assert np.isfinite(r[0]) and np.isnan(r[1])  # NaN marks a point after a divergence
    with pytest.raises(ValueError, match="^Q must be finite"):
        theory.risk(np.full((2, 2), np.inf), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="^Q must be finite"):
        theory.ode_rhs(np.full((2, 2), np.nan), np.zeros((2, 1)), None, 0.1)


@pytest.mark.parametrize("alpha,text", [
    ([0.0, np.nan, 1.0], "alpha must be finite"),
    ([0.0, 1.0, np.inf], "alpha must be finite"),
    ([0.0, 1.0, 1.0, 2.0], "alpha must start at 0 and increase strictly"),
])
def test_ode_integrate_refuses_bad_alpha_grids(alpha, text):
    from quadsgd import ode

    with pytest.raises(ValueError, match=text):
        ode.integrate(np.eye(1), np.full((1, 1), 0.01), 0.1, alpha=alpha)


@pytest.mark.parametrize("seed,text", [
    (0.5, r"seed must be an integer >= 0; got 0\.5"),
    (1.7, r"seed must be an integer >= 0; got 1\.7"),
    (2**64, r"seed must be an integer in \[0, 2\*\*63\); got 18446744073709551616"),
    ([0, 1.5], r"seed must be an integer >= 0; got 1\.5"),
])
def test_sgd_simulate_refuses_non_integer_and_huge_seeds(seed, text):
    from quadsgd import sgd

    with pytest.raises(ValueError, match=text):
        sgd.simulate(2, 1, eta=0.1, N=10, seed=seed, alpha_max=1.0)


@pytest.mark.parametrize("dims", [("alpha",), ("k",), ("l",), ("r",), ("seed", "seed")])
def test_batch_dims_may_not_be_core_dimensions(dims):
    from quadsgd import ode
    from quadsgd.schema import check_batch_dims

    with pytest.raises(ValueError, match="batch_dims must be distinct names other than the core dimensions"):
        check_batch_dims(dims)
    if len(dims) == 1:
        with pytest.raises(ValueError, match="batch_dims must be distinct names other than the core dimensions"):
            ode.integrate(np.eye(1), np.full((3, 1, 1), 0.01), 0.1, alpha=[0.0, 1.0], batch_dims=dims)


@pytest.mark.parametrize("value", [True, "0.1", np.array(["a"]), [0.1, None]])
def test_arrays_of_physical_quantities_refuse_non_numbers_naming_the_argument(value):
    for check in (_validate.positive_array, _validate.nonnegative_array):
        with pytest.raises(ValueError, match=r"^eta must be") as err:
            check("eta", value)
        assert "\n" not in str(err.value)


def test_eta_and_noise_broadcast_together_or_say_which_shapes_clash():
    e, nz = _validate.eta_and_noise([0.1, 0.2], 0.0)
    assert e.shape == nz.shape == (2,)
    with pytest.raises(ValueError, match=r"^noise must be finite and >= 0; got \[-1.0\]"):
        _validate.eta_and_noise(0.1, -1.0)
    with pytest.raises(ValueError, match=r"^eta and noise must broadcast together; got shapes \(2,\) and \(3,\)"):
        _validate.eta_and_noise([0.1, 0.2], [0.0, 0.1, 0.2])
