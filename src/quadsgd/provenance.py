"""Provenance of the pipeline's stores: the configuration that made them, and its fingerprint.

One results directory holds the stores of one configuration. The fingerprint hashes the config
sections that determine stored numbers (Dask settings, resources and task sizes do not), with
numbers in one canonical form so that ``300`` and ``300.0`` are one setting.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quadsgd import __version__

__all__ = [
    "config_attrs",
    "canonical",
    "fingerprint_sections",
    "config_fingerprint",
    "check_results_fingerprint",
    "FINGERPRINT_SECTIONS",
    "FINGERPRINT_FILE",
]

#: Config sections that determine stored numbers; Dask, resources and the task size do not. The
#: beyond stages are left out: their jobs rerun when their section changes (their params), and
#: trying another noise list must not refuse the whole results directory.
FINGERPRINT_SECTIONS = ("grid", "escape_fraction", "jobs", "refine", "sgd", "implicit_bias", "landscape", "empirical")
#: Where a results directory records the fingerprint of the configuration that filled it.
FINGERPRINT_FILE = ".config_fingerprint"


def config_attrs(config: Mapping[str, Any]) -> dict[str, str]:
    """Provenance attributes: the run's configuration (as JSON) and the package version."""
    return {"config": json.dumps(config, sort_keys=True, default=str), "quadsgd_version": __version__}


def canonical(value: Any) -> Any:
    """One spelling per number: whole numbers as ``int`` (``300.0`` -> ``300``), others as
    ``float``; containers recursively, mapping keys as strings in sorted order (so the order of
    keys in a file does not matter either).

    The pipeline applies it to the validated config, so the jobs' params (which Snakemake
    compares to decide what to rerun) and the fingerprint do not depend on how a number is
    written in the YAML file.
    """
    import numpy as np

    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def fingerprint_sections(config: Mapping[str, Any]) -> dict[str, Any]:
    """The numerics-relevant part of a (validated) config: :data:`FINGERPRINT_SECTIONS`, without
    ``jobs.points_per_task`` and the stages' ``enabled`` switches."""
    out: dict[str, Any] = {}
    for key in FINGERPRINT_SECTIONS:
        if key not in config:
            continue
        value = config[key]
        if key == "jobs":
            value = {"points_per_job": value.get("points_per_job")}
        elif isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != "enabled"}
        out[key] = canonical(value)
    return out


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """Hash (16 hex digits) of :func:`fingerprint_sections`: equal iff the stored numbers agree."""
    text = json.dumps(fingerprint_sections(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _usable_directory(path: Path, *, probe: bool = False) -> None:
    """``OSError`` (naming ``path`` and the OS error) unless ``path`` is absent or a directory
    (a symlink loop, a regular file in its place); with ``probe``, unless it also takes a write."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():  # a dangling link: nothing can be created there
            raise OSError(errno.ENOENT, "dangling symbolic link where a directory belongs", str(path)) from None
        return
    except OSError as err:  # ELOOP, EACCES, ENOTDIR on a parent, ...
        raise OSError(err.errno, err.strerror or str(err), str(path)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(errno.ENOTDIR, "Not a directory (a directory belongs there)", str(path))
    if probe:
        probe_file = path / f".quadsgd-write-probe-{os.getpid()}"
        try:
            with open(probe_file, "wb") as f:
                f.write(b"\0" * 4096)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from None
        finally:
            try:
                probe_file.unlink()
            except OSError:
                pass


def _holds_stores(results: Path) -> bool:
    """Whether any zarr store (or a moved-aside copy of one) lies under ``results``."""
    for _, dirnames, _ in os.walk(results, followlinks=False):
        if any(d.endswith(".zarr") or ".zarr.old-" in d for d in dirnames):
            return True
    return False


def _claimant_alive(recorded: Mapping[str, Any]) -> bool:
    """Whether the run that recorded a fingerprint may still be running (unknowable for another host)."""
    claimant = recorded.get("claimed_by")
    if not isinstance(claimant, Mapping):
        return False  # recorded by an earlier version, which ran no longer than its run
    if claimant.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(claimant.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def check_results_fingerprint(config: Mapping[str, Any], results: str | Path = "results", *,
                              record: bool = False, state_dir: str | Path | None = None) -> str:
    """Refuse a results directory filled under a different configuration; optionally claim it.

    ``results/.config_fingerprint`` (JSON: fingerprint, the sections it hashes, the host and pid
    of the run that claimed it) is written by the first run that computes anything there. With
    ``record``, the check and the claim happen under an exclusive lock
    (``results/.config_fingerprint.lock``), so of two runs with different configurations started
    together exactly one claims the directory. A directory whose fingerprint names another
    configuration is refused (``ValueError`` naming the differing sections and how to proceed),
    unless it holds no store at all and the run that claimed it has ended (a failed first run):
    then it may be claimed again.

    ``results`` and ``state_dir`` (e.g. ``.snakemake``; probed with a small write) must be
    directories or absent: ``OSError`` naming the path and the OS error otherwise. Returns the
    fingerprint.
    """
    results = Path(results)
    _usable_directory(results)
    if state_dir is not None:
        _usable_directory(Path(state_dir), probe=True)
    ours = config_fingerprint(config)
    sections = fingerprint_sections(config)
    path = results / FINGERPRINT_FILE
    if not record:
        _compare(path, results, ours, sections, may_claim=False)
        return ours
    results.mkdir(parents=True, exist_ok=True)
    with _exclusive(results / f"{FINGERPRINT_FILE}.lock"):
        if _compare(path, results, ours, sections, may_claim=True):
            tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            claim = {"fingerprint": ours, "sections": sections,
                     "claimed_by": {"host": socket.gethostname(), "pid": os.getpid()}}
            tmp.write_text(json.dumps(claim, sort_keys=True, indent=1) + "\n")
            os.replace(tmp, path)
    return ours


def _compare(path: Path, results: Path, ours: str, sections: Mapping[str, Any], *, may_claim: bool) -> bool:
    """Check ``ours`` against the recorded fingerprint; True if the directory is to be (re)claimed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return True
    except OSError as err:
        raise OSError(err.errno, err.strerror or str(err), str(path)) from None
    try:
        recorded = json.loads(text)
        theirs, their_sections = str(recorded["fingerprint"]), dict(recorded.get("sections", {}))
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: unreadable config fingerprint ({err}); delete it only if every store "
                         f"in {results}/ comes from this configuration") from err
    if theirs == ours:
        return False
    if not _holds_stores(results) and not _claimant_alive(recorded):
        return True  # a failed first run of another configuration left no store: claim it again
    differ = sorted(k for k in set(sections) | set(their_sections)
                    if sections.get(k) != their_sections.get(k)) or ["(unknown)"]
    what = ("holds stores from" if _holds_stores(results)
            else "is being filled (no store yet) by a running run of")
    raise ValueError(
        f"{results}/ {what} a different configuration (config fingerprint {theirs} in "
        f"{path}, this run's is {ours}; differing config sections: {', '.join(differ)}). Refusing to mix "
        f"them: run this configuration in its own directory (from the repository root: snakemake --cores 2 "
        f"--configfile YOUR_CONFIG.yaml --directory OTHER_DIR) or delete {results}/ (and .snakemake/) "
        f"to start over."
    )
