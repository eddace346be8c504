"""Snakemake adapter: escape statistics, eta_opt and its power law into results/summary.zarr."""

import logging
import sys
import warnings
from pathlib import Path

from quadsgd.provenance import config_attrs
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep import aggregate, plan

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("summarize")


def main(smk) -> None:
    ds = open_store(smk.input.sweep, required=("alpha_escape", "status"))
    jobs = plan.pipeline_refine_jobs(smk.params.config)
    optima = {}
    for job_dir, pairs in zip(smk.input.refined, jobs, strict=True):
        for p, pstar in pairs:
            opt = open_store(Path(job_dir) / plan.refine_store(p, pstar), required=aggregate.OPTIMUM_VARIABLES)
            optima[(int(opt.attrs["p"]), int(opt.attrs["pstar"]))] = opt
    sgd = [open_store(Path(job_dir) / plan.sgd_store(N), required=("alpha_escape", "status"))
           for job_dir in smk.input.sgd for N in smk.params.config["sgd"]["N"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", aggregate.GridWarning)
        summary = aggregate.summarize(ds, optima, sgd, config_attrs(smk.params.config))
    for w in caught:
        log.warning("%s", w.message)
        print(f"WARNING (summary): {w.message}", file=sys.__stderr__)
    summary.attrs["grid_warnings"] = [str(w.message) for w in caught]
    log.info("\n%s", summary[["eta_opt", "alpha_escape_opt", "alpha_escape_opt_sem"]].to_dataframe())
    write_zarr_atomic(summary, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "summarize")  # noqa: F821
