"""Project the cost of a sweep configuration from a benchmark run's per-unit costs.

``python -m benchmarks --json bench.json`` then ``python -m benchmarks.project bench.json
config/paper.yaml [--scale 10]``. Per-unit costs: seconds per ODE step per member at each
measured p (interpolated log-log in p, held constant outside the measured range); accepted
steps per member from the memory workload's paper-like job (p = 8, p* = 2, eta/p 0.005-2),
scaled by the config's ``alpha_max`` over that job's: after the escape the integrator's step
sits on its stability bound, so a member's steps grow in proportion to alpha (docs/performance.md,
"The paper run"); members that converge early (p <= 2) take fewer, members of wide students near
the stability edge more. Seconds per Gram-chain sample at each measured ``p + pstar`` from the
runs side by side (the pipeline's SGD tasks; the cost per sample does not depend on N),
interpolated likewise. ``--scale`` multiplies the number of seeds, the simplest way to make the
grid that many times larger.
"""

from __future__ import annotations

import argparse
import json
import math
import re

import numpy as np
import yaml


def _num(text: str) -> float:
    return float(re.match(r"\s*([-0-9.e+]+)", text).group(1))


def unit_costs(rows: list[dict]) -> dict:
    step = {}
    gram = {}
    steps_per_member = alpha_max = math.nan
    for r in rows:
        m = re.match(r"ODE p=(\d+) p\*=(\d+) final", r["workload"])
        if m:
            p = int(m.group(1))
            per_step = r["ours"] / _num(r["details"]["steps/member ours (batch mean)"])
            step.setdefault(p, []).append(per_step)
        m = re.match(r"SGD gram p=(\d+) p\*=(\d+) N=\S+, \d+ seeds side by side", r["workload"])
        if m:
            gram[int(m.group(1)) + int(m.group(2))] = r["ours"]
        m = re.match(r"Memory: ODE job (\d+) etas x (\d+) seeds", r["workload"])
        if m:
            members = int(m.group(1)) * int(m.group(2))
            steps_per_member = _num(r["details"]["accepted steps (all members)"]) / members
            # a file from before the job's alpha_max was recorded lacks it
            alpha_max = _num(r["details"]["alpha_max"]) if "alpha_max" in r["details"] else math.nan
    missing = [name for name, table in (("ODE p=... final", step), ("SGD gram ... side by side", gram)) if not table]
    if missing or math.isnan(steps_per_member) or math.isnan(alpha_max):
        raise SystemExit(f"the benchmark file lacks {missing or ['Memory: ODE job ... with its alpha_max']}; "
                         "run python -m benchmarks --only ode sgd_gram memory --json FILE")
    return {"step": {p: float(np.mean(v)) for p, v in step.items()}, "gram": gram,
            "steps_per_member": steps_per_member, "alpha_max": alpha_max}


def _interp(table: dict[int, float], x: float) -> float:
    xs = np.array(sorted(table))
    ys = np.array([table[k] for k in xs])
    return float(np.exp(np.interp(math.log(x), np.log(xs), np.log(ys))))


def project(costs: dict, cfg: dict, scale: float = 1.0) -> dict:
    g = cfg["grid"]
    seeds = g["seeds"] * scale
    n_eta = g["eta_over_p"]["num"] + cfg["refine"]["points"] * cfg["refine"]["rounds"]
    per_job = max(1, int(cfg["jobs"]["points_per_job"] // seeds))  # whole learning rates per job
    ode_s, members, nbytes, jobs = 0.0, 0, 0, 0
    G = g["alpha_points"]
    steps = costs["steps_per_member"] * g["alpha_max"] / costs["alpha_max"]
    for p in g["p"]:
        for s in g["pstar"]:
            m = n_eta * seeds
            members += m
            ode_s += m * steps * _interp(costs["step"], p)
            # risk curve, Q_final, M_final, M0, five per-member scalars (float64)
            nbytes += m * 8 * (G + p * p + 2 * p * s + 5)
            jobs += math.ceil(g["eta_over_p"]["num"] / per_job) + 1  # simulate parts + refine
    sgd = cfg["sgd"]
    samples = sgd_s = 0.0
    for p in sgd["p"]:
        for s in sgd["pstar"]:
            for N in sgd["N"]:
                n = sgd["seeds"] * scale * sgd["alpha_max"] * N
                samples += n
                sgd_s += n * _interp(costs["gram"], p + s)
                nbytes += sgd["seeds"] * scale * 8 * sgd["alpha_points"] * (1 + 2 * (p * p + p * s))
                jobs += 1
    return {"members": members, "ode_core_hours": ode_s / 3600, "sgd_samples": samples,
            "sgd_core_hours": sgd_s / 3600, "jobs": jobs, "store_bytes": nbytes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.project", description=__doc__)
    ap.add_argument("bench_json")
    ap.add_argument("config")
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args(argv)
    with open(args.bench_json) as f:
        rows = json.load(f)
    costs = unit_costs(rows["rows"] if isinstance(rows, dict) else rows)
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    out = project(costs, cfg, args.scale)
    print(json.dumps({"unit_costs": costs, "projection": out}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
