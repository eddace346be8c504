"""How the package compiles its kernels: numba's ``njit``, with on-disk caches that follow every
source a kernel depends on.

numba checks a cached kernel against the modification time and size of the file that defines it,
and only that file. But a kernel carries the compiled code of the kernels it calls from other
files (``ode`` calls the right-hand side of ``_kernels``) and the values of the module-level
constants it reads (``ode`` reads the status codes of ``status``). After an edit of such a file
(or a ``git pull`` or reinstall that changes only it), the kernel would be loaded from the cache
and run the old code or constants. Here every cache entry of a ``quadsgd`` kernel also records a
digest of the contents of the package modules that use numba and of every package module they
import, directly or not; a change to any of them recompiles all kernels. The cache's location is
numba's choice as usual (``NUMBA_CACHE_DIR``, or ``__pycache__`` beside the sources). Setting
numba's ``NUMBA_CACHE_LOCATOR_CLASSES`` bypasses this (numba then uses only the locators named).

Private to the package: the names here may change without notice.
"""

from __future__ import annotations

import ast
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


_IMPORT = re.compile(r"^[ \t]*(from[ \t]+[.\w]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)|import[ \t]+[^\n]*)",
                     re.MULTILINE)


def _package_imports(path: Path, package: Path) -> set[Path]:
    """The package modules that ``path`` imports (absolute ``quadsgd.x`` or relative)."""
    here = path.relative_to(package).with_suffix("").parts[:-1]  # the module's subpackage
    names = []
    for match in _IMPORT.finditer(path.read_text(encoding="utf-8")):
        try:  # each statement alone: parsing only these is ~20x faster than the whole module
            node = ast.parse(match.group(1)).body[0]
        except SyntaxError:  # an import-like line of a docstring
            continue
        if isinstance(node, ast.Import):
            names += [tuple(a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = tuple((node.module or "").split(".")) if node.module else ()
            if node.level:
                base = ("quadsgd",) + here[: len(here) - (node.level - 1)] + base
            names.append(base)
            names += [base + (a.name,) for a in node.names]
    found = set()
    for name in names:
        if name[:1] != ("quadsgd",):
            continue
        rel = package.joinpath(*name[1:])
        for candidate in (rel.with_suffix(".py"), rel / "__init__.py"):
            if candidate.is_file():
                found.add(candidate)
    return found


def kernel_sources(package: Path = _PACKAGE) -> list[Path]:
    """The package's modules that import numba or compile through this module, and every package
    module they import, directly or not; sorted."""
    todo = [p for p in package.rglob("*.py") if _USES_NUMBA.search(p.read_text(encoding="utf-8"))]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += _package_imports(path, package) - seen
    return sorted(seen)


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
        self._py_file = inner._py_file  # numba reads it to word a "cannot cache" warning

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
