"""quadsgd.empirical.dynamics: the flow's velocity and Jacobian, the integrator, discrete GD."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import empirical as em


def test_velocity_is_minus_m_times_finite_difference_gradient(central_gradient) -> None:
    inst = em.make_instance(4, 2, 10, seed=4, m=5)
    m = inst.W0.shape[0]
    g_fd = central_gradient(lambda W: float(em.empirical_loss_and_grad(W, inst.X, inst.y)[0]), inst.W0)
    np.testing.assert_allclose(em.flow_velocity(inst.W0, inst.X, inst.y), -m * g_fd, rtol=1e-6, atol=1e-8)


def test_jacobian_matches_finite_differences(central_jacobian) -> None:
    inst = em.make_instance(4, 1, 10, seed=2, m=5)
    W = inst.W0
    J = em.flow_jacobian(W, inst.X, inst.y)
    Jfd = central_jacobian(lambda w: em.flow_velocity(w.reshape(W.shape), inst.X, inst.y).ravel(), W.ravel())
    np.testing.assert_allclose(J, Jfd, rtol=1e-6, atol=1e-6 * np.abs(J).max())


def test_flow_matches_discrete_gd_at_equal_time() -> None:
    inst = em.make_instance(4, 1, 10, seed=5)
    T = 0.3
    flow = em.gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, T, n_eval=5, rtol=1e-11, atol=1e-12)
    A_flow = em.student_matrix(flow.W_final)
    errs = []
    for eta in (2e-4, 1e-4):
        gd = em.gradient_descent(inst.W0, inst.X, inst.y, inst.A_star, eta, int(round(T / eta)), record_every=500)
        assert isinstance(gd, em.FlowResult)
        assert gd.t[-1] == pytest.approx(T)
        errs.append(np.linalg.norm(em.student_matrix(gd.W_final) - A_flow) / np.linalg.norm(A_flow))
    assert errs[1] < 1e-3
    # Euler is first order: halving eta halves the gap to the flow
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.1)


def test_flow_records_errors_of_its_weights() -> None:
    inst = em.make_instance(4, 1, 12, seed=1)
    r = em.gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, 10.0, n_eval=4)
    assert r.t[0] == 0.0 and r.t[-1] == pytest.approx(10.0)
    A = inst.W0.T @ inst.W0 / inst.W0.shape[0]
    D = A - inst.A_star
    assert r.gen_error[0] == pytest.approx(np.sum(D * D) + np.trace(D) ** 2 / 2, rel=1e-12)
    A_end = inst.W0.shape[0] ** -1 * r.W_final.T @ r.W_final
    res = np.einsum("ni,ij,nj->n", inst.X, A_end, inst.X) - inst.y
    assert r.train_error[-1] == pytest.approx(np.mean(res**2) / 2, rel=1e-10)


def test_gd_vectorized_over_seeds_equals_single_runs() -> None:
    insts = [em.make_instance(4, 2, 9, seed=s) for s in range(3)]
    batch = em.gradient_descent(
        np.stack([i.W0 for i in insts]), np.stack([i.X for i in insts]), np.stack([i.y for i in insts]),
        np.stack([i.A_star for i in insts]), 1e-3, 50,
    )
    assert isinstance(batch, list)
    for inst, b in zip(insts, batch, strict=True):
        single = em.gradient_descent(inst.W0, inst.X, inst.y, inst.A_star, 1e-3, 50)
        assert isinstance(single, em.FlowResult)
        np.testing.assert_allclose(b.W_final, single.W_final, rtol=1e-12)
        np.testing.assert_allclose(b.gen_error, single.gen_error, rtol=1e-12)


def test_all_runs_reach_zero_training_error() -> None:
    # m = d and n < d(d+1)/2 = 21: Thm 4.1 says E_n -> 0 on every data set
    d, frac = 6, []
    for n in (6, 9, 12, 15, 20):
        for seed in range(4):
            inst = em.make_instance(d, 1, n, seed)
            r = em.gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, 1e6, n_eval=3)
            assert r.success
            frac.append(r.train_error[-1] < 1e-8 * r.train_error[0])
    assert np.mean(frac) == 1.0


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda i: em.gradient_flow(i.W0, i.X, i.y, i.A_star, 0.0), "t_max"),
        (lambda i: em.gradient_descent(i.W0, i.X, i.y, i.A_star, -1e-3, 5), "eta"),
        (lambda i: em.gradient_descent(i.W0, i.X, i.y, i.A_star, 1e-3, 0), "n_steps"),
    ],
)
def test_bad_input_raises(call, name: str) -> None:  # type: ignore[no-untyped-def]
    inst = em.make_instance(3, 1, 4, seed=0)
    with pytest.raises(ValueError, match=name):
        call(inst)
