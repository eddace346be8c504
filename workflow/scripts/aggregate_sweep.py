"""Snakemake adapter: combine the per-job ODE stores into results/sweep.zarr."""

import logging
import sys

from quadsgd import sweep
from quadsgd.storage import open_store, write_zarr_atomic


def main(smk) -> None:
    scans = [open_store(path, required=("alpha_escape", "status")) for path in smk.input]
    ds = sweep.combine_scans(scans, sweep.config_attrs(smk.params.config))
    log.info("sweep %s; status counts %s", dict(ds.sizes), sweep.status_counts(ds))
    write_zarr_atomic(ds.chunk({"p": 1, "pstar": 1}), smk.output[0])


if __name__ == "__main__":
    sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821 - warnings, logging
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("aggregate_sweep")
    main(snakemake)  # noqa: F821
