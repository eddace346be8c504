"""Snakemake adapter: finite-N SGD runs of one (p, pstar, N) and their matched ODEs."""

import logging

import numpy as np

from quadsgd.grids import eta_from_eta_over_p
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import aggregate, drivers
from quadsgd.sweep.execute import dask_client

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("simulate_sgd")


def main(smk) -> None:
    cfg = smk.params.sgd
    p, pstar, N = int(smk.wildcards.p), int(smk.wildcards.pstar), int(smk.wildcards.N)
    eta = float(eta_from_eta_over_p(cfg["eta_over_p"], p))
    log.info("SGD p=%d pstar=%d N=%d eta=%g, %d seeds to alpha=%g", p, pstar, N, eta, cfg["seeds"], cfg["alpha_max"])
    with dask_client(smk.threads, **smk.config["dask"]) as client:
        ds = drivers.sgd_curves(p, pstar, N=N, eta=eta, seeds=np.arange(cfg["seeds"]), alpha_max=cfg["alpha_max"],
                                alpha_points=cfg["alpha_points"], escape_fraction=smk.params.escape_fraction,
                                client=client)
    log.info("status counts %s", aggregate.status_counts(ds))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "simulate_sgd")  # noqa: F821
