"""``python -m benchmarks [--quick] [--only NAME ...] [--json FILE]``: run the workloads and print
the table (Markdown), then each workload's details. ``--only paper`` gives the row of the whole
config/laptop.yaml run (read from the timing file it wrote, or run first; never by default)."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time

from benchmarks import Row, fmt, format_table

WORKLOADS = ("ode", "sgd_weights", "sgd_gram", "memory", "scaling", "pipeline")
#: Workloads run only when named with --only: module and function (``run(size) -> list[Row]``).
ON_REQUEST = {"paper": ("pipeline", "run_paper")}


def machine() -> list[str]:
    import numba
    import numpy as np
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    lines = [
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; "
        f"load average {os.getloadavg()[0]:.1f} at start",
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"numba {numba.__version__}",
        "OPENBLAS_CORETYPE={}, OPENBLAS_L2_SIZE={}".format(
            os.environ.get("OPENBLAS_CORETYPE", "(unset)"), os.environ.get("OPENBLAS_L2_SIZE", "(unset)")),
    ]
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            lines.append(f"{lib['user_api']}: {lib['internal_api']} {lib['version']}, kernel "
                         f"{lib.get('architecture')}, {lib['num_threads']} threads "
                         f"({os.path.basename(lib['filepath'])})")
    except ImportError:
        lines.append("BLAS: install threadpoolctl to see which library and kernel run")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", dest="size", action="store_const", const="quick", default="full",
                        help="smaller sizes, about a minute")
    parser.add_argument("--smoke", dest="size", action="store_const", const="smoke",
                        help="the smallest sizes (the test suite's check that everything runs)")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS + tuple(ON_REQUEST),
                        help="run only these workloads (paper: the config/laptop.yaml run, only on request)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)

    # The BLAS and numpy kernels are loaded (and reported) before anything is timed.
    import numpy  # noqa: F401

    print("\n".join(machine()), flush=True)
    rows: list[Row] = []
    t0 = time.perf_counter()
    for name in args.only or WORKLOADS:
        t = time.perf_counter()
        module, function = ON_REQUEST.get(name, (name, "run"))
        new = getattr(importlib.import_module(f"benchmarks.{module}"), function)(args.size)
        rows += new
        print(f"[{name}: {len(new)} rows in {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f} at end; "
          f"costs are medians of repeated runs; sizes: {args.size}")
    print()
    header = ["workload", "baseline", "ours", "ratio", "floor", "ratio to floor", "target", "met"]
    print(format_table(header, [
        [r.workload, fmt(r.baseline, r.unit), fmt(r.ours, r.unit), f"{r.ratio:.3g}", fmt(r.floor, r.unit),
         f"{r.to_floor:.3g}", r.target, {True: "yes", False: "no", None: "-"}[r.met]]
        for r in rows
    ]))
    for r in rows:
        if r.details:
            print()
            print(format_table([r.workload, ""], [[k, v] for k, v in r.details.items()]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(r.__dict__, ratio=r.ratio, to_floor=r.to_floor) for r in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
