"""Snakemake adapter: combine the per-job ODE stores into results/sweep.zarr."""

import logging
import sys

from quadsgd import sweep
from quadsgd.storage import StoreError, open_store, write_zarr_atomic


def main(smk) -> None:
    scans = [open_store(path, required=sweep.SCAN_VARIABLES) for path in smk.input]  # loads (and checks) all
    ds = sweep.combine_scans(scans, sweep.config_attrs(smk.params.config))
    log.info("sweep %s; status counts %s", dict(ds.sizes), sweep.status_counts(ds))
    write_zarr_atomic(ds.chunk({"p": 1, "pstar": 1}), smk.output[0])


if __name__ == "__main__":
    sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821 - warnings, logging
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("aggregate_sweep")
    try:
        main(snakemake)  # noqa: F821
    except StoreError as err:  # a missing or corrupted input store: one line naming it, no traceback
        log.error("StoreError: %s", err)
        print(f"StoreError (aggregate_sweep): {err}", file=sys.__stderr__)
        sys.exit(1)
