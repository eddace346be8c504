"""Snakemake adapter: label noise, SGD against the ODE (quadsgd.beyond.noise)."""

import logging

from quadsgd.beyond.noise import noise_dataset
from quadsgd.provenance import config_attrs
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep.execute import dask_client

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("beyond_noise")


def main(smk) -> None:
    cfg = smk.params.beyond
    log.info("label noise: p=%d pstar=%d N=%d noise %s eta/p %s", cfg["p"], cfg["pstar"], cfg["N"], cfg["noise"],
             cfg["eta_over_p"])
    with dask_client(smk.threads, **smk.config["dask"]) as client:
        ds = noise_dataset(cfg["p"], cfg["pstar"], N=cfg["N"], noise=cfg["noise"], eta_over_p=cfg["eta_over_p"],
                           seeds=cfg["seeds"], alpha_max=cfg["alpha_max"], alpha_points=cfg["alpha_points"],
                           escape_fraction=smk.params.escape_fraction, client=client)
    ds.attrs.update(config_attrs({"beyond": {"noise": cfg}, "escape_fraction": smk.params.escape_fraction}))
    write_zarr_atomic(ds, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "beyond_noise")  # noqa: F821
