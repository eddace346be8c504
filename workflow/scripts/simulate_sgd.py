"""Snakemake adapter: finite-N SGD runs of one (p, pstar) at every N of the config and their
matched ODEs, one store per N (N{N}.zarr) in the job's directory."""

import logging
from pathlib import Path

import numpy as np

from quadsgd.grids import eta_from_eta_over_p
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import aggregate, drivers, plan
from quadsgd.sweep.execute import task_executor

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("simulate_sgd")


def main(smk) -> None:
    cfg = smk.params.sgd
    p, pstar = int(smk.wildcards.p), int(smk.wildcards.pstar)
    eta = float(eta_from_eta_over_p(cfg["eta_over_p"], p))
    out = Path(smk.output[0])
    out.mkdir(parents=True, exist_ok=True)
    with task_executor(smk.threads, **smk.config["dask"]) as client:
        for N in cfg["N"]:
            log.info("SGD p=%d pstar=%d N=%d eta=%g, %d seeds to alpha=%g", p, pstar, N, eta, cfg["seeds"],
                     cfg["alpha_max"])
            ds = drivers.sgd_curves(p, pstar, N=N, eta=eta, seeds=np.arange(cfg["seeds"]),
                                    alpha_max=cfg["alpha_max"], alpha_points=cfg["alpha_points"],
                                    escape_fraction=smk.params.escape_fraction, client=client)
            for dynamics in ds["dynamics"].values:  # SGD and the ODE from each run's M(0), counted apart
                log.info("N=%d %s: status counts %s", N, dynamics,
                         aggregate.status_counts(ds.sel(dynamics=dynamics)))
            write_zarr_atomic(ds, out / plan.sgd_store(N))


if __name__ == "__main__":
    run(main, snakemake, "simulate_sgd")  # noqa: F821
