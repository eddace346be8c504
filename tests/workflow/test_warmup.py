"""workflow/scripts/warmup.py compiles every kernel the simulation jobs call: after it, the
drivers as the jobs call them (several seeds per task, several learning rates) add no compiled
signature. In a fresh interpreter, so that kernels compiled by other tests do not hide a gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, {scripts!r})
spec = importlib.util.spec_from_file_location("warmup", {warmup!r})
warmup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(warmup)
from numba.core.dispatcher import Dispatcher
import numpy as np
import quadsgd._kernels, quadsgd.ode, quadsgd.sgd, quadsgd.theory
from quadsgd.grids import log_alpha_grid, sgd_alpha_grid
from quadsgd.sweep import drivers


def signatures():
    out = {{}}
    for module in (quadsgd._kernels, quadsgd.ode, quadsgd.sgd, quadsgd.theory):
        for name, obj in vars(module).items():
            if isinstance(obj, Dispatcher):
                out[module.__name__ + "." + name] = len(obj.signatures)
    return out


warmup.warm_up()
before = signatures()
alpha = log_alpha_grid(20.0, 8)
drivers.ode_scan(4, 2, eta_over_p=[0.05, 0.1, 0.2], seeds=np.arange(5), N=200, alpha=alpha, progress=False)
drivers.sgd_seed_runs(4, 2, eta=[0.2, 0.4], N=200, seeds=np.arange(16), alpha=sgd_alpha_grid(3.0, 200, 8),
                      noise=0.01, stop_at_escape=True, progress=False)
drivers.sgd_curves(4, 2, N=200, eta=0.4, seeds=np.arange(8), alpha_max=3.0, alpha_points=8, progress=False)
after = signatures()
print(json.dumps({{k: [before.get(k, 0), v] for k, v in after.items() if v != before.get(k, 0)}}))
"""


def test_warmup_compiles_what_the_simulation_jobs_call() -> None:
    code = PROBE.format(scripts=str(SCRIPTS), warmup=str(SCRIPTS / "warmup.py"))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    new = json.loads(out.stdout.strip().splitlines()[-1])
    assert new == {}, f"kernels compiled after the warm-up (signatures before, after): {new}"
