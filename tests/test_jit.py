"""Compiled-kernel caches follow every kernel source (quadsgd._jit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import quadsgd
from quadsgd import _jit

_PROBE = ("import numpy as np; from quadsgd.ode import integrate; "
          "print(repr(float(integrate(0.9 * np.eye(1), np.zeros((1, 1)) + 0.1, 0.05, [0.0, 5.0]).risk[-1])))")


def _risk_after_five(package_root: Path, cache: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(package_root), NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_an_edit_of_a_callee_file_recompiles_its_callers(tmp_path):
    """ode's integrator calls the right-hand side in _kernels.py and carries its compiled code.
    numba alone checks a cache against its own file only, so after an edit of _kernels.py the
    integrator loaded from the cache would still run the old right-hand side; here it must not."""
    root = tmp_path / "src"
    shutil.copytree(Path(quadsgd.__file__).parent, root / "quadsgd", ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    before = _risk_after_five(root, cache)
    kernels = root / "quadsgd" / "_kernels.py"
    text = kernels.read_text()
    assert text.count("cM = 2.0 * eta / p") == 1
    kernels.write_text(text.replace("cM = 2.0 * eta / p", "cM = 4.0 * eta / p"))
    after = _risk_after_five(root, cache)
    assert after != before
    assert after == _risk_after_five(root, tmp_path / "fresh-cache")


def test_the_digest_covers_every_module_that_compiles_and_what_they_import(tmp_path):
    """numba bakes a module-level constant into the kernel that reads it: ode's kernel reads the
    status codes of status.py, which does not use numba itself (found in review: an edit of a
    status code was not seen by the cache)."""
    names = {p.name for p in _jit.kernel_sources()}
    assert {"_jit.py", "_simd.py", "_kernels.py", "ode.py", "sgd.py", "status.py", "grids.py"} <= names
    assert not {"cli.py", "storage.py", "drivers.py"} & names
    root = tmp_path / "quadsgd"
    shutil.copytree(Path(quadsgd.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    digest = _jit.sources_digest(root)
    (root / "cli.py").write_text((root / "cli.py").read_text() + "\n# an edit outside the kernels\n")
    assert _jit.sources_digest(root) == digest
    for module in ("sgd.py", "status.py"):
        (root / module).write_text((root / module).read_text() + "\n# an edit\n")
        assert _jit.sources_digest(root) != digest
        digest = _jit.sources_digest(root)


def test_the_locator_wraps_numbas_own_for_package_kernels():
    """The stamp is numba's (the file's time and size) plus the digest; ``_py_file`` is there for
    numba's "cannot cache" warning, which otherwise raised AttributeError (found in review)."""
    from quadsgd import ode

    func = ode._integrate_block.py_func
    locator = _jit._KernelSourcesLocator.from_function(func, ode.__file__)
    assert locator is not None and locator._py_file == ode.__file__
    stamp = locator.get_source_stamp()
    assert stamp[1] == _jit.sources_digest()
    assert stamp[0] == locator._inner.get_source_stamp()
    outside = test_the_locator_wraps_numbas_own_for_package_kernels
    assert _jit._KernelSourcesLocator.from_function(outside, __file__) is None
