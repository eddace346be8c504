"""Snakemake adapter: degrees of freedom of W^T W and the zero-error manifold dimension (closed
form and numerical) into results/dof.zarr."""

import logging

from quadsgd import landscape
from quadsgd.provenance import config_attrs
from quadsgd.storage import write_zarr_atomic

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("degrees_of_freedom")


def main(smk) -> None:
    cfg = smk.params.landscape
    log.info("Degrees of freedom for pstar=%s N=%s", cfg["pstar"], cfg["N"])
    # p_values=None: p runs past max(N), where the degrees of freedom saturate.
    ds = landscape.degrees_of_freedom_dataset(None, cfg["pstar"], cfg["N"], seed=cfg["seed"])
    ds.attrs.update(config_attrs({"landscape": cfg}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "degrees_of_freedom")  # noqa: F821
