"""Tests of quadsgd.landscape: derivatives, spectra, critical points, counts, DOF, figures."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.linalg import expm

from quadsgd import landscape as L
from quadsgd.plots import landscape as PL

# (p, pstar, N): p < pstar, p = pstar, p > pstar, p = 1, pstar = 1, plateau filling N, p > N.
GRID = [(2, 3, 8), (3, 3, 8), (4, 2, 9), (1, 1, 5), (5, 2, 7), (3, 1, 7), (1, 3, 6), (6, 2, 4), (7, 3, 5)]


def _random_weights(rng: np.random.Generator, p: int, pstar: int, N: int) -> tuple[np.ndarray, np.ndarray]:
    # Generic (non-critical, non-orthogonal) weights exercise every term of the formulas.
    return rng.standard_normal((p, N)), rng.standard_normal((pstar, N))


def _sign_tuple(counts: dict[str, int]) -> tuple[int, int, int]:
    return counts["negative"], counts["null"], counts["positive"]


# ------------------------------------------------------------------------- derivatives


def test_risk_matches_monte_carlo_loss() -> None:
    rng = np.random.default_rng(0)
    p, pstar, N = 3, 2, 6
    W, Wstar = _random_weights(rng, p, pstar, N)
    x = rng.standard_normal((400_000, N))
    y = np.sum((x @ Wstar.T / math.sqrt(N)) ** 2, axis=1) / pstar
    yhat = np.sum((x @ W.T / math.sqrt(N)) ** 2, axis=1) / p
    loss = 0.5 * (y - yhat) ** 2
    se = loss.std(ddof=1) / math.sqrt(loss.size)
    assert abs(L.population_risk(W, Wstar) - loss.mean()) < 5 * se


def test_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    W, Wstar = _random_weights(rng, 3, 2, 5)
    h = 1e-6
    fd = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = h
        fd[idx] = (L.population_risk(W + e, Wstar) - L.population_risk(W - e, Wstar)) / (2 * h)
    g = L.risk_gradient(W, Wstar)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9 * np.abs(g).max())


@pytest.mark.parametrize("point", [None, *L.POINTS])
def test_dense_hessian_matches_finite_differences_of_gradient(point: str | None) -> None:
    p, pstar, N = 3, 2, 6
    if point is None:
        W, Wstar = _random_weights(np.random.default_rng(2), p, pstar, N)
    else:
        W, Wstar = L.critical_point(point, p, pstar, N, seed=2)
    H = L.dense_hessian(W, Wstar)
    h = 1e-6
    fd = np.zeros_like(H)
    for a in range(W.size):
        e = np.zeros(W.size)
        e[a] = h
        e = e.reshape(W.shape)  # row-major flattening, as documented
        fd[:, a] = ((L.risk_gradient(W + e, Wstar) - L.risk_gradient(W - e, Wstar)) / (2 * h)).ravel()
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7 * np.abs(H).max())


def test_hessian_is_second_order_term_of_risk() -> None:
    rng = np.random.default_rng(3)
    W, Wstar = _random_weights(rng, 2, 3, 5)
    dW = rng.standard_normal(W.shape)
    H = L.dense_hessian(W, Wstar)
    t = 1e-3
    second = (L.population_risk(W + t * dW, Wstar) + L.population_risk(W - t * dW, Wstar) - 2 * L.population_risk(W, Wstar)) / t**2
    assert second == pytest.approx(dW.ravel() @ H @ dW.ravel(), rel=1e-5)


# ---------------------------------------------------------------------------- spectra


@pytest.mark.parametrize("p,pstar,N", [(3, 2, 7), (2, 4, 5), (5, 1, 3), (4, 4, 4)])
def test_structured_spectrum_equals_dense_at_random_weights(p: int, pstar: int, N: int) -> None:
    W, Wstar = _random_weights(np.random.default_rng(4), p, pstar, N)
    spec = L.structured_spectrum(W, Wstar)
    assert spec.size == p * N
    dense = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    np.testing.assert_allclose(spec.expanded(), dense, atol=1e-12 * np.abs(dense).max())


def _applicable(sizes: list[tuple[int, int, int]]) -> list[tuple[str, int, int, int]]:
    return [(pt, *s) for s in sizes for pt in L.POINTS if L.point_applicable(pt, *s)]


@pytest.mark.parametrize("point,p,pstar,N", _applicable(GRID))
def test_counts_dense_structured_formula_agree(point: str, p: int, pstar: int, N: int) -> None:
    W, Wstar = L.critical_point(point, p, pstar, N, seed=5)
    dense_values = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    spec = L.structured_spectrum(W, Wstar)
    np.testing.assert_allclose(spec.expanded(), dense_values, atol=1e-12 * np.abs(dense_values).max())
    expected = _sign_tuple(L.formula_counts(point, p, pstar, N))
    assert tuple(L.eigen_counts(W, Wstar, method="dense")) == expected
    assert tuple(L.eigen_counts(W, Wstar)) == expected
    assert sum(expected) == p * N


def _grouped(spec: L.Spectrum, scale: float) -> dict[float, int]:
    out: dict[float, int] = {}
    for v, m in zip(np.round(spec.values * scale, 9) + 0.0, spec.multiplicity):
        out[float(v)] = out.get(float(v), 0) + int(m)
    return out


@pytest.mark.parametrize("point,p,pstar,N", _applicable([*GRID, (4, 3, 10_000), (2, 5, 10_000)]))
def test_eigenvalues_match_closed_form_families(point: str, p: int, pstar: int, N: int) -> None:
    W, Wstar = L.critical_point(point, p, pstar, N, seed=17)
    assert _grouped(L.structured_spectrum(W, Wstar), p * N) == _grouped(L.formula_spectrum(point, p, pstar, N), p * N)


@pytest.mark.parametrize("point", L.POINTS)
def test_counts_at_large_N_structured(point: str) -> None:
    p, pstar, N = 4, 3, 10_000
    W, Wstar = L.critical_point(point, p, pstar, N, seed=6)
    start = time.perf_counter()
    counts = L.eigen_counts(W, Wstar)
    assert time.perf_counter() - start < 1.0
    assert tuple(counts) == _sign_tuple(L.formula_counts(point, p, pstar, N))
    if point == "zero_error":
        f = L.formula_counts(point, p, pstar, N)
        assert L.zero_error_null_split(W, Wstar) == (f["null_tangent"], f["null_nontangent"])


def test_eigen_counts_threshold_is_scale_aware() -> None:
    W, Wstar = L.critical_point("plateau", 2, 2, 9, seed=7)
    # Rescaling all eigenvalues by 1e-12 changes nothing under a relative threshold.
    spec = L.structured_spectrum(W, Wstar)
    tiny = L.Spectrum(spec.values * 1e-12, spec.multiplicity)
    assert tiny.counts() == spec.counts()
    # A loose threshold swallows every eigenvalue but the largest (4/(pN), unique) into null.
    assert spec.counts(rtol=0.999) == (0, 2 * 9 - 1, 1)


# ------------------------------------------------------------------- critical points


@pytest.mark.parametrize("point,p,pstar,N", _applicable([(3, 2, 8), (2, 3, 9), (6, 2, 4), (1, 1, 3)]))
def test_constructors_have_vanishing_gradient(point: str, p: int, pstar: int, N: int) -> None:
    W, Wstar = L.critical_point(point, p, pstar, N, seed=8)
    assert W.shape == (p, N) and Wstar.shape == (pstar, N)
    np.testing.assert_allclose(Wstar @ Wstar.T / N, np.eye(pstar), atol=1e-12)
    # relative to the gradient at a random point of the same scale
    scale = np.abs(L.risk_gradient(np.random.default_rng(0).standard_normal((p, N)), Wstar)).max()
    assert np.abs(L.risk_gradient(W, Wstar)).max() < 1e-12 * scale


def test_constructor_properties() -> None:
    p, pstar, N = 3, 2, 10
    W, Wstar = L.plateau(p, pstar, N, seed=9)
    np.testing.assert_allclose(W @ W.T / N, p / (p + 2) * np.eye(p), atol=1e-12)
    np.testing.assert_allclose(W @ Wstar.T, 0.0, atol=1e-10)
    W, Wstar = L.zero_error(p, pstar, N, seed=9)
    assert L.population_risk(W, Wstar) < 1e-28
    W, Wstar = L.aligned(p, pstar, N, seed=9)
    assert np.linalg.matrix_rank(np.vstack([W, Wstar[:1]])) == 1
    assert np.sum(W**2) / N == pytest.approx(p * (pstar + 2) / (3 * pstar))
    # reproducible from the seed (int or SeedSequence), different across seeds
    np.testing.assert_array_equal(L.plateau(p, pstar, N, seed=1)[0], L.plateau(p, pstar, N, seed=1)[0])
    ss = np.random.SeedSequence(4)
    np.testing.assert_array_equal(L.zero_error(p, pstar, N, ss)[0], L.zero_error(p, pstar, N, ss)[0])
    assert not np.allclose(L.plateau(p, pstar, N, seed=1)[0], L.plateau(p, pstar, N, seed=2)[0])


def test_aligned_norm_is_the_stationary_one() -> None:
    W, Wstar = L.aligned(2, 3, 7, seed=10)
    assert np.abs(L.risk_gradient(1.05 * W, Wstar)).max() > 1e-3 * np.abs(W).max() / 7


def test_plateau_is_saddle_zero_error_has_no_negative_tabula_rasa_all_negative() -> None:
    for p, pstar, N in [(1, 1, 4), (3, 2, 9), (2, 4, 50), (6, 3, 10_000)]:
        assert L.eigen_counts(*L.plateau(p, pstar, N, seed=11)).negative >= 1
        tr = L.eigen_counts(*L.tabula_rasa(p, pstar, N, seed=11))
        assert tr == (p * N, 0, 0)
        if p >= pstar:
            assert L.eigen_counts(*L.zero_error(p, pstar, N, seed=11)).negative == 0


def test_escape_direction_lowers_the_risk_at_the_plateau() -> None:
    # The negative family found by the spectrum is a genuine descent direction.
    W, Wstar = L.plateau(2, 2, 8, seed=12)
    dW = np.zeros_like(W)
    dW[0] = Wstar[1]
    assert L.population_risk(W + 1e-2 * dW, Wstar) < L.population_risk(W, Wstar)


# ------------------------------------------------------------------ zero-error manifold


@pytest.mark.parametrize("p,pstar,N", [(2, 2, 5), (3, 2, 6), (4, 1, 5), (5, 3, 7), (6, 2, 4)])
def test_tangent_null_count_is_manifold_dimension(p: int, pstar: int, N: int) -> None:
    W, Wstar = L.zero_error(p, pstar, N, seed=13)
    tangent, nontangent = L.zero_error_null_split(W, Wstar)
    assert tangent == L.manifold_dimension(p, pstar, N) == L.orbit_dimension(W)
    assert tangent == p * pstar - pstar * (pstar + 1) // 2
    assert nontangent == (p - pstar) * (N - pstar)
    assert (nontangent > 0) == (p > pstar)
    assert tangent + nontangent == L.eigen_counts(W, Wstar).null


def test_tangent_directions_stay_on_manifold_nontangent_leave_it() -> None:
    p, pstar, N = 3, 1, 5
    W, Wstar = L.zero_error(p, pstar, N, seed=14)
    rng = np.random.default_rng(14)
    omega = rng.standard_normal((p, p))
    omega -= omega.T
    for t in (1e-2, 1e-1):
        assert L.population_risk(expm(t * omega) @ W, Wstar) < 1e-25
    # U_perp z^T with z orthogonal to the teacher: Hessian-flat but the risk grows as t^4.
    u = W[:, 0] / np.linalg.norm(W[:, 0])
    u_perp = np.linalg.svd(np.eye(p) - np.outer(u, u))[0][:, 0]
    z = rng.standard_normal(N)
    z -= Wstar[0] * (Wstar[0] @ z) / N
    dW = np.outer(u_perp, z)
    assert dW.ravel() @ L.dense_hessian(W, Wstar) @ dW.ravel() == pytest.approx(0.0, abs=1e-14)
    r1, r2 = (L.population_risk(W + t * dW, Wstar) for t in (1e-1, 2e-1))
    assert r1 > 0 and r2 / r1 == pytest.approx(16.0, rel=1e-6)


def test_split_rejects_non_zero_error_point() -> None:
    with pytest.raises(ValueError, match="zero-error"):
        L.zero_error_null_split(*L.plateau(2, 1, 5, seed=0))


# ------------------------------------------------------------------ degrees of freedom


@pytest.mark.parametrize("p,N", [(1, 4), (3, 4), (4, 4), (5, 4), (9, 4), (2, 7), (12, 3)])
def test_degrees_of_freedom_equal_jacobian_rank(p: int, N: int) -> None:
    W = np.random.default_rng(15).standard_normal((p, N))
    dof = L.wtw_degrees_of_freedom(p, N)
    assert L.wtw_jacobian_rank(W) == dof
    assert L.orbit_dimension(W) == p * N - dof == L.manifold_dimension(p, min(p, N), N)
    assert dof <= N * (N + 1) // 2


def test_plateau_ratio_p_dependence() -> None:
    pstar, N = 2, 40
    ratios = [L.plateau_null_ratio(p, pstar, N) for p in range(1, N - pstar + 1)]
    assert np.all(np.diff(ratios) > 0)
    assert ratios[-1] == pytest.approx(2 * pstar / (N - pstar - 1))
    W, Wstar = L.plateau(5, pstar, N, seed=16)
    c = L.eigen_counts(W, Wstar)
    assert L.plateau_null_ratio(5, pstar, N) == pytest.approx(c.negative / c.null)


# ---------------------------------------------------------------------------- dataset


def test_dataset_numeric_equals_formula() -> None:
    ds = L.hessian_counts_dataset([1, 2, 3, 5], [1, 2, 3], [6, 10_000], seed=0)
    assert ds["count_numeric"].dims == ("point", "sign", "p", "pstar", "N")
    assert list(ds["point"].values) == list(L.POINTS) and list(ds["sign"].values) == list(L.SIGNS)
    for name in ("count_numeric", "count_formula"):
        assert ds[name].dtype.kind == "i"
        assert "units" in ds[name].attrs and "description" in ds[name].attrs
    np.testing.assert_array_equal(ds["count_numeric"].values, ds["count_formula"].values)
    assert int(ds["count_formula"].sel(point="zero_error", sign="null", p=1, pstar=2, N=6)) == -1
    assert int(ds["count_formula"].sel(point="plateau", sign="negative", p=5, pstar=3, N=6)) == -1
    assert int(ds["count_formula"].sel(point="aligned", sign="null_tangent", p=2, pstar=2, N=6)) == -1
    total = ds["count_formula"].sel(point="plateau", sign=["negative", "null", "positive"]).sum("sign")
    assert int(total.sel(p=3, pstar=2, N=10_000)) == 3 * 10_000


def test_dataset_numeric_max_N_masks() -> None:
    ds = L.hessian_counts_dataset([2], [1], [5, 50], numeric_max_N=10)
    assert np.all(ds["count_numeric"].sel(N=50).values == -1)
    assert int(ds["count_formula"].sel(point="tabula_rasa", sign="negative", p=2, pstar=1, N=50)) == 100


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: L.plateau(0, 1, 5), "p"),
        (lambda: L.zero_error(2, -1, 5), "pstar"),
        (lambda: L.tabula_rasa(2, 1, 0), "N"),
        (lambda: L.aligned(2.5, 1, 5), "p"),
        (lambda: L.zero_error(1, 2, 5), "p >= pstar"),
        (lambda: L.plateau(3, 3, 5), "p \\+ pstar <= N"),
        (lambda: L.teacher(4, 3), "pstar"),
        (lambda: L.population_risk(np.ones((2, 3)), np.ones((1, 4))), "Wstar"),
        (lambda: L.risk_gradient(np.ones(3), np.ones((1, 3))), "W"),
        (lambda: L.eigen_counts(np.ones((2, 3)), np.ones((1, 3)), rtol=0.0), "rtol"),
        (lambda: L.eigen_counts(np.ones((2, 3)), np.ones((1, 3)), method="lanczos"), "method"),
        (lambda: L.formula_counts("saddle", 2, 1, 5), "point"),
        (lambda: L.wtw_degrees_of_freedom(2, 0), "N"),
        (lambda: L.manifold_dimension(1, 2), "p=1"),
        (lambda: L.hessian_counts_dataset([2], [0], [5]), "pstar_values"),
        (lambda: L.dense_hessian(np.ones((10, 500)), np.ones((1, 500))), "max_dim"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


# ----------------------------------------------------------------------------- figures


def _labelled(fig) -> None:
    axes = fig.get_axes()
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None


def test_plot_eigen_counts_smoke() -> None:
    from matplotlib.figure import Figure

    ds = L.hessian_counts_dataset([1, 2, 3, 4], [2], [12], seed=0)
    fig = PL.plot_eigen_counts(ds, pstar=2, N=12)
    assert isinstance(fig, Figure)
    assert len(fig.get_axes()) == 5
    _labelled(fig)


def test_plot_degrees_of_freedom_smoke() -> None:
    from matplotlib.figure import Figure

    fig = PL.plot_degrees_of_freedom(N=4, pstar_values=[1, 2], p_max=8)
    assert isinstance(fig, Figure)
    _labelled(fig)
