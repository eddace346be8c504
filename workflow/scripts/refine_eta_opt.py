"""Snakemake adapter: search eta_opt of the (p, pstar) of one refinement job
(quadsgd.sweep.plan.refine_jobs), each starting from its grid in the sweep; one store per (p, pstar)."""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quadsgd.eta_opt import EtaOptSearch, search_eta_opt
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep import aggregate, drivers, plan
from quadsgd.sweep.execute import task_executor

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("refine_eta_opt")


def main(smk) -> None:
    grid, refine = smk.params.grid, smk.params.refine
    pairs = plan.pipeline_refine_jobs({"grid": grid, "refine": refine,
                                       "jobs": {"points_per_job": smk.params.points_per_job}})[int(smk.wildcards.job)]
    sweep = open_store(smk.input[0], required=drivers.SCAN_VARIABLES)
    search = EtaOptSearch(refine_points=refine["points"], refine_rounds=refine["rounds"])
    out = Path(smk.output[0])
    out.mkdir(parents=True, exist_ok=True)

    with task_executor(smk.threads, **smk.config["dask"]) as executor:

        def optimum(pair):
            p, pstar = pair
            scan = sweep.sel(p=p, pstar=pstar).drop_vars(["p", "pstar", "N"])[list(drivers.SCAN_VARIABLES)]
            # The search judges success by (p, pstar): for p < pstar a settled run is the best fit there is.
            scan = scan.assign_attrs(p=p, pstar=pstar)

            def scan_more(eta_over_p):
                log.info("p=%d pstar=%d: scanning eta/p %s", p, pstar, eta_over_p)
                return drivers.ode_scan(p, pstar, eta_over_p=eta_over_p, seeds=scan.seed.values, N=grid["N"],
                                        alpha=scan.alpha.values, escape_fraction=smk.params.escape_fraction,
                                        points_per_task=smk.config["jobs"]["points_per_task"], client=executor)

            result = search_eta_opt(scan, scan_more, search)
            log.info("p=%d pstar=%d: %s, eta_opt/p = %g", p, pstar, result.outcome.name.lower(),
                     result.eta_over_p_opt)
            write_zarr_atomic(aggregate.optimum_dataset(result, p=p, pstar=pstar, N=grid["N"]),
                              out / plan.refine_store(p, pstar))

        if executor is None or len(pairs) == 1:
            for pair in pairs:
                optimum(pair)
        else:
            # The searches of the job's pairs run side by side (each a few small scans in turn), so
            # their tasks keep every thread or worker of the executor busy.
            # Not waited for on an error or Ctrl-C: closing the executor then stops the running ones.
            searches = ThreadPoolExecutor(max_workers=len(pairs), thread_name_prefix="quadsgd-search")
            try:
                for future in [searches.submit(optimum, pair) for pair in pairs]:
                    future.result()
            finally:
                searches.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    run(main, snakemake, "refine_eta_opt")  # noqa: F821
