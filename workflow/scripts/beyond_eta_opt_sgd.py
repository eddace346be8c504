"""Snakemake adapter: eta_opt measured with finite-N SGD (quadsgd.beyond.eta_opt_sgd)."""

import logging

from quadsgd.beyond import ode_eta_opt_over_p
from quadsgd.beyond.eta_opt_sgd import eta_opt_sgd_dataset
from quadsgd.provenance import config_attrs
from quadsgd.storage import open_store, write_zarr_atomic
from quadsgd.sweep.execute import dask_client

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("beyond_eta_opt_sgd")


def main(smk) -> None:
    cfg = smk.params.beyond
    summary = open_store(smk.input.summary, required=("eta_opt_over_p",))
    cases = [(p, s, ode_eta_opt_over_p(summary, p, s)) for p, s in cfg["cases"]]
    log.info("SGD eta_opt: (p, pstar, ODE eta_opt/p) %s, N %s, %d seeds", cases, cfg["N"], cfg["seeds"])
    start = (cfg["start"]["min"], cfg["start"]["max"], cfg["start"]["num"])
    with dask_client(smk.threads, **smk.config["dask"]) as client:
        ds = eta_opt_sgd_dataset(cases, cfg["N"], seeds=cfg["seeds"], start=start,
                                 refine_points=cfg["refine"]["points"], refine_rounds=cfg["refine"]["rounds"],
                                 alpha_max=cfg["alpha_max"], learned_fraction=cfg["learned_fraction"],
                                 escape_fraction=smk.params.escape_fraction, client=client)
    ds.attrs.update(config_attrs({"beyond": {"eta_opt_sgd": cfg}, "escape_fraction": smk.params.escape_fraction}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "beyond_eta_opt_sgd")  # noqa: F821
