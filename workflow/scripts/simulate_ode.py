"""Snakemake adapter: ODE escape times of one scan job (blocks of learning rates of one or more
(p, pstar), quadsgd.sweep.plan.scan_jobs), one store per block in the job's directory."""

import logging
from pathlib import Path

import numpy as np

from quadsgd.grids import eta_over_p_grid, log_alpha_grid
from quadsgd.provenance import config_attrs
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import aggregate, drivers, plan
from quadsgd.sweep.execute import task_executor

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("simulate_ode")


def main(smk) -> None:
    grid = smk.params.grid
    etas = eta_over_p_grid(grid["eta_over_p"]["min"], grid["eta_over_p"]["max"], grid["eta_over_p"]["num"])
    units = plan.pipeline_scan_jobs({"grid": grid, "jobs": {"points_per_job": smk.params.points_per_job}})[
        int(smk.wildcards.job)]
    for u in units:
        log.info("p=%d pstar=%d part %d: eta/p %s x %d seeds", u.p, u.pstar, u.part, etas[u.eta], grid["seeds"])
    name = ", ".join(f"p={u.p} p*={u.pstar}" + (f" part {u.part}" if u.part or u.eta.stop < etas.size else "")
                     for u in units)
    with task_executor(smk.threads, **smk.config["dask"]) as executor:
        scans = drivers.ode_scans(
            [(u.p, u.pstar, etas[u.eta]) for u in units], seeds=np.arange(grid["seeds"]), N=grid["N"],
            alpha=log_alpha_grid(grid["alpha_max"], grid["alpha_points"]),
            escape_fraction=smk.params.escape_fraction,
            points_per_task=smk.config["jobs"]["points_per_task"],
            client=executor, desc=f"ODE {name}",
        )
    out = Path(smk.output[0])
    out.mkdir(parents=True, exist_ok=True)
    provenance = config_attrs({"grid": grid, "escape_fraction": smk.params.escape_fraction})
    for u, ds in zip(units, scans, strict=True):
        ds.attrs.update(provenance, part=u.part)
        log.info("p=%d pstar=%d part %d: status counts %s", u.p, u.pstar, u.part, aggregate.status_counts(ds))
        write_zarr_atomic(ds, out / u.store)


if __name__ == "__main__":
    run(main, snakemake, "simulate_ode")  # noqa: F821
