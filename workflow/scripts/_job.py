"""Entry point shared by the Snakemake adapters in this folder (Snakemake puts it on sys.path).

:func:`run` gives every job the same failure behaviour: a damaged input store
(:class:`~quadsgd.storage.StoreError`) or a file-system error (``OSError``: full disk, a path
under a file, a symlink loop, the job's own log unwritable) ends the job with exit status 1 and
one line on the console naming the store or path and the error, the same line in the job's log
when it can be written, and no traceback. :func:`save_figure` writes a figure whole or not at all.
"""

import io
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quadsgd.storage import StoreError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Log(io.TextIOBase):
    """The job's log as ``sys.stderr``: a failed write (disk full) is remembered, not raised
    inside logging, tqdm or warnings; :func:`run` reports it once at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file = open(path, "w", buffering=1)  # noqa: SIM115 - open until the process exits
        self.error: OSError | None = None

    def write(self, s: str) -> int:
        if self.error is None:
            try:
                self.file.write(s)
            except OSError as err:
                self.error = err
            except ValueError:  # closed at interpreter exit
                pass
        return len(s)

    def flush(self) -> None:
        if self.error is None:
            try:
                self.file.flush()
            except OSError as err:
                self.error = err
            except ValueError:
                pass

    def fileno(self) -> int:
        return self.file.fileno()

    @property
    def encoding(self) -> str:
        return self.file.encoding

def _fail(name: str, kind: str, message: str, log: "_Log | None") -> None:
    """Report one line (``KIND (NAME): message``) on the console and in the log; exit 1."""
    message = _one_line(message)
    if log is not None and log.error is None:
        log.write(f"{kind}: {message}\n")
        log.flush()
    print(f"{kind} ({name}): {message}", file=sys.__stderr__, flush=True)
    sys.exit(1)


def describe_os_error(err: OSError, path: "str | os.PathLike[str] | None" = None) -> str:
    """``[Errno N] reason: 'path'`` of an ``OSError``, naming ``path`` when the OS did not."""
    if err.filename is None and path is not None:
        err = OSError(err.errno, err.strerror or str(err), str(path))
    return _one_line(str(err))


def run(main: Callable[[Any], None], smk: Any, name: str) -> None:
    """Call ``main(smk)`` with warnings, tqdm and logging going to the job's log file.

    A missing or corrupted input store (:class:`StoreError`) or a file-system error ends the job
    with exit status 1 and one line naming the store or path on the console (``StoreError
    (NAME): ...``, ``OSError (NAME): ...``), instead of a traceback.
    """
    log_path = str(smk.log[0])
    try:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log = _Log(log_path)
    except OSError as err:
        _fail(name, "OSError", f"cannot open the job's log: {describe_os_error(err, log_path)}", None)
    sys.stderr = log
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    job_log = logging.getLogger(name)
    started = time.perf_counter()
    wildcards = dict(getattr(smk, "wildcards", {}) or {})
    job_log.info("start: %s", ", ".join(f"{k}={v}" for k, v in wildcards.items()) or "no wildcards")
    try:
        main(smk)
    except StoreError as err:
        _fail(name, "StoreError", str(err), log)
    except OSError as err:
        _fail(name, "OSError", describe_os_error(err), log)
    except KeyboardInterrupt:
        job_log.error("interrupted")
        log.flush()
        sys.exit(130)
    job_log.info("done in %.1f s", time.perf_counter() - started)
    log.flush()  # stays open: dask and atexit handlers still write to sys.stderr
    if log.error is not None:
        _fail(name, "OSError", f"could not write the job's log: {describe_os_error(log.error, log_path)}", None)


def save_figure(fig: Any, path: "str | os.PathLike[str]", **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)`` whole or not at all: drawn into a temporary file in the
    same directory and renamed over ``path``, so a full disk never leaves a truncated figure (nor
    removes the previous one). ``OSError`` naming ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or None, **kwargs)
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise OSError(err.errno, f"{err.strerror or err}; could not write the figure", str(path)) from err
