"""Where tasks run: the Dask client and the order-keeping task map."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import xarray as xr

from quadsgd.sweep.execute import WORKER_ENV, dask_client, map_tasks, task_executor


def test_ode_scan_on_a_dask_client_gives_identical_numbers(small, scans):
    with dask_client(2, processes=False) as client:
        ds = small.scan(1, 1, client=client, points_per_task=2)
    xr.testing.assert_identical(ds, scans[(1, 1)])


def _env() -> dict[str, str | None]:
    import os

    return {k: os.environ.get(k) for k in WORKER_ENV}


def test_dask_client_pins_worker_threads():
    with dask_client(1) as client:
        assert client.submit(_env).result() == WORKER_ENV
        assert len(client.scheduler_info()["workers"]) == 1


@pytest.mark.skipif(importlib.util.find_spec("dask_jobqueue") is not None, reason="dask-jobqueue installed")
def test_slurm_without_dask_jobqueue_is_a_clear_error():
    with pytest.raises(RuntimeError, match="dask-jobqueue"):
        with dask_client(1, kind="slurm"):
            pass


def test_unknown_cluster_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        with dask_client(1, kind="cloud"):  # type: ignore[arg-type]
            pass


def _slow_square(x: int) -> int:
    import time

    time.sleep(0.05 * (3 - x))  # later tasks finish first
    return x * x


def test_map_tasks_keeps_task_order():
    with dask_client(2, processes=False) as client:
        assert map_tasks(_slow_square, [(i,) for i in range(4)], client, progress=False) == [0, 1, 4, 9]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert map_tasks(_slow_square, [(2,)], None, progress=False) == [4]


def test_map_tasks_raises_a_task_error():
    def boom(x):
        raise ZeroDivisionError(x)

    with pytest.raises(ZeroDivisionError):
        map_tasks(boom, [(1,)], None, progress=False)


def test_thread_executor_gives_identical_numbers_without_dask(small, scans):
    from concurrent.futures import ThreadPoolExecutor

    with task_executor(2, processes=False) as executor:
        assert isinstance(executor, ThreadPoolExecutor)
        ds = small.scan(1, 1, client=executor, points_per_task=2)
        assert map_tasks(_slow_square, [(i,) for i in range(4)], executor, progress=False) == [0, 1, 4, 9]
    xr.testing.assert_identical(ds, scans[(1, 1)])
    with task_executor(1, processes=False) as executor:
        assert executor is None  # one thread: the tasks run in turn in this thread


def test_a_failed_task_drops_the_queued_ones():
    import threading

    started = []
    lock = threading.Lock()

    def task(i):
        with lock:
            started.append(i)
        if i == 0:
            raise ZeroDivisionError(i)
        import time

        time.sleep(0.2)
        return i

    with pytest.raises(ZeroDivisionError):
        with task_executor(2, processes=False) as executor:
            map_tasks(task, [(i,) for i in range(40)], executor, progress=False)
    assert len(started) < 40  # the queued tasks were cancelled, not run to the end


def test_task_executor_refuses_zero_threads():
    with pytest.raises(ValueError, match="threads"):
        with task_executor(0, processes=False):
            pass
