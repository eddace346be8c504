"""Snakemake adapter: teacher recovery vs alpha = n/d per (d, m*) and the population flow."""

import logging

import numpy as np
import xarray as xr

from quadsgd import empirical
from quadsgd.storage import write_zarr_atomic
from quadsgd.sweep import config_attrs
from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("empirical")

#: Per-case attributes of a recovery sweep, kept as case coordinates in the combined store.
CASE_ATTRS = ("d", "mstar", "m", "alpha_c_paper")


#: Summary variables (quadsgd.empirical.recovery_summary) stored beside the per-seed results.
SUMMARY_VARS = ("p_recover", "p_recover_err", "alpha_threshold", "alpha_threshold_err", "alpha_onset",
                "alpha_onset_err", "alpha_c_limit")


def with_summary(ds: xr.Dataset) -> xr.Dataset:
    """Add the bootstrap summary; its alpha axis is the realized n/d, so it is matched by n."""
    summary = empirical.recovery_summary(ds)
    by_n = summary.set_coords("n").swap_dims(alpha="n").drop_vars("alpha").sel(n=ds["n"].values)
    for name in SUMMARY_VARS:
        var = by_n[name]
        ds[name] = (("alpha",) if "n" in var.dims else (), var.values, var.attrs)
    return ds


def main(smk) -> None:
    cfg = smk.params.empirical
    cases = []
    for d in cfg["d"]:
        for mstar in cfg["mstar"]:
            log.info("recovery sweep (%s) d=%d m*=%d, alphas %s, %d seeds", cfg["method"], d, mstar, cfg["alphas"],
                     cfg["seeds"])
            ds = empirical.recovery_sweep(d, mstar, cfg["alphas"], np.arange(cfg["seeds"]),
                                           method=cfg["method"], n_jobs=smk.threads)
            ds = with_summary(ds)
            log.info("p_recover per alpha %s; alpha_threshold %.3f +- %.3f (paper %.3f)", ds["p_recover"].values,
                     float(ds["alpha_threshold"]), float(ds["alpha_threshold_err"]), float(ds.attrs["alpha_c_paper"]))
            case_coords = {k: ("case", [ds.attrs[k]]) for k in CASE_ATTRS}
            cases.append(ds.expand_dims(case=1).assign_coords(case_coords))
    shared = {k: v for k, v in cases[0].attrs.items() if k not in CASE_ATTRS}
    recovery = xr.concat(cases, dim="case", coords="different", compat="equals", combine_attrs="drop")
    recovery = recovery.assign_coords(case=np.arange(len(cases)))
    recovery.attrs = {**shared, **config_attrs({"empirical": cfg})}
    write_zarr_atomic(recovery, smk.output.recovery)
    flow = empirical.population_flow_dataset([tuple(c) for c in cfg["flow_cases"]])
    flow.attrs.update(config_attrs({"empirical": cfg}))
    write_zarr_atomic(flow, smk.output.flow)


if __name__ == "__main__":
    run(main, snakemake, "empirical")  # noqa: F821
