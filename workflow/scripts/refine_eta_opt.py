"""Snakemake adapter: refine eta_opt of one (p, pstar) around the minimum of its grid scan."""

import logging

import xarray as xr

from quadsgd import sweep
from quadsgd.cluster import dask_client
from quadsgd.storage import open_store, write_zarr_atomic
from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("refine_eta_opt")


def main(smk) -> None:
    grid, refine = smk.params.grid, smk.params.refine
    p, pstar = int(smk.wildcards.p), int(smk.wildcards.pstar)
    parts = [open_store(path, required=("alpha_escape", "status")) for path in smk.input]
    scan = xr.concat(parts, dim="eta_over_p", data_vars="all", coords="minimal", compat="override",
                     join="exact").sortby("eta_over_p")
    alpha = scan.alpha.values
    seeds = scan.seed.values
    with dask_client(smk.threads, **smk.config["dask"]) as client:

        def run(eta_over_p):
            log.info("refining p=%d pstar=%d at eta/p %s", p, pstar, eta_over_p)
            return sweep.ode_scan(p, pstar, eta_over_p, seeds, grid["N"], alpha=alpha,
                                  escape_fraction=smk.params.escape_fraction,
                                  points_per_task=smk.config["jobs"]["points_per_task"], client=client)

        extra = sweep.refine_eta_opt(scan, run, points=refine["points"], rounds=refine["rounds"])
    if extra is None:
        log.warning("p=%d pstar=%d: no learning rate lets every seed escape; nothing refined", p, pstar)
        extra = scan.isel(eta_over_p=slice(0, 0))
    extra.attrs.update(p=p, pstar=pstar, N=grid["N"])
    write_zarr_atomic(extra, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "refine_eta_opt")  # noqa: F821
