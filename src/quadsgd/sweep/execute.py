"""Where tasks run: a Dask client (local processes, an existing scheduler, or SLURM) and the task map.

Every stage of the pipeline (ODE scans, SGD, implicit bias, empirical recovery) hands its
independent tasks to :func:`map_tasks`, on the client from :func:`dask_client` built from the
config's ``dask`` section, so the same settings reach every stage.

Workers are single-threaded processes with BLAS/OpenMP/numba pinned to one thread each: the
compiled kernels are sequential, so extra library threads would only oversubscribe the cores
the caller was granted (Snakemake's ``threads``). The pinning is passed as the nanny's worker
environment because the nanny resets those variables in the processes it starts.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["dask_client", "map_tasks", "WORKER_ENV"]

log = logging.getLogger(__name__)
R = TypeVar("R")

#: Environment of every worker process: one BLAS / OpenMP / numba thread.
WORKER_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


@contextmanager
def dask_client(
    threads: int,
    scheduler_address: str | None = None,
    *,
    kind: Literal["local", "slurm"] = "local",
    processes: bool = True,
    local_directory: str | os.PathLike[str] | None = None,
    memory_limit: str | int | None = "auto",
    cluster_kwargs: Mapping[str, Any] | None = None,
) -> Iterator[Client]:
    """A ``distributed.Client`` for ``threads`` single-threaded workers, closed on exit.

    Parameters
    ----------
    threads : number of workers (each with one thread), e.g. a Snakemake rule's ``threads``.
    scheduler_address : connect to this running scheduler instead of starting a cluster;
        ``threads`` and ``kind`` are then ignored (the scheduler's workers are used as they are).
    kind : ``"local"`` (a ``LocalCluster``) or ``"slurm"`` (``dask_jobqueue.SLURMCluster`` with
        ``threads`` single-core jobs; needs the ``slurm`` extra).
    processes : worker processes (default) or threads of this process. The compiled ODE and SGD
        kernels release the GIL, so threads run them in parallel without the worker processes'
        start-up (identical numbers; docs/performance.md has the measured effect); but the
        environment pinning does not reach threads, so BLAS may add threads of its own
        (weight-space SGD uses BLAS; the ODE and the Gram chain do not).
    local_directory : scratch space of the workers; default ``$TMPDIR`` (or the system temp dir).
    memory_limit : per-worker memory limit of the local cluster.
    cluster_kwargs : extra keyword arguments for the cluster class (e.g. SLURM ``queue``,
        ``account``, ``walltime``, ``memory``).
    """
    from distributed import Client, LocalCluster

    if threads < 1:
        raise ValueError(f"threads must be at least 1; got {threads}")
    if scheduler_address:
        with Client(scheduler_address) as client:
            yield client
        return
    scratch = os.fspath(local_directory or os.environ.get("TMPDIR") or tempfile.gettempdir())
    extra = dict(cluster_kwargs or {})
    with ExitStack() as stack:
        if kind == "local":
            if processes:
                extra.setdefault("env", dict(WORKER_ENV))
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=threads,
                    threads_per_worker=1,
                    processes=processes,
                    local_directory=scratch,
                    memory_limit=memory_limit,
                    dashboard_address=":0",  # a free port: concurrent jobs never collide on 8787
                    **extra,
                )
            )
        elif kind == "slurm":
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError as err:
                raise RuntimeError(
                    "dask.kind 'slurm' needs dask-jobqueue: pip install 'quadsgd[slurm]' "
                    "(or conda install -c conda-forge dask-jobqueue)"
                ) from err
            extra.setdefault("cores", 1)
            extra.setdefault("processes", 1)
            extra.setdefault("memory", "2GB")
            extra.setdefault("local_directory", scratch)
            extra.setdefault("job_script_prologue", [f"export {k}={v}" for k, v in WORKER_ENV.items()])
            cluster = stack.enter_context(SLURMCluster(**extra))
            cluster.scale(jobs=threads)
        else:
            raise ValueError(f"kind must be 'local' or 'slurm'; got {kind!r}")
        client = stack.enter_context(Client(cluster))
        log.info("dask cluster %s (dashboard %s)", type(cluster).__name__, client.dashboard_link)
        yield client


def map_tasks(
    fn: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    client: Client | None = None,
    *,
    desc: str = "tasks",
    progress: bool = True,
) -> list[R]:
    """``[fn(*t) for t in tasks]``, on ``client`` if given, in the order of ``tasks``.

    Completion is logged (and shown by tqdm on stderr when ``progress``) as tasks finish, so
    long jobs report where they are. A task's exception is raised here.
    """
    from tqdm.auto import tqdm

    results: list[R | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, unit="task", disable=not progress, mininterval=1.0)
    if client is None:
        for i, t in enumerate(tasks):
            results[i] = fn(*t)
            bar.update()
            log.info("%s: %d/%d done", desc, i + 1, len(tasks))
    else:
        from distributed import as_completed

        futures = [client.submit(fn, *t, pure=False) for t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for done, fut in enumerate(as_completed(futures), start=1):
            results[index[fut.key]] = fut.result()
            bar.update()
            log.info("%s: %d/%d done", desc, done, len(tasks))
    bar.close()
    return results  # type: ignore[return-value]
