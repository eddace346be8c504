"""Snakemake adapter: finite-eta phase diagram (quadsgd.beyond.phase_diagram), eta_opt from the sweep."""

import logging

from quadsgd.beyond.phase_diagram import phase_diagram_dataset
from quadsgd.provenance import config_attrs
from quadsgd.storage import open_store, write_zarr_atomic

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("beyond_phase_diagram")


def main(smk) -> None:
    cfg = smk.params.beyond
    summary = open_store(smk.input.summary, required=("eta_opt_over_p",))
    grid = (cfg["eta_over_p"]["min"], cfg["eta_over_p"]["max"], cfg["eta_over_p"]["num"])
    log.info("phase diagram: p %s, pstar %s, eta/p %s", cfg["p"], cfg["pstar"], grid)
    ds = phase_diagram_dataset(cfg["p"], cfg["pstar"], eta_over_p=grid, N=cfg["N"], seeds=cfg["seeds"],
                               eta_opt_over_p=summary["eta_opt_over_p"])
    ds.attrs.update(config_attrs({"beyond": {"phase": cfg}}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "beyond_phase_diagram")  # noqa: F821
