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


def test_the_digest_covers_every_module_that_compiles(tmp_path):
    names = {p.name for p in _jit.kernel_sources()}
    assert {"_jit.py", "_simd.py", "_kernels.py", "ode.py", "sgd.py"} <= names
    assert "cli.py" not in names
    root = tmp_path / "quadsgd"
    shutil.copytree(Path(quadsgd.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    digest = _jit.sources_digest(root)
    (root / "cli.py").write_text((root / "cli.py").read_text() + "\n# an edit outside the kernels\n")
    assert _jit.sources_digest(root) == digest
    (root / "sgd.py").write_text((root / "sgd.py").read_text() + "\n# an edit of a kernel module\n")
    assert _jit.sources_digest(root) != digest
