"""zarr I/O: atomic writes and checked reads.

Stores are written atomically (:func:`write_zarr_atomic`): to a temporary sibling first,
renamed into place only when complete, so an interrupted write never leaves a store that looks
finished. A store whose variables lack ``long_name`` or ``units`` is refused
(:mod:`quadsgd.schema`).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from quadsgd.schema import missing_attrs

__all__ = ["write_zarr_atomic", "open_store", "StoreError"]


class StoreError(RuntimeError):
    """A zarr store is missing, incomplete or corrupted."""


def write_zarr_atomic(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to the zarr store ``path`` atomically.

    The store is written to a temporary sibling directory and renamed into place only after
    the write (including consolidated metadata) has finished; an existing store at ``path`` is
    replaced. A failure leaves ``path`` as it was and removes the temporary directory.
    ``ValueError`` if a variable or coordinate lacks ``long_name`` or ``units``.
    """
    target = Path(path)
    undescribed = missing_attrs(ds)
    if undescribed:
        raise ValueError(f"{target}: variables without long_name or units: {undescribed}")
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
