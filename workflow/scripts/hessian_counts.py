"""Snakemake adapter: Hessian eigenvalue counts at the critical points into results/hessian.zarr."""

import logging

from quadsgd import landscape
from quadsgd.provenance import config_attrs
from quadsgd.storage import write_zarr_atomic

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("hessian_counts")


def main(smk) -> None:
    cfg = smk.params.landscape
    log.info("Hessian counts for p=%s pstar=%s N=%s", cfg["p"], cfg["pstar"], cfg["N"])
    ds = landscape.hessian_counts_dataset(cfg["p"], cfg["pstar"], cfg["N"], seed=cfg["seed"])
    ds.attrs.update(config_attrs({"landscape": cfg}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "hessian_counts")  # noqa: F821
