"""Snakemake adapter: search eta_opt of one (p, pstar), starting from its grid in the sweep."""

import logging

from quadsgd.eta_opt import EtaOptSearch, search_eta_opt
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep import aggregate, drivers
from quadsgd.sweep.execute import dask_client

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("refine_eta_opt")


def main(smk) -> None:
    grid, refine = smk.params.grid, smk.params.refine
    p, pstar = int(smk.wildcards.p), int(smk.wildcards.pstar)
    sweep = open_store(smk.input[0], required=drivers.SCAN_VARIABLES)
    scan = sweep.sel(p=p, pstar=pstar).drop_vars(["p", "pstar", "N"])[list(drivers.SCAN_VARIABLES)]
    # The search judges success by (p, pstar): for p < pstar a settled run is the best fit there is.
    scan = scan.assign_attrs(p=p, pstar=pstar)
    search = EtaOptSearch(refine_points=refine["points"], refine_rounds=refine["rounds"])
    with dask_client(smk.threads, **smk.config["dask"]) as client:

        def scan_more(eta_over_p):
            log.info("p=%d pstar=%d: scanning eta/p %s", p, pstar, eta_over_p)
            return drivers.ode_scan(p, pstar, eta_over_p=eta_over_p, seeds=scan.seed.values, N=grid["N"],
                                    alpha=scan.alpha.values, escape_fraction=smk.params.escape_fraction,
                                    points_per_task=smk.config["jobs"]["points_per_task"], client=client)

        result = search_eta_opt(scan, scan_more, search)
    log.info("p=%d pstar=%d: %s, eta_opt/p = %g", p, pstar, result.outcome.name.lower(), result.eta_over_p_opt)
    write_zarr_atomic(aggregate.optimum_dataset(result, p=p, pstar=pstar, N=grid["N"]), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "refine_eta_opt")  # noqa: F821
