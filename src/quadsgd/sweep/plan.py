"""How a sweep is cut into pipeline jobs and Dask tasks.

The scan of the learning-rate grid is cut into units: one block of whole learning rates (all
seeds) of one ``(p, pstar)`` holding about ``points_per_job`` ``(eta, seed)`` points. A pipeline
job runs consecutive units until it holds about ``points_per_job`` points, so a small sweep is a
few jobs (every ``(p, pstar)`` in one) and a large one fans out (one block per job). The
refinement of ``eta_opt`` is grouped the same way, by the points each ``(p, pstar)`` adds.
Inside a job, tasks of about ``points_per_task`` points go to the task executor. Since initial
conditions are keyed by seed and the integrator is per member, any split gives identical numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quadsgd import _validate

__all__ = ["job_slices", "eta_blocks", "task_blocks", "pack", "ScanUnit", "scan_jobs", "refine_jobs",
           "refine_store", "sgd_store", "pipeline_scan_jobs", "pipeline_refine_jobs"]


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


def pack(sizes: list[int], capacity: int) -> list[list[int]]:
    """Indices of ``sizes`` in order, cut into consecutive groups whose sizes sum to at most
    ``capacity`` (a single item larger than ``capacity`` is a group of its own)."""
    cap = _validate.positive_int("capacity", capacity)
    groups: list[list[int]] = []
    total = 0
    for i, size in enumerate(sizes):
        if not groups or total + size > cap:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += size
    return groups


@dataclass(frozen=True)
class ScanUnit:
    """One block of whole learning rates (``eta``, a slice of the ``eta_over_p`` grid; all
    seeds) of one ``(p, pstar)``; ``part`` numbers the blocks of that ``(p, pstar)``."""

    p: int
    pstar: int
    part: int
    eta: slice

    @property
    def store(self) -> str:
        """File name of the unit's store (integers only, so float formatting never names two files)."""
        return f"p{self.p}_pstar{self.pstar}_part{self.part:03d}.zarr"


def scan_jobs(ps: list[int], pstars: list[int], n_eta: int, n_seeds: int, points_per_job: int) -> list[list[ScanUnit]]:
    """The pipeline's scan jobs: units (:class:`ScanUnit`) of about ``points_per_job`` points per
    ``(p, pstar)``, in ``(p, pstar, part)`` order, packed into jobs of at most ``points_per_job``
    points (a unit of one learning rate with more seeds than that is a job of its own)."""
    units = [ScanUnit(int(p), int(s), i, block) for p in ps for s in pstars
             for i, block in enumerate(eta_blocks(n_eta, n_seeds, points_per_job))]
    sizes = [(u.eta.stop - u.eta.start) * n_seeds for u in units]
    return [[units[i] for i in group] for group in pack(sizes, points_per_job)]


def refine_jobs(ps: list[int], pstars: list[int], points_per_pair: int,
                points_per_job: int) -> list[list[tuple[int, int]]]:
    """The pipeline's refinement jobs: ``(p, pstar)`` pairs in order, packed by the
    ``points_per_pair`` ``(eta, seed)`` points each refinement adds into jobs of at most
    ``points_per_job`` points (at least one pair per job)."""
    pairs = [(int(p), int(s)) for p in ps for s in pstars]
    return [[pairs[i] for i in group] for group in pack([max(1, points_per_pair)] * len(pairs), points_per_job)]


def refine_store(p: int, pstar: int) -> str:
    """File name of the refinement store of ``(p, pstar)`` in its job's directory."""
    return f"p{int(p)}_pstar{int(pstar)}.zarr"


def sgd_store(N: int) -> str:
    """File name of the SGD store of one ``N`` in its job's directory: a job runs every ``N`` of
    one ``(p, pstar)`` (the largest N costs the most; the others add a few per cent)."""
    return f"N{int(N)}.zarr"


def pipeline_scan_jobs(config: Mapping[str, Any]) -> list[list[ScanUnit]]:
    """:func:`scan_jobs` of a pipeline config (its ``grid`` and ``jobs.points_per_job``)."""
    grid = config["grid"]
    return scan_jobs(grid["p"], grid["pstar"], grid["eta_over_p"]["num"], grid["seeds"],
                     config["jobs"]["points_per_job"])


def pipeline_refine_jobs(config: Mapping[str, Any]) -> list[list[tuple[int, int]]]:
    """:func:`refine_jobs` of a pipeline config: each ``(p, pstar)`` adds ``refine.points x
    refine.rounds x grid.seeds`` points (more if the grid is grown to reach instability)."""
    grid, refine = config["grid"], config["refine"]
    return refine_jobs(grid["p"], grid["pstar"], refine["points"] * refine["rounds"] * grid["seeds"],
                       config["jobs"]["points_per_job"])
