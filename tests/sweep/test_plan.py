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
