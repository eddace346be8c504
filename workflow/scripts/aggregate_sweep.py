"""Snakemake adapter: combine the ODE stores of every scan job into results/sweep.zarr."""

import logging
from pathlib import Path

from quadsgd.provenance import config_attrs
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep import aggregate, drivers, plan

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("aggregate_sweep")


def main(smk) -> None:
    jobs = plan.pipeline_scan_jobs(smk.params.config)
    paths = [Path(job_dir) / unit.store for job_dir, units in zip(smk.input, jobs, strict=True) for unit in units]
    scans = [open_store(path, required=drivers.SCAN_VARIABLES) for path in paths]  # loads (and checks) all
    ds = aggregate.combine_scans(scans, config_attrs(smk.params.config))
    log.info("sweep %s; status counts %s", dict(ds.sizes), aggregate.status_counts(ds))
    write_zarr_atomic(ds.chunk({"p": 1, "pstar": 1}), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "aggregate_sweep")  # noqa: F821
