"""zarr I/O: atomic writes, checked reads, recovery of interrupted writes.

Stores are written atomically (:func:`write_zarr_atomic`): to a temporary sibling first, then
swapped into place whole (one ``renameat2(RENAME_EXCHANGE)`` where the file system supports it,
so the target never disappears; otherwise two renames whose window :func:`recover_stores`
repairs). Temporaries are named after their writer (``.NAME.tmp-HOST-PID-XXXXXXXX``,
``.NAME.old-HOST-PID-XXXXXXXX``), so those of a dead writer are recognized and removed, and a
store that a killed writer had moved aside is put back. A store whose variables lack
``long_name`` or ``units`` is refused (:mod:`quadsgd.schema`).

Every store records :data:`STORE_FORMAT` in its ``quadsgd_store_version`` attribute and is
written with every chunk present (``write_empty_chunks=True``), so :func:`open_store` can tell a
missing chunk (which zarr would silently read as its fill value) from data: a reader gets every
variable decoded, or one :class:`StoreError` line naming the store and the variable.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import itertools
import json
import math
import os
import re
import shutil
import socket
import stat
import uuid
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from quadsgd.schema import missing_attrs

__all__ = ["write_zarr_atomic", "open_store", "recover_stores", "StoreError", "STORE_FORMAT", "STORE_FORMAT_ATTR"]

#: Format of the stores this version writes and reads; bump it when the layout changes.
STORE_FORMAT = 1
#: Attribute holding :data:`STORE_FORMAT` in every store.
STORE_FORMAT_ATTR = "quadsgd_store_version"

_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "localhost"
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[0-9a-f]{8}$")


class StoreError(RuntimeError):
    """A zarr store is missing, incomplete, corrupted or of another format version."""


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# --- writing -----------------------------------------------------------------------------------


def _temp_name(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def write_zarr_atomic(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to the zarr store ``path`` atomically.

    The store (with every chunk and the :data:`STORE_FORMAT_ATTR` attribute) is written to a
    temporary sibling and swapped into place only after the write (including consolidated
    metadata) has finished; an existing store at ``path`` is replaced. A failure leaves ``path``
    as it was and removes the temporary directory; temporaries of dead writers of the same
    target are cleaned up first (:func:`recover_stores`). ``ValueError`` if a variable or
    coordinate lacks ``long_name`` or ``units``; ``OSError`` naming the store if the file system
    refuses the write.
    """
    target = Path(path)
    undescribed = missing_attrs(ds)
    if undescribed:
        raise ValueError(f"{target}: variables without long_name or units: {undescribed}")
    ds = ds.copy(deep=False)
    ds.attrs = {**ds.attrs, STORE_FORMAT_ATTR: STORE_FORMAT}
    tmp = _temp_name(target, "tmp")
    try:
        _make_directory(target.parent)
        _recover_siblings(target.parent, only=target.name)
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, write_empty_chunks=True)
        _swap_into_place(tmp, target)
    except OSError as err:  # disk full, read-only or not-a-directory paths: name the store
        shutil.rmtree(tmp, ignore_errors=True)
        reason = err.strerror or str(err) or type(err).__name__
        raise OSError(err.errno, f"{reason}; could not write the zarr store", str(target)) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _make_directory(path: Path) -> None:
    """``mkdir -p``, reporting what is in the way (a file: ENOTDIR; a symlink loop: ELOOP) rather
    than ``FileExistsError``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        st = os.stat(path)  # raises ELOOP for a symlink loop
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None


def _load_renameat2():
    if os.name != "posix":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap the paths ``a`` and ``b`` (both must exist). False if the system or the
    file system cannot; ``OSError`` for any other failure."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_into_place(tmp: Path, target: Path, attempts: int = 20) -> None:
    """Put the finished store ``tmp`` at ``target``, replacing an existing store.

    Where the file system supports it, the two are exchanged in one system call, so ``target``
    is never missing; otherwise the existing store is moved aside (``.old-``) and ``tmp`` renamed
    in, and a kill between the two renames is repaired by :func:`recover_stores`. Two writers
    racing for the same ``target`` can see each other's renames (the target vanishing or
    reappearing between two steps); each retries, so one complete store wins and neither leaves
    a mixture: a zarr directory is only ever renamed whole.
    """
    for _ in range(attempts):
        if target.exists() or target.is_symlink():
            try:
                if _exchange(tmp, target):  # target: the new store; tmp: the previous one
                    _remove(tmp)
                    return
            except FileNotFoundError:  # another writer moved it aside first
                continue
            old = _temp_name(target, "old")
            try:
                os.replace(target, old)
            except FileNotFoundError:
                continue
        else:
            old = None
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


# --- recovery of interrupted writes -------------------------------------------------------------


def _writer_alive(host: str, pid: int) -> bool:
    """Whether the writer of a temporary may still be running. Writers on other hosts (a shared
    file system) cannot be checked and count as alive."""
    if host != _HOST:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recover_siblings(directory: Path, only: str | None = None) -> list[str]:
    """Recover the temporaries of dead writers in ``directory`` (of the store ``only``, or all)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    dead: dict[str, list[tuple[str, Path]]] = {}
    for name in names:
        m = _TEMP.match(name)
        if not m or (only is not None and m["target"] != only):
            continue
        if not _writer_alive(m["host"], int(m["pid"])):
            dead.setdefault(m["target"], []).append((m["kind"], directory / name))
    actions = []
    for target_name, temps in dead.items():
        target = directory / target_name
        olds = sorted((p for kind, p in temps if kind == "old"), key=_mtime, reverse=True)
        if not (target.exists() or target.is_symlink()):
            for old in olds:  # the newest complete store a killed writer had moved aside
                try:
                    open_store(old)
                except StoreError:
                    continue
                os.rename(old, target)
                actions.append(f"restored {target} from {old.name} (a replace interrupted by a killed writer)")
                break
        for _, temp in temps:
            if temp.exists() or temp.is_symlink():
                _remove(temp)
                actions.append(f"removed {temp} (temporary of a dead writer)")
    return actions


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def recover_stores(root: str | os.PathLike[str]) -> list[str]:
    """Repair what killed writers left under ``root``; returns one line per action.

    For each store with temporaries of a writer that is no longer running (on this host): if the
    store is missing and the writer had moved a complete previous version aside (killed inside
    the replace window), that version is put back; the dead writer's temporaries are removed.
    Temporaries of live writers, or of writers on other hosts, are left alone. Symbolic links are
    not followed. The workflow calls this when a run starts.
    """
    actions: list[str] = []
    root = Path(root)
    if not root.is_dir():
        return actions
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if any(_TEMP.match(d) for d in dirnames):
            actions += _recover_siblings(here)
        # do not descend into stores or temporaries: only directories can hold stores
        dirnames[:] = [d for d in dirnames if not d.endswith(".zarr") and not _TEMP.match(d)
                       and (here / d).exists()]
    return actions


# --- reading -----------------------------------------------------------------------------------


def _expected_chunks(meta: dict) -> list[str]:
    shape, chunks = meta["shape"], meta["chunks"]
    sep = meta.get("dimension_separator") or "."
    if not shape:
        return ["0"]
    grid = [range(math.ceil(n / c)) if c else range(0) for n, c in zip(shape, chunks, strict=True)]
    return [sep.join(str(i) for i in idx) for idx in itertools.product(*grid)]


def _check_chunks(target: Path, ds: xr.Dataset) -> None:
    """Every chunk of every variable of ``ds`` exists on disk (zarr reads a missing one as its
    fill value)."""
    try:
        consolidated = json.loads((target / ".zmetadata").read_text())["metadata"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise StoreError(f"{target}: unreadable consolidated metadata ({_one_line(err)})") from err
    for name in ds.variables:
        meta = consolidated.get(f"{name}/.zarray")
        if meta is None:
            raise StoreError(f"{target}: variable {name!r}: no array metadata")
        expected = _expected_chunks(meta)
        if not expected:
            continue
        array_dir = target / str(name)
        if (meta.get("dimension_separator") or ".") == ".":
            try:
                present = set(os.listdir(array_dir))
            except OSError as err:
                raise StoreError(f"{target}: variable {name!r}: {_one_line(err)}") from err
            missing = [k for k in expected if k not in present]
        else:
            missing = [k for k in expected if not (array_dir / k).is_file()]
        if missing:
            raise StoreError(f"{target}: variable {name!r}: {len(missing)} of {len(expected)} chunks missing "
                             f"(first: {name}/{missing[0]}); the store is damaged, rerun the rule that writes it")


def open_store(path: str | os.PathLike[str], required: Sequence[str] = ()) -> xr.Dataset:
    """Open a finished store, check it whole and return it loaded into memory.

    Checks, for every data variable and coordinate: the store's format version
    (:data:`STORE_FORMAT_ATTR`), that the ``required`` variables exist, that every chunk exists
    on disk and that every chunk decodes (the format attribute itself is not returned). Raises
    :class:`StoreError` (one line naming the store, and the variable where there is one) for a
    missing, truncated, corrupted or foreign store, instead of a deep zarr/codec traceback or fill
    values read as data.
    """
    target = Path(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        raise StoreError(f"{target}: no such store") from None
    except OSError as err:  # a symlink loop, a file where a directory belongs, ...
        raise StoreError(f"{target}: {_one_line(err)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{target}: not a zarr store (not a directory)")
    try:
        ds = xr.open_zarr(target, consolidated=True)
    except Exception as err:  # zarr and JSON errors all mean the same thing here
        raise StoreError(f"{target}: unreadable or corrupted zarr store ({_one_line(err)})") from err
    version = ds.attrs.pop(STORE_FORMAT_ATTR, None)  # a storage detail: a round trip returns what was written
    if version != STORE_FORMAT:
        written_by = ds.attrs.get("quadsgd_version", "an unknown version")
        found = "no format version" if version is None else f"format version {version!r}"
        raise StoreError(f"{target}: store has {found} (written by quadsgd {written_by}), this quadsgd reads "
                         f"format {STORE_FORMAT}; delete the store and rerun the rule that writes it")
    missing = [v for v in required if v not in ds.variables]
    if missing:
        raise StoreError(f"{target}: missing variables {missing}")
    _check_chunks(target, ds)
    for name in list(ds.variables):
        try:
            ds.variables[name].load()
        except Exception as err:  # codec errors: truncated or overwritten chunks
            raise StoreError(f"{target}: variable {name!r}: unreadable or corrupted chunk "
                             f"({_one_line(err)})") from err
    return ds
