"""Snakemake adapter: finite-N escape law (quadsgd.beyond.escape_law) into results/beyond/escape_law.zarr."""

import logging

from quadsgd.beyond import ode_eta_opt_over_p
from quadsgd.beyond.escape_law import escape_law_dataset
from quadsgd.provenance import config_attrs
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep.execute import dask_client

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("beyond_escape_law")


def main(smk) -> None:
    cfg = smk.params.beyond
    if cfg["eta_over_p"] is None:
        summary = open_store(smk.input.summary[0], required=("eta_opt_over_p",))
        cases = [(p, s, ode_eta_opt_over_p(summary, p, s)) for p, s in cfg["cases"]]
    else:
        cases = [(p, s, cfg["eta_over_p"]) for p, s in cfg["cases"]]
    log.info("escape law: (p, pstar, eta/p) %s, N %s, %d seeds", cases, cfg["N"], cfg["seeds"])
    with dask_client(smk.threads, **smk.config["dask"]) as client:
        ds = escape_law_dataset(cases, N=cfg["N"], seeds=cfg["seeds"], alpha_max=cfg["alpha_max"], bins=cfg["bins"],
                                escape_fraction=smk.params.escape_fraction, client=client)
    ds.attrs.update(config_attrs({"beyond": {"escape_law": cfg}, "escape_fraction": smk.params.escape_fraction}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "beyond_escape_law")  # noqa: F821
