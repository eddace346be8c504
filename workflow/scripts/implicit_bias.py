"""Snakemake adapter: implicit-bias ODE trajectories (Figure 3)."""

import logging

import numpy as np

from quadsgd.grids import eta_from_eta_over_p, log_alpha_grid
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import drivers
from quadsgd.sweep.execute import task_executor

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("implicit_bias")


def main(smk) -> None:
    cfg = smk.params.ib
    alpha = log_alpha_grid(cfg["alpha_max"], cfg["alpha_points"])
    with task_executor(smk.threads, **smk.config["dask"]) as client:
        ds = drivers.implicit_bias_runs(cfg["p"], cfg["pstar"], N=cfg["N"],
                                        eta=float(eta_from_eta_over_p(cfg["eta_over_p"], cfg["p"])),
                                        seeds=np.arange(cfg["seeds"]), alpha=alpha, client=client)
    log.info("final matched distances %s", ds["distance"].isel(alpha=-1).values.diagonal())
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "implicit_bias")  # noqa: F821
