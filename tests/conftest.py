"""Shared fixtures. Test modules never import each other: what they share lives here.

- ``rng``: a fixed-seed generator; ``random_overlaps``: random valid overlap blocks.
- Pipeline helpers (Snakemake on config/test.yaml in temporary copies of the workflow):
  ``test_config``, ``copy_workflow``, ``snakemake``, ``snakemake_command``, ``wait_until``,
  ``snakemake_recorded``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _random_overlaps(p: int, pstar: int, rng: np.random.Generator, scale: float = 1.0):
    """A random positive-definite joint covariance ``[[Q, M], [M^T, T]]`` split into blocks."""
    n = p + pstar
    S = rng.standard_normal((n, n + 3))
    G = scale * S @ S.T / (n + 3)
    return G[:p, :p].copy(), G[:p, p:].copy(), G[p:, p:].copy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture
def random_overlaps() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``random_overlaps(p, pstar, rng, scale=1.0) -> (Q, M, T)``: the blocks of a random
    positive-definite covariance of ``(lambda, nu)``."""
    return _random_overlaps


# --- pipeline helpers ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_config() -> dict[str, Any]:
    """config/test.yaml as a dict (a fresh copy per session; copy it before editing)."""
    return yaml.safe_load((REPO / "config" / "test.yaml").read_text())


def _copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Snakefile", dest / "Snakefile")
    for name in ("workflow", "config"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="session")
def copy_workflow() -> Callable[[Path], Path]:
    """``copy_workflow(dest) -> dest``: the Snakefile, workflow/ and config/ copied into ``dest``."""
    return _copy_workflow


@pytest.fixture(scope="session")
def snakemake_command() -> list[str]:
    """The command that runs Snakemake with this interpreter."""
    return list(SNAKEMAKE)


def _snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def snakemake() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``snakemake(workdir, *args, timeout=600)``: run Snakemake in ``workdir``, output captured.

    The timeout is only a guard against a hung run (generous: a busy 2-core machine is slow)."""
    return _snakemake


def _wait_until(condition: Callable[[], bool], *, proc: subprocess.Popen | None = None, timeout: float = 600,
                what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail if ``proc`` ends first or after ``timeout`` seconds.

    The timeout only bounds a hung run: nothing is assumed about how long a step takes."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., None]:
    """``wait_until(condition, proc=None, timeout=600, what=...)``: poll an event, no fixed sleeps."""
    return _wait_until


def _record_name(key: str) -> list[str]:
    """Snakemake's (file persistence) record path of an output: url-safe base64 of the path,
    cut into pieces of at most 254 characters, all but the last prefixed with ``@``."""
    b64 = urlsafe_b64encode(key.encode()).decode()
    parts = [b64[i : i + 254] for i in range(0, len(b64), 254)]
    return ["@" + s for s in parts[:-1]] + [parts[-1]]


def _snakemake_recorded(workdir: Path, output: str | Path) -> bool:
    """True once Snakemake has recorded ``output`` (relative to ``workdir``) as finished: its
    metadata record exists and its incomplete marker is gone (Snakemake writes the record first,
    then removes the marker)."""
    key = str(output)
    meta = workdir / ".snakemake" / "metadata"
    incomplete = workdir / ".snakemake" / "incomplete"
    name = _record_name(key)
    return meta.joinpath(*name).exists() and not incomplete.joinpath(*name).exists()


@pytest.fixture(scope="session")
def snakemake_recorded() -> Callable[[Path, str | Path], bool]:
    """``snakemake_recorded(workdir, "results/...")``: has Snakemake recorded this output as done?"""
    return _snakemake_recorded


# --- independent references --------------------------------------------------------------------


def _direct_scan(p: int, pstar: int, eta_over_p, seeds, N: int, alpha, escape_fraction: float = 0.5):
    """ODE escape times on an ``(eta_over_p, seed)`` grid straight from ``init.ode_initial`` and
    ``ode.integrate`` (no sweep code): every learning rate of a seed starts from its ``M(0)``."""
    from quadsgd import init, ode

    etas = np.atleast_1d(np.asarray(eta_over_p, dtype=np.float64))
    seeds = np.atleast_1d(np.asarray(seeds))
    Q0, M0, T = init.ode_initial(p, pstar, N, seeds)
    ds = ode.integrate(Q0[None], M0[None], p * etas[:, None], alpha, T, escape_fraction=escape_fraction,
                       overlaps="final", batch_dims=("eta_over_p", "seed"), coords={"seed": seeds})
    return ds.drop_vars("eta").assign_coords(eta_over_p=etas)


@pytest.fixture(scope="session")
def direct_scan():
    """``direct_scan(p, pstar, eta_over_p, seeds, N, alpha, escape_fraction=0.5)``: a reference scan."""
    return _direct_scan


def _brute_force_optimum(scan) -> tuple[float, float]:
    """``(eta_over_p, mean escape time)`` minimizing the mean over seeds among the learning rates
    at which every seed escaped (status converged or escaped), by plain numpy."""
    status = scan["status"].transpose("eta_over_p", "seed").values
    t = scan["alpha_escape"].transpose("eta_over_p", "seed").values
    all_escaped = np.all((status == 0) | (status == 1), axis=1)
    means = np.where(all_escaped, np.nanmean(np.where(all_escaped[:, None], t, 0.0), axis=1), np.inf)
    k = int(np.argmin(means))
    if not np.isfinite(means[k]):
        raise AssertionError("no learning rate of the reference scan lets every seed escape")
    return float(scan.eta_over_p.values[k]), float(means[k])


@pytest.fixture(scope="session")
def brute_force_optimum():
    """``brute_force_optimum(scan) -> (eta_over_p, mean escape time)`` by plain numpy."""
    return _brute_force_optimum


def pytest_collection_modifyitems(config, items):
    """Run tests/cluster last: their Dask worker processes then load the compiled kernels from
    the cache the earlier tests filled, instead of compiling them inside the tests' time limits."""
    cluster = [item for item in items if "cluster" in item.path.parts]
    items[:] = [item for item in items if "cluster" not in item.path.parts] + cluster
