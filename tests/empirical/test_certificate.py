"""Issue 15, point 3: a run that ends near A* on a non-unique PSD fit set is not a recovery.

Before (commit 140c0d8) a flow run was recovered iff ``rel_error < 1e-2``. With a full-rank
teacher below ``n = d(d+1)/2`` the teacher is never the only PSD fit, yet some runs end within
that tolerance: at d = 4, m* = 4, n = 9 (current seeding) seeds 5, 6, 20, 21, 25, 40, 58 end at
rel_error 2.6e-4 .. 6.1e-3 with loss <= 1e-20. Each test below fails on the rel_error criterion.
"""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import empirical as em

FALSE_FULL_RANK = (5, 6, 20, 21, 25, 40, 58)  # d = 4, m* = 4, n = 9


@pytest.mark.parametrize("seed", FALSE_FULL_RANK)
def test_full_rank_runs_near_the_teacher_are_not_recoveries(seed: int) -> None:
    out = em.recover_instance(4, 4, 9, seed, 4, em.RecoveryOptions())
    assert out.rel_error < 1e-2  # the old criterion called this run recovered
    assert out.second_fit and out.witness_margin > 1 and out.witness_rank == 4 and out.fit_kernel_dim == 1
    assert not out.recovered


def test_the_witness_is_a_second_psd_fit() -> None:
    for d, ms, n, seed in ((4, 4, 9, 5), (4, 4, 9, 40), (6, 6, 20, 0)):
        inst = em.make_instance(d, ms, n, seed)
        res = em.gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, 1e8, n_eval=2)
        wit = em.second_fit_witness(em.student_matrix(res.W_final), inst.X, inst.y, inst.A_star)
        assert wit.found and wit.fit is not None
        assert np.linalg.eigvalsh(wit.fit)[0] > 0  # PSD
        fit_err = np.einsum("ni,ij,nj->n", inst.X, wit.fit, inst.X) - inst.y
        assert np.abs(fit_err).max() < 1e-10 * np.abs(inst.y).max()  # fits the data
        dist = np.linalg.norm(wit.fit - inst.A_star) / np.linalg.norm(inst.A_star)
        assert dist >= wit.distance > 0  # is not the teacher, by at least the certified bound


@pytest.mark.parametrize(("d", "mstar", "n", "seeds"), [
    (4, 1, 7, (0, 2, 3, 4, 6, 8)),   # partial rank above threshold (n_c = 7)
    (4, 2, 9, (0, 1, 2, 3)),         # n_c = 9
    (8, 2, 22, (0, 5, 6)),           # n_c = 21
    (4, 4, 10, (0, 1, 2)),           # full rank at n = d(d+1)/2: the data determine A
])
def test_true_recoveries_stay_recovered(d: int, mstar: int, n: int, seeds: tuple[int, ...]) -> None:
    for seed in seeds:
        out = em.recover_instance(d, mstar, n, seed, d, em.RecoveryOptions())
        # margin <= 1 by construction when F = {A*} (at n = d(d+1)/2 it can come close to 1: there the
        # end point's distance to A* is bounded by exactly the correction delta that the margin divides by)
        assert out.recovered and not out.second_fit and out.witness_margin < 1, (d, mstar, n, seed)


def test_unique_data_admit_no_witness_at_any_point_near_the_teacher() -> None:
    # F = {A*} (n >= d(d+1)/2, full rank): no perturbation of A* can be certified as a second fit
    rng = np.random.default_rng(0)
    inst = em.make_instance(4, 4, 12, 0)
    assert em.fit_kernel_dim(inst.X) == 0
    for scale in (1e-12, 1e-8, 1e-4, 1e-2):
        E = rng.normal(size=(4, 4)) * scale
        assert not em.second_fit_witness(inst.A_star + E @ E.T, inst.X, inst.y, inst.A_star).found


def test_flow_verdict_agrees_with_the_sdp_certificate() -> None:
    pytest.importorskip("cvxpy")
    flow_o, sdp_o = em.RecoveryOptions(), em.RecoveryOptions(method="sdp")
    for d, ms, n, seeds in ((4, 4, 9, range(30)), (4, 1, 7, range(24))):
        for seed in seeds:
            f = em.recover_instance(d, ms, n, seed, d, flow_o)
            s = em.recover_instance(d, ms, n, seed, d, sdp_o)
            if f.second_fit:  # a certified second fit contradicts uniqueness
                assert not s.recovered, (d, ms, n, seed)
            if f.recovered:  # a recovery is never certified non-unique by the SDP
                assert s.recovered or not s.solver_ok, (d, ms, n, seed)
            if s.recovered:  # unique data: the converged flow finds A*, or is still on its way
                assert not f.second_fit
        if ms >= d:
            assert not any(em.recover_instance(d, ms, n, s_, d, flow_o).recovered for s_ in FALSE_FULL_RANK)
