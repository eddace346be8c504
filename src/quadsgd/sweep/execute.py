"""Where tasks run: threads of the job, or a Dask client (local processes, an existing scheduler,
or SLURM), and the task map.

Every stage of the pipeline (ODE scans, SGD, implicit bias, empirical recovery) hands its
independent tasks to :func:`map_tasks`, on the executor from :func:`task_executor` built from the
config's ``dask`` section, so the same settings reach every stage. Threads of the job itself
(``processes: false`` on a local machine) need no Dask at all: the compiled kernels release the
GIL, and a job spares the import of ``distributed`` and the start of a cluster (about 2 s).

Workers are single-threaded processes with BLAS/OpenMP/numba pinned to one thread each: the
compiled kernels are sequential, so extra library threads would only oversubscribe the cores
the caller was granted (Snakemake's ``threads``). The pinning is passed as the nanny's worker
environment because the nanny resets those variables in the processes it starts.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["task_executor", "dask_client", "map_tasks", "dashboard_note", "WORKER_ENV"]

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
def task_executor(
    threads: int,
    scheduler_address: str | None = None,
    *,
    kind: Literal["local", "slurm"] = "local",
    processes: bool = True,
    **dask_kwargs: Any,
) -> Iterator[Client | Executor | None]:
    """Where one job's tasks run, from the config's ``dask`` section (the arguments of
    :func:`dask_client`), for :func:`map_tasks`.

    A local run with ``processes=False`` gets ``threads`` threads of this process (a
    ``concurrent.futures.ThreadPoolExecutor``; ``None``, i.e. in turn in this thread, for one
    thread): no Dask scheduler, no import of ``distributed``, the same numbers. Otherwise (worker
    processes, a scheduler address, SLURM) a ``distributed.Client`` from :func:`dask_client`.
    Ctrl-C cancels the pending tasks and logs one ``interrupted`` line (running tasks finish).
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1; got {threads}")
    if processes or scheduler_address or kind != "local":
        with dask_client(threads, scheduler_address, kind=kind, processes=processes, **dask_kwargs) as client:
            yield client
        return
    from concurrent.futures import ThreadPoolExecutor

    log.info("tasks on %d thread(s) of this process (dask.processes: false: no Dask cluster)", threads)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quadsgd-task") if threads > 1 else None
    try:
        yield pool
    except BaseException as err:
        if pool is not None:  # queued tasks are dropped; running ones finish (one task each)
            pool.shutdown(wait=False, cancel_futures=True)
        if isinstance(err, KeyboardInterrupt):
            _interrupted()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


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
    announced = False
    try:
        with ExitStack() as stack:
            if kind == "local":
                if processes:
                    extra.setdefault("env", dict(WORKER_ENV))
                bokeh = _has_bokeh()
                if not bokeh:  # the dashboard would only serve an error page: start none
                    extra.setdefault("scheduler_kwargs", {}).setdefault("dashboard", False)
                with _workers_ignore_sigint():
                    cluster = stack.enter_context(
                        LocalCluster(
                            n_workers=threads,
                            threads_per_worker=1,
                            processes=processes,
                            local_directory=scratch,
                            memory_limit=memory_limit,
                            # a free port: concurrent jobs never collide on 8787
                            dashboard_address=":0" if bokeh else None,
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
            log.info("dask cluster %s (%s)", type(cluster).__name__, dashboard_note(client))
            try:
                yield client
            except KeyboardInterrupt:
                announced = _interrupted()
                with _silenced("distributed", "tornado", "asyncio"):
                    stack.close()  # client and cluster, without their shutdown chatter
                raise
    except KeyboardInterrupt:  # also while the cluster starts or closes
        if not announced:
            _interrupted()
        raise


def _interrupted() -> bool:
    """One ``interrupted`` line in the log and on the console."""
    log.warning("interrupted")
    _console("interrupted")
    return True


@contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (an ignored signal survives exec; Python then
    installs no KeyboardInterrupt handler). Ctrl-C reaches every process of the terminal's
    process group: the workers would each print a traceback on the console while this process,
    which does get the KeyboardInterrupt, cancels their tasks and closes them."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def dashboard_note(client: Client) -> str:
    """``dashboard http://...`` when the dashboard can serve pages (bokeh importable), else how
    to get it: without bokeh the link would only serve an error page (docs/pipeline.md, "Dask
    dashboard", has the SSH tunnel to reach it on a cluster node)."""
    if not _has_bokeh():
        return "dashboard: pip install 'quadsgd[dashboard]'"
    return f"dashboard {client.dashboard_link}"


@contextmanager
def _silenced(*names: str) -> Iterator[None]:
    """Mute these loggers for the block: a cluster closed on Ctrl-C logs tracebacks and the
    pickled arguments of the cancelled tasks (kilobytes per task) while it shuts down."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _console(line: str) -> None:
    """``line`` on the terminal when stderr goes to a job's log (Snakemake jobs through
    ``workflow/scripts/_job.run``); nothing extra otherwise (the log handler is the terminal)."""
    if sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None:
        try:
            print(line, file=sys.__stderr__, flush=True)
        except (OSError, ValueError):
            pass


#: Seconds after which a job's progress is also shown on the console (at 25/50/75/100 %).
CONSOLE_AFTER = float(os.environ.get("QUADSGD_CONSOLE_PROGRESS_AFTER", "10"))


class _Progress:
    """Progress of ``total`` tasks as text: one log line per tenth of the tasks (``desc: 12/24
    tasks done (50%, 31 s, ~31 s left)``). With ``enabled``: a tqdm bar when stderr is a terminal
    (never carriage returns in a log file), and, in a job whose stderr is its log, the same line
    on the console at 25, 50, 75 and 100 % once the job has run for ``CONSOLE_AFTER`` seconds
    (short jobs stay quiet on the console)."""

    def __init__(self, desc: str, total: int, enabled: bool) -> None:
        self.desc, self.total, self.enabled = desc, total, enabled
        self.start = time.monotonic()
        self.logged = self.shown = -1
        self.bar = None
        isatty = getattr(sys.stderr, "isatty", lambda: False)
        if enabled and isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="task", mininterval=1.0)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update()
        if self.total == 0:
            return
        elapsed = time.monotonic() - self.start
        left = elapsed * (self.total - done) / done if done else math.nan
        line = (f"{self.desc}: {done}/{self.total} tasks done ({100 * done // self.total}%, "
                f"{elapsed:.0f} s, ~{left:.0f} s left)")
        tenth, quarter = 10 * done // self.total, 4 * done // self.total
        if tenth > self.logged or done == self.total:
            self.logged = tenth
            log.info("%s", line)
        if not self.enabled:
            return
        if quarter > self.shown and (elapsed >= CONSOLE_AFTER or self.shown >= 0) and quarter >= 1:
            self.shown = quarter
            _console(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def map_tasks(
    fn: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    client: Client | Executor | None = None,
    *,
    desc: str = "tasks",
    progress: bool = True,
) -> list[R]:
    """``[fn(*t) for t in tasks]``, on ``client`` (a Dask client or a ``concurrent.futures``
    executor, e.g. from :func:`task_executor`) if given, in the order of ``tasks``.

    Completion is logged as text, one line per tenth of the tasks. With ``progress``: a tqdm bar
    only when stderr is a terminal, and in a Snakemake job the same line on the console at
    25/50/75/100 % when the job takes longer than ``CONSOLE_AFTER`` seconds. A task's exception
    is raised here. Ctrl-C cancels the pending tasks, logs ``interrupted`` and re-raises.
    """
    results: list[R | None] = [None] * len(tasks)
    progress_ = _Progress(desc, len(tasks), progress)
    if client is None:
        for i, t in enumerate(tasks):
            results[i] = fn(*t)
            progress_.update(i + 1)
    elif isinstance(client, Executor):
        from concurrent.futures import as_completed as completed_locally

        local = [client.submit(fn, *t) for t in tasks]
        position = {id(f): i for i, f in enumerate(local)}

        def cancel_local() -> None:
            for fut in local:
                fut.cancel()

        _collect(completed_locally(local), lambda f: position[id(f)], results, progress_, desc, cancel_local)
    else:
        from distributed import as_completed

        futures = [client.submit(fn, *t, pure=False) for t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        _collect(as_completed(futures), lambda f: index[f.key], results, progress_, desc,
                 lambda: client.cancel(futures))
    progress_.close()
    return results  # type: ignore[return-value]


def _collect(completed: Iterator[Any], position: Callable[[Any], int], results: list[Any], progress_: _Progress,
             desc: str, cancel: Callable[[], object]) -> None:
    """Store each finished future's result at its task's position; on a task's error or Ctrl-C,
    cancel the pending tasks (they would only delay the error) and re-raise."""
    done = 0
    try:
        for done, fut in enumerate(completed, start=1):
            results[position(fut)] = fut.result()
            progress_.update(done)
    except BaseException as err:
        progress_.close()
        if isinstance(err, KeyboardInterrupt):
            log.warning("%s: interrupted after %d/%d tasks; cancelling the rest", desc, done, len(results))
        try:
            cancel()
        except Exception:  # noqa: BLE001 - the client may already be closing
            pass
        raise
