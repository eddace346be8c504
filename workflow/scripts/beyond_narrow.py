"""Snakemake adapter: narrow students p < pstar against the best rank-p fit (quadsgd.beyond.narrow)."""

import logging

from quadsgd.beyond.narrow import narrow_dataset
from quadsgd.provenance import config_attrs
from quadsgd.storage import write_zarr_atomic

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("beyond_narrow")


def main(smk) -> None:
    cfg = smk.params.beyond
    grid = (cfg["eta_over_p"]["min"], cfg["eta_over_p"]["max"], cfg["eta_over_p"]["num"])
    log.info("narrow students: cases %s, eta/p %s, %d seeds", cfg["cases"], grid, cfg["seeds"])
    ds = narrow_dataset([tuple(c) for c in cfg["cases"]], N=cfg["N"], seeds=cfg["seeds"], eta_over_p=grid,
                        alpha_max=cfg["alpha_max"], escape_fraction=smk.params.escape_fraction)
    ds.attrs.update(config_attrs({"beyond": {"narrow": cfg}, "escape_fraction": smk.params.escape_fraction}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "beyond_narrow")  # noqa: F821
