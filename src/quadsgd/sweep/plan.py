"""How a sweep is cut into pipeline jobs and Dask tasks.

A job of the pipeline scans one block of learning rates (all seeds) of one ``(p, pstar)``; inside
a job, tasks of about ``points_per_task`` ``(eta, seed)`` points go to Dask. Since initial
conditions are keyed by seed and the integrator is per member, any split gives identical numbers.
"""

from __future__ import annotations

from quadsgd import _validate

__all__ = ["job_slices", "eta_blocks", "task_blocks"]


def job_slices(n: int, per_job: int) -> list[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``per_job`` items."""
    n_ = _validate.positive_int("n", n)
    per = _validate.positive_int("per_job", per_job)
    return [slice(a, min(n_, a + per)) for a in range(0, n_, per)]


def eta_blocks(n_eta: int, n_seeds: int, points_per_block: int) -> list[slice]:
    """Slices of the ``eta`` axis whose blocks (all seeds of each eta) hold about
    ``points_per_block`` ``(eta, seed)`` points: whole learning rates, at least one per block."""
    return job_slices(n_eta, max(1, points_per_block // max(1, n_seeds)))


def task_blocks(n_eta: int, n_seeds: int, points_per_task: int) -> tuple[list[slice], list[slice]]:
    """Slices of the ``eta`` and ``seed`` axes whose products are the tasks of one scan:
    whole seeds per eta where they fit in ``points_per_task``, else blocks of seeds."""
    seeds_per_task = max(1, min(n_seeds, points_per_task))
    etas_per_task = max(1, points_per_task // seeds_per_task)
    return job_slices(n_eta, etas_per_task), job_slices(n_seeds, seeds_per_task)
