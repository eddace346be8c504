"""How a sweep is cut into jobs and tasks."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd.sweep import plan


def test_job_slices_cover_the_range_in_order():
    assert plan.job_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert plan.job_slices(2, 5) == [slice(0, 2)]
    with pytest.raises(ValueError, match="per_job"):
        plan.job_slices(3, 0)


def test_eta_blocks_cover_the_grid_with_whole_learning_rates():
    blocks = plan.eta_blocks(25, 8, 50)
    assert [b.stop - b.start for b in blocks] == [6, 6, 6, 6, 1]
    assert plan.eta_blocks(5, 8, 3) == [slice(i, i + 1) for i in range(5)]  # at least one eta per job
    covered = np.concatenate([np.arange(25)[b] for b in blocks])
    assert np.array_equal(covered, np.arange(25))


@pytest.mark.parametrize("n_eta,n_seeds,per_task", [(6, 3, 4), (6, 3, 1), (5, 10, 4), (4, 2, 100)])
def test_task_blocks_tile_the_grid_once(n_eta, n_seeds, per_task):
    eta_slices, seed_slices = plan.task_blocks(n_eta, n_seeds, per_task)
    seen = np.zeros((n_eta, n_seeds), dtype=int)
    for e in eta_slices:
        for s in seed_slices:
            seen[e, s] += 1
            assert (e.stop - e.start) * (s.stop - s.start) <= per_task
    assert (seen == 1).all()


def test_pack_keeps_order_and_capacity():
    assert plan.pack([3, 3, 3, 5, 1], 6) == [[0, 1], [2], [3, 4]]
    assert plan.pack([9, 1], 4) == [[0], [1]]  # an item larger than the capacity is a group of its own
    with pytest.raises(ValueError, match="capacity"):
        plan.pack([1], 0)


@pytest.mark.parametrize("per_job", [1, 7, 16, 50, 200, 10_000])
def test_scan_jobs_cover_every_point_once_within_the_job_size(per_job):
    ps, pstars, n_eta, n_seeds = [1, 2, 4], [1, 3], 9, 4
    jobs = plan.scan_jobs(ps, pstars, n_eta, n_seeds, per_job)
    seen = {(p, s): np.zeros(n_eta, dtype=int) for p in ps for s in pstars}
    for units in jobs:
        points = sum((u.eta.stop - u.eta.start) * n_seeds for u in units)
        assert points <= max(per_job, n_seeds)  # one learning rate (all seeds) is the smallest unit
        for u in units:
            seen[(u.p, u.pstar)][u.eta] += 1
    assert all((v == 1).all() for v in seen.values())
    stores = [u.store for units in jobs for u in units]
    assert len(set(stores)) == len(stores)  # no two units name one store
    # As many jobs as whole jobs' worth of points, never fewer than one per (p, pstar) block.
    blocks = len(plan.eta_blocks(n_eta, n_seeds, per_job))
    assert len(jobs) >= -(-len(ps) * len(pstars) * n_eta * n_seeds // max(per_job, n_seeds))
    assert len(jobs) <= len(ps) * len(pstars) * blocks


def test_scan_jobs_of_the_configs():
    small = {"grid": {"p": [1, 2, 4, 8], "pstar": [1, 2], "eta_over_p": {"num": 25}, "seeds": 8},
             "jobs": {"points_per_job": 2000}, "refine": {"points": 6, "rounds": 2}}
    assert len(plan.pipeline_scan_jobs(small)) == 1 and len(plan.pipeline_scan_jobs(small)[0]) == 8
    assert plan.pipeline_refine_jobs(small) == [[(p, s) for p in (1, 2, 4, 8) for s in (1, 2)]]
    # A grid larger than a job fans out: one block of whole learning rates per job.
    large = {"grid": {"p": [1, 2, 3], "pstar": [1, 2], "eta_over_p": {"num": 49}, "seeds": 32},
             "jobs": {"points_per_job": 512}, "refine": {"points": 8, "rounds": 3}}
    jobs = plan.pipeline_scan_jobs(large)
    assert len(jobs) == 6 * 4 and all(len(units) == 1 for units in jobs)
    assert [u.eta.stop - u.eta.start for u in jobs[0] + jobs[1] + jobs[2] + jobs[3]] == [16, 16, 16, 1]
    assert plan.pipeline_refine_jobs(large) == [[(p, s)] for p in (1, 2, 3) for s in (1, 2)]


def test_store_names_hold_integers_only():
    [[unit]] = plan.scan_jobs([2.0], [1.0], 3, 2, 100)  # whole-number floats from a YAML config
    assert unit.store == "p2_pstar1_part000.zarr"
    assert plan.refine_store(2.0, 1.0) == "p2_pstar1.zarr" and plan.sgd_store(1000.0) == "N1000.zarr"
