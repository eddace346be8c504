"""Snakemake adapter: combine the per-job ODE stores into results/sweep.zarr."""

import logging

from quadsgd.provenance import config_attrs
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep import aggregate, drivers

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("aggregate_sweep")


def main(smk) -> None:
    scans = [open_store(path, required=drivers.SCAN_VARIABLES) for path in smk.input]  # loads (and checks) all
    ds = aggregate.combine_scans(scans, config_attrs(smk.params.config))
    log.info("sweep %s; status counts %s", dict(ds.sizes), aggregate.status_counts(ds))
    write_zarr_atomic(ds.chunk({"p": 1, "pstar": 1}), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "aggregate_sweep")  # noqa: F821
