"""Snakemake adapter: ODE escape times of one block of learning rates of one (p, pstar)."""

import logging

import numpy as np

from quadsgd.grids import eta_over_p_grid, log_alpha_grid
from quadsgd.provenance import config_attrs
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import aggregate, drivers, plan
from quadsgd.sweep.execute import dask_client

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("simulate_ode")


def main(smk) -> None:
    grid = smk.params.grid
    p, pstar, part = int(smk.wildcards.p), int(smk.wildcards.pstar), int(smk.wildcards.part)
    etas = eta_over_p_grid(grid["eta_over_p"]["min"], grid["eta_over_p"]["max"], grid["eta_over_p"]["num"])
    block = plan.eta_blocks(etas.size, grid["seeds"], smk.params.points_per_job)[part]
    log.info("p=%d pstar=%d part %d: eta/p %s x %d seeds", p, pstar, part, etas[block], grid["seeds"])
    with dask_client(smk.threads, **smk.config["dask"]) as client:
        ds = drivers.ode_scan(
            p, pstar, eta_over_p=etas[block], seeds=np.arange(grid["seeds"]), N=grid["N"],
            alpha=log_alpha_grid(grid["alpha_max"], grid["alpha_points"]),
            escape_fraction=smk.params.escape_fraction,
            points_per_task=smk.config["jobs"]["points_per_task"],
            client=client,
        )
    ds.attrs.update(config_attrs({"grid": grid, "escape_fraction": smk.params.escape_fraction}), part=part)
    log.info("status counts %s", aggregate.status_counts(ds))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "simulate_ode")  # noqa: F821
