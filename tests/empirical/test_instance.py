"""quadsgd.empirical.instance: draws, losses, gradients and errors, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import empirical as em


def test_gradient_matches_finite_differences(central_gradient) -> None:
    inst = em.make_instance(5, 2, 12, seed=3, m=7)
    _, g = em.empirical_loss_and_grad(inst.W0, inst.X, inst.y)
    g_fd = central_gradient(lambda W: float(em.empirical_loss_and_grad(W, inst.X, inst.y)[0]), inst.W0)
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-8)


def test_loss_is_quarter_mean_square_and_half_training_error() -> None:
    inst = em.make_instance(4, 1, 9, seed=0)
    m = inst.W0.shape[0]
    A = sum(np.outer(w, w) for w in inst.W0) / m
    np.testing.assert_allclose(em.student_matrix(inst.W0), A, rtol=1e-13)
    res = np.array([x @ A @ x - yy for x, yy in zip(inst.X, inst.y, strict=True)])
    L, _ = em.empirical_loss_and_grad(inst.W0, inst.X, inst.y)
    assert L == pytest.approx(np.mean(res**2) / 4, rel=1e-12)
    assert em.training_error(A, inst.X, inst.y) == pytest.approx(np.mean(res**2) / 2, rel=1e-12)


def test_labels_are_teacher_quadratic_forms() -> None:
    inst = em.make_instance(5, 2, 7, seed=1)
    for x, y in zip(inst.X, inst.y, strict=True):
        assert y == pytest.approx(float(x @ inst.A_star @ x), rel=1e-12)
    assert em.training_error(inst.A_star, inst.X, inst.y) == pytest.approx(0.0, abs=1e-24)


def test_generalization_error_closed_form_vs_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    d = 6
    B = rng.standard_normal((d, d))
    D = (B + B.T) / 2 + 0.5 * np.eye(d)
    x = rng.standard_normal((400_000, d))
    q = np.einsum("ni,ij,nj->n", x, D, x)
    mc = 0.5 * q**2
    closed = em.generalization_error(D, np.zeros((d, d)))
    assert abs(mc.mean() - closed) < 5 * mc.std() / np.sqrt(mc.size)


def test_relative_error_of_known_matrices() -> None:
    A_star = np.diag([3.0, 4.0])  # |A*|_F = 5
    A = np.diag([3.0, 4.0]) + np.array([[0.0, 1.0], [1.0, 0.0]])  # |A - A*|_F = sqrt(2)
    assert float(em.relative_error(A, A_star)) == pytest.approx(np.sqrt(2) / 5, rel=1e-14)
    batch = em.relative_error(np.stack([A, A_star]), np.stack([A_star, 2 * A_star]))
    np.testing.assert_allclose(batch, [np.sqrt(2) / 5, 0.5], rtol=1e-14)


def test_instance_draws_come_from_the_keyed_stream() -> None:
    """Documented scheme: SeedSequence(entropy=seed, spawn_key=(EMPIRICAL_INSTANCE, d, mstar, n, m)),
    drawn in the order teacher rows, inputs, initial weights."""
    d, mstar, n, m, seed = 5, 2, 11, 6, 17
    gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(8, d, mstar, n, m)))
    Ws = gen.standard_normal((mstar, d))
    X = gen.standard_normal((n, d))
    W0 = gen.standard_normal((m, d))
    inst = em.make_instance(d, mstar, n, seed, m=m)
    np.testing.assert_allclose(inst.A_star, Ws.T @ Ws / mstar, rtol=1e-14)
    np.testing.assert_array_equal(inst.X, X)
    np.testing.assert_array_equal(inst.W0, W0)


def test_instances_independent_across_n_and_reproducible() -> None:
    a, b = em.make_instance(4, 1, 8, seed=2), em.make_instance(4, 1, 9, seed=2)
    assert not np.allclose(a.A_star, b.A_star)  # not nested data sets
    again = em.make_instance(4, 1, 8, seed=2)
    np.testing.assert_array_equal(a.X, again.X)
    assert em.make_instance(4.0, 1, 8, seed=2).X.shape == (8, 4)  # whole floats are integers


@pytest.mark.parametrize(("d", "mstar"), [(6, 2), (4, 4), (3, 5)])
def test_equal_teacher_has_equal_eigenvalues(d: int, mstar: int) -> None:
    A = em.make_teacher(d, mstar, np.random.default_rng(0), teacher="equal")
    r = min(d, mstar)
    evals = np.linalg.eigvalsh(A)
    np.testing.assert_allclose(evals[-r:], 1.0 / r, rtol=1e-12)
    np.testing.assert_allclose(evals[:-r], 0.0, atol=1e-13)


def test_gaussian_teacher_mean_is_identity() -> None:
    gen = np.random.default_rng(3)
    mean = np.mean([em.make_teacher(3, 2, gen) for _ in range(20_000)], axis=0)
    np.testing.assert_allclose(mean, np.eye(3), atol=0.03)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: em.make_instance(0, 1, 5, 0), "d"),
        (lambda: em.make_instance(4, 2, 5, 0, m=1), "m"),
        (lambda: em.make_instance(4, 1, 2.5, 0), "n"),
        (lambda: em.make_instance(4, 1, 5, -1), "seed"),
        (lambda: em.make_instance(4, 0, 5, 0), "mstar"),
        (lambda: em.make_teacher(4, 1, np.random.default_rng(0), teacher="bogus"), "teacher"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_raises(call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=name):
        call()


def test_teacher_needs_a_generator() -> None:
    with pytest.raises(TypeError, match="Generator"):
        em.make_teacher(4, 1, 0)  # type: ignore[arg-type]
