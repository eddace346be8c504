"""How the package compiles its kernels: numba's ``njit``, with on-disk caches that follow every
kernel source.

numba checks a cached kernel against the modification time and size of the file that defines it,
and only that file; a kernel that calls a kernel of another file (``ode`` calls the right-hand side
of ``_kernels``) carries that callee's compiled code. After an edit of the callee's file (or a
``git pull`` or reinstall that changes only it) the caller's cache would be taken as fresh and run
the old callee. Here every cache entry of a ``quadsgd`` kernel also records a digest of the
contents of every package module that uses numba, so any such change recompiles them all. The
cache's location is numba's choice as usual (``NUMBA_CACHE_DIR``, or ``__pycache__`` beside the
sources).

Private to the package: the names here may change without notice.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from numba import njit
from numba.core import caching

__all__ = ["njit", "kernel_sources", "sources_digest"]

_PACKAGE = Path(__file__).resolve().parent
_digest: str | None = None


_USES_NUMBA = re.compile(r"^\s*(from|import)\s+(numba|quadsgd\._jit|quadsgd\._simd)\b", re.MULTILINE)


def kernel_sources(package: Path = _PACKAGE) -> list[Path]:
    """The package's modules that import numba, or compile through this module, sorted."""
    return sorted(p for p in package.rglob("*.py") if _USES_NUMBA.search(p.read_text(encoding="utf-8")))


def sources_digest(package: Path = _PACKAGE) -> str:
    """SHA-256 over the relative paths and contents of :func:`kernel_sources`."""
    h = hashlib.sha256()
    for path in kernel_sources(package):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


class _KernelSourcesLocator(caching._CacheLocator):
    """numba's own locator for a package file, with :func:`sources_digest` added to its stamp."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def ensure_cache_path(self) -> None:
        self._inner.ensure_cache_path()

    def get_cache_path(self) -> str:
        return str(self._inner.get_cache_path())

    def get_source_stamp(self) -> Any:
        global _digest
        if _digest is None:
            _digest = sources_digest()
        return (self._inner.get_source_stamp(), _digest)

    def get_disambiguator(self) -> str:
        return str(self._inner.get_disambiguator())

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _KernelSourcesLocator | None:
        if not Path(py_file).resolve().is_relative_to(_PACKAGE):
            return None
        others: list[Any] = caching.CacheImpl._locator_classes
        for other in others:
            if other is not cls:
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


_LOCATORS: list[Any] = caching.CacheImpl._locator_classes
if _KernelSourcesLocator not in _LOCATORS:
    _LOCATORS.insert(0, _KernelSourcesLocator)
