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


def test_widths():
    assert _validate.widths(2, 1.0) == (2, 1, None)
    assert _validate.widths(2.0, 1, 3) == (2, 1, 3)
    with pytest.raises(ValueError, match="N must be at least p \\+ pstar = 3; got N=2"):
        _validate.widths(2, 1, 2)
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
