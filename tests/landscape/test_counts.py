"""quadsgd.landscape.counts: the closed forms against numerical eigenvalues (dense
diagonalisation at small N, the structured spectrum at large N)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from quadsgd import landscape as L


def _sign_tuple(counts: dict[str, int]) -> tuple[int, int, int]:
    return counts["negative"], counts["null"], counts["positive"]


def test_counts_dense_structured_formula_agree(grid_point, expected_counts) -> None:
    point, p, pstar, N = grid_point
    W, Wstar = L.critical_point(point, p, pstar, N, seed=5)
    dense = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    expected = _sign_tuple(L.formula_counts(point, p, pstar, N))
    assert expected_counts(dense) == expected
    assert tuple(L.eigen_counts(W, Wstar)) == expected
    assert sum(expected) == p * N


def _grouped(values: np.ndarray, multiplicity: np.ndarray, scale: float) -> dict[float, int]:
    out: dict[float, int] = {}
    for v, m in zip(np.round(values * scale, 9) + 0.0, multiplicity, strict=True):
        out[float(v)] = out.get(float(v), 0) + int(m)
    return out


def test_eigenvalues_match_closed_form_families(grid_point) -> None:
    point, p, pstar, N = grid_point
    W, Wstar = L.critical_point(point, p, pstar, N, seed=17)
    dense = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    f = L.formula_spectrum(point, p, pstar, N)
    assert _grouped(dense, np.ones(dense.size, dtype=int), p * N) == _grouped(f.values, f.multiplicity, p * N)


@pytest.mark.parametrize(
    "point,p,pstar", [(pt, 4, 3) for pt in L.POINTS] + [(pt, 2, 5) for pt in ("tabula_rasa", "plateau", "aligned")]
)
def test_eigenvalue_families_at_large_N(point: str, p: int, pstar: int) -> None:
    N = 10_000
    W, Wstar = L.critical_point(point, p, pstar, N, seed=17)
    s, f = L.structured_spectrum(W, Wstar), L.formula_spectrum(point, p, pstar, N)
    assert _grouped(s.values, s.multiplicity, p * N) == _grouped(f.values, f.multiplicity, p * N)


@pytest.mark.parametrize("point", L.POINTS)
def test_counts_at_large_N_structured(point: str) -> None:
    p, pstar, N = 4, 3, 10_000
    W, Wstar = L.critical_point(point, p, pstar, N, seed=6)
    start = time.perf_counter()
    counts = L.eigen_counts(W, Wstar)
    assert time.perf_counter() - start < 5.0  # milliseconds when alone; generous on a shared machine
    f = L.formula_counts(point, p, pstar, N)
    assert tuple(counts) == _sign_tuple(f)
    if point == "zero_error":
        assert L.zero_error_null_split(W, Wstar) == (f["null_tangent"], f["null_nontangent"])


def test_plateau_is_saddle_zero_error_has_no_negative_tabula_rasa_all_negative() -> None:
    for p, pstar, N in [(1, 1, 4), (3, 2, 9), (2, 4, 50), (6, 3, 10_000)]:
        assert L.eigen_counts(*L.plateau(p, pstar, N, seed=11)).negative >= 1
        assert L.plateau_counts(p, pstar, N).negative >= 1
        tabula_rasa = L.eigen_counts(*L.tabula_rasa(p, pstar, N, seed=11))
        assert tabula_rasa == (p * N, 0, 0) == L.tabula_rasa_counts(p, pstar, N)
        if p >= pstar:
            assert L.eigen_counts(*L.zero_error(p, pstar, N, seed=11)).negative == 0


def test_aligned_at_one_teacher_unit_is_zero_error() -> None:
    for p, N in [(1, 4), (3, 6)]:
        z = L.zero_error_counts(p, 1, N)
        assert tuple(L.aligned_counts(p, 1, N)) == (z["negative"], z["null"], z["positive"])


def test_plateau_ratio_p_dependence() -> None:
    pstar, N = 2, 40
    ratios = [L.plateau_null_ratio(p, pstar, N) for p in range(1, N - pstar + 1)]
    assert np.all(np.diff(ratios) > 0)
    assert ratios[-1] == pytest.approx(2 * pstar / (N - pstar - 1))
    for p in (1, 5, 17):
        assert L.plateau_null_ratio(p, pstar, N) == pytest.approx(2 * pstar / (2 * N - p - 2 * pstar - 1))
    c = L.eigen_counts(*L.plateau(5, pstar, N, seed=16))
    assert L.plateau_null_ratio(5, pstar, N) == pytest.approx(c.negative / c.null)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: L.formula_counts("saddle", 2, 1, 5), "point"),
        (lambda: L.formula_counts("zero_error", 1, 2, 5), "does not exist"),
        (lambda: L.formula_spectrum("plateau", 4, 2, 5), "does not exist"),
        (lambda: L.plateau_counts(2, 0, 5), "pstar"),
        (lambda: L.aligned_counts(2, 1, 2.5), "N"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()
