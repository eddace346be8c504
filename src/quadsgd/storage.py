"""Dataset schemas and zarr I/O: the one place that says what every stored variable is.

Trajectories (ODE and both SGD methods) share one schema, built by :func:`trajectory_dataset`,
so results overlay directly. Stores are written atomically (:func:`write_zarr_atomic`): to a
temporary sibling first, renamed into place only when complete, so an interrupted write never
leaves a store that looks finished.
"""

from __future__ import annotations

import enum
import errno
import os
import shutil
import uuid
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

__all__ = [
    "Status",
    "STATUS_ATTRS",
    "VARIABLE_ATTRS",
    "trajectory_dataset",
    "write_zarr_atomic",
    "open_store",
    "StoreError",
    "annotate",
]


class Status(enum.IntEnum):
    """Fate of one trajectory (stored as int8 with CF ``flag_values``/``flag_meanings``)."""

    CONVERGED = 0  #: escaped, then stopped at zero risk or at a fixed point
    ESCAPED = 1  #: crossed the escape threshold, still moving at alpha_max
    CENSORED = 2  #: never crossed the escape threshold by alpha_max
    DIVERGED = 3  #: overlaps blew up (non-finite, or trace(Q) beyond the bound)


STATUS_ATTRS: dict[str, Any] = {
    "long_name": "trajectory status",
    "flag_values": [int(s) for s in Status],
    "flag_meanings": " ".join(s.name.lower() for s in Status),
}

#: Attributes of every variable the project stores; one entry per name.
VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "alpha": {"long_name": "alpha = samples / N", "units": "1"},
    "Q": {"long_name": "student-student overlaps W W^T / N", "units": "1"},
    "M": {"long_name": "student-teacher overlaps W W*^T / N", "units": "1"},
    "Q_final": {"long_name": "Q at the last integrated time", "units": "1"},
    "M_final": {"long_name": "M at the last integrated time", "units": "1"},
    "M0": {"long_name": "initial student-teacher overlaps M(alpha=0)", "units": "1"},
    "risk": {"long_name": "population risk eps = E[(y - yhat)^2]/2", "units": "1"},
    "alpha_escape": {
        "long_name": "first alpha with risk <= escape_fraction * plateau risk (NaN if never)",
        "units": "1",
    },
    "alpha_stop": {"long_name": "alpha at which integration stopped", "units": "1"},
    "n_steps": {"long_name": "accepted integrator steps", "units": "1"},
    "eta": {"long_name": "learning rate eta", "units": "1"},
    "seed": {"long_name": "random seed (with p, pstar, N keys the SeedSequence)", "units": "1"},
    "p": {"long_name": "student width p", "units": "1"},
    "pstar": {"long_name": "teacher width p*", "units": "1"},
    "k": {"long_name": "student unit index", "units": "1"},
    "l": {"long_name": "student unit index", "units": "1"},
    "r": {"long_name": "teacher unit index", "units": "1"},
    # Sweep (quadsgd.sweep): ODE escape-time grids and their summaries.
    "eta_over_p": {"long_name": "learning rate per student unit eta / p (the sweep's grid axis)", "units": "1"},
    "N": {"long_name": "input dimension N", "units": "1"},
    "refine": {"long_name": "index of a learning rate added by the refinement around the grid minimum", "units": "1"},
    "dynamics": {"long_name": "dynamics: finite-N SGD (Gram chain) or the ODE from the run's measured M(0)"},
    "prediction": {"long_name": "seed whose M(0) gives the predicted closest solution", "units": "1"},
    "eta_opt": {"long_name": "learning rate minimizing the mean ODE escape time (all seeds escaping)", "units": "1"},
    "eta_opt_over_p": {"long_name": "eta_opt / p", "units": "1"},
    "alpha_escape_opt": {"long_name": "mean ODE escape time over seeds at eta_opt", "units": "1"},
    "alpha_escape_opt_sem": {"long_name": "standard error of the mean escape time at eta_opt", "units": "1"},
    "alpha_escape_opt_median": {"long_name": "median ODE escape time over seeds at eta_opt", "units": "1"},
    "eta_max_stable": {"long_name": "largest scanned eta at which every seed escaped", "units": "1"},
    "grid_reaches_instability": {
        "long_name": "1 if some seed fails to escape at the largest grid eta (the grid brackets the stable range)",
        "units": "1",
    },
    "eta_opt_at_grid_edge": {
        "long_name": "1 if eta_opt is the smallest scanned eta at which all seeds escape (extend the grid down)",
        "units": "1",
    },
    "eta_opt_at_stability_edge": {
        "long_name": "1 if the next larger scanned eta lets some seed diverge or stall (optimum set by stability)",
        "units": "1",
    },
    "refine_eta_over_p": {"long_name": "eta / p of the refinement points", "units": "1"},
    "refine_alpha_escape_mean": {"long_name": "mean ODE escape time at the refinement points", "units": "1"},
    "refine_n_escaped": {"long_name": "seeds that escaped at the refinement points", "units": "1"},
    "eta_opt_exponent": {"long_name": "fitted exponent a of eta_opt ~ c p^a (least squares in log-log, over p >= pstar)", "units": "1"},
    "eta_opt_exponent_se": {"long_name": "standard error of the fitted exponent", "units": "1"},
    "eta_opt_prefactor": {"long_name": "fitted prefactor c of eta_opt ~ c p^a", "units": "1"},
    "C": {"long_name": "polar factor C = M (M^T M)^(-1/2) of the student-teacher overlaps", "units": "1"},
    "polar_drift": {"long_name": "|C(M) - C(M0)|_F, drift of the polar factor from its initial value", "units": "1"},
    "distance": {
        "long_name": "Frobenius distance of (Q, M) to the closest zero-error solution predicted from M0[prediction]",
        "units": "1",
    },
}


def _attrs(name: str) -> dict[str, Any]:
    if name == "status":
        return dict(STATUS_ATTRS)
    return dict(VARIABLE_ATTRS.get(name, {}))


def trajectory_dataset(
    *,
    alpha: NDArray[np.float64],
    risk: NDArray[np.float64],
    status: NDArray[np.integer],
    alpha_escape: NDArray[np.float64],
    alpha_stop: NDArray[np.float64],
    eta: NDArray[np.float64],
    Q: NDArray[np.float64] | None = None,
    M: NDArray[np.float64] | None = None,
    Q_final: NDArray[np.float64] | None = None,
    M_final: NDArray[np.float64] | None = None,
    n_steps: NDArray[np.integer] | None = None,
    M0: NDArray[np.float64] | None = None,
    batch_dims: Sequence[str] = (),
    coords: Mapping[Hashable, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Assemble the common trajectory schema.

    Shapes (``B`` = batch shape, named by ``batch_dims``; ``G = len(alpha)``):
    ``risk (*B, G)``, ``status``/``alpha_escape``/``alpha_stop``/``eta`` ``(*B)``,
    ``Q (*B, G, p, p)`` and ``M (*B, G, p, pstar)`` when trajectories are kept, otherwise
    ``Q_final (*B, p, p)`` and ``M_final (*B, p, pstar)``; ``M0 (*B, p, pstar)`` the start.
    """
    bd = tuple(batch_dims)
    if risk.ndim != len(bd) + 1:
        raise ValueError(f"batch_dims {bd} do not match risk of shape {risk.shape}")
    data: dict[str, Any] = {
        "risk": ((*bd, "alpha"), risk),
        "status": (bd, status.astype(np.int8)),
        "alpha_escape": (bd, alpha_escape),
        "alpha_stop": (bd, alpha_stop),
    }
    if Q is not None and M is not None:
        data["Q"] = ((*bd, "alpha", "k", "l"), Q)
        data["M"] = ((*bd, "alpha", "k", "r"), M)
    if Q_final is not None and M_final is not None:
        data["Q_final"] = ((*bd, "k", "l"), Q_final)
        data["M_final"] = ((*bd, "k", "r"), M_final)
    if n_steps is not None:
        data["n_steps"] = (bd, n_steps.astype(np.int64))
    if M0 is not None:
        data["M0"] = ((*bd, "k", "r"), M0)
    p, pstar = (Q if Q is not None else Q_final).shape[-1], (M if M is not None else M_final).shape[-1]
    all_coords: dict[Hashable, Any] = {
        "alpha": alpha,
        "k": np.arange(p),
        "l": np.arange(p),
        "r": np.arange(pstar),
    }
    all_coords.update(_eta_coord(np.asarray(eta, dtype=np.float64), bd))
    all_coords.update(coords or {})
    ds = xr.Dataset(data, coords=all_coords, attrs=dict(attrs or {}))
    for name in list(ds.variables):
        ds[name].attrs.update(_attrs(str(name)))
    return ds


def _eta_coord(eta: NDArray[np.float64], batch_dims: tuple[str, ...]) -> dict[str, Any]:
    """``eta`` as a 1-D index when a batch dim is named ``eta``, else a coordinate on the batch."""
    if eta.ndim == 0 or np.all(eta == eta.flat[0]) and "eta" not in batch_dims:
        return {"eta": float(eta.flat[0])}
    if "eta" not in batch_dims:
        return {"eta": (batch_dims, eta)}
    axis = batch_dims.index("eta")
    line = np.moveaxis(eta, axis, 0).reshape(eta.shape[axis], -1)[:, 0]
    expected = np.moveaxis(np.broadcast_to(line, eta.shape[:axis] + eta.shape[axis + 1 :] + line.shape), -1, axis)
    if not np.array_equal(expected, eta):
        raise ValueError("eta varies along dims other than 'eta'; cannot index by it")
    return {"eta": line}


class StoreError(RuntimeError):
    """A zarr store is missing, incomplete or corrupted."""


def write_zarr_atomic(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to the zarr store ``path`` atomically.

    The store is written to a temporary sibling directory and renamed into place only after
    the write (including consolidated metadata) has finished; an existing store at ``path`` is
    replaced. A failure leaves ``path`` as it was and removes the temporary directory.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
        _swap_into_place(tmp, target)
    except OSError as err:  # disk full, read-only or not-a-directory paths: name the store
        shutil.rmtree(tmp, ignore_errors=True)
        reason = err.strerror or str(err) or type(err).__name__
        raise OSError(err.errno, f"{reason}; could not write the zarr store", str(target)) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _swap_into_place(tmp: Path, target: Path, attempts: int = 20) -> None:
    """Rename the finished store ``tmp`` to ``target``, moving an existing store aside first.

    Two writers racing for the same ``target`` can see each other's renames (the target
    vanishing or reappearing between two steps); each retries, so one complete store wins and
    neither leaves a mixture: a zarr directory is only ever renamed whole.
    """
    for _ in range(attempts):
        old = None
        if target.exists() or target.is_symlink():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            try:
                os.replace(target, old)
            except FileNotFoundError:  # another writer moved it aside first
                continue
        try:
            os.replace(tmp, target)
        except OSError as err:
            if old is not None:  # put the previous store back unless another writer's is there
                try:
                    os.replace(old, target)
                except OSError:
                    _remove(old)
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another writer's store arrived
                continue
            raise
        if old is not None:
            _remove(old)
        return
    raise OSError(errno.EBUSY, f"gave up replacing {target}: other writers kept replacing it", str(target))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def open_store(path: str | os.PathLike[str], required: Sequence[str] = ()) -> xr.Dataset:
    """Open a finished store, checking that it is readable and holds the ``required`` variables.

    Raises :class:`StoreError` naming the path and the problem for a missing, truncated or
    corrupted store, instead of a deep zarr/JSON traceback.
    """
    target = Path(path)
    if not target.exists():
        raise StoreError(f"{target}: no such store")
    try:
        ds = xr.open_zarr(target, consolidated=True)
        missing = [v for v in required if v not in ds.variables]
        if missing:
            raise StoreError(f"{target}: missing variables {missing}")
        for name in required:
            ds[name].load()
    except StoreError:
        raise
    except Exception as err:  # zarr, JSON and codec errors all mean the same thing here
        raise StoreError(f"{target}: unreadable or corrupted zarr store ({type(err).__name__}: {err})") from err
    return ds


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Set the attributes of every variable of ``ds`` that :data:`VARIABLE_ATTRS` describes.

    ``sgd_``-prefixed variables (finite-N SGD statistics kept beside the ODE ones) get the
    attributes of their unprefixed name, with the long name marked as finite-N SGD.
    Returns ``ds`` (modified in place); idempotent.
    """
    for name in ds.variables:
        key = str(name)
        if key.startswith("sgd_"):
            attrs = {**_attrs(key[4:]), **ds[name].attrs}
            text = attrs.get("long_name", key[4:])
            if not text.startswith("finite-N SGD"):
                attrs["long_name"] = f"finite-N SGD: {text}"
            ds[name].attrs = attrs
        else:
            ds[name].attrs.update(_attrs(key))
    return ds
