"""Snakemake adapter: Hessian eigenvalue counts at the critical points into results/hessian.zarr."""

import logging
import sys

from quadsgd import landscape
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import config_attrs


def main(smk) -> None:
    cfg = smk.params.landscape
    log.info("Hessian counts for p=%s pstar=%s N=%s", cfg["p"], cfg["pstar"], cfg["N"])
    ds = landscape.hessian_counts_dataset(cfg["p"], cfg["pstar"], cfg["N"], seed=cfg["seed"])
    ds.attrs.update(config_attrs({"landscape": cfg}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821 - warnings, logging
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("hessian_counts")
    main(snakemake)  # noqa: F821
