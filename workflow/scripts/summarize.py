"""Snakemake adapter: escape statistics, eta_opt and its power law into results/summary.zarr."""

import logging
import sys
import warnings

from quadsgd import sweep
from quadsgd.storage import open_store, write_zarr_atomic
from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("summarize")


def main(smk) -> None:
    ds = open_store(smk.input.sweep, required=("alpha_escape", "status")).load()
    refined = {}
    for path in smk.input.refined:
        extra = open_store(path).load()
        key = (int(extra.attrs["p"]), int(extra.attrs["pstar"]))
        refined[key] = extra if extra.sizes["eta_over_p"] else None
    sgd = [open_store(path, required=("alpha_escape", "status")).load() for path in smk.input.sgd]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", sweep.GridWarning)
        summary = sweep.summarize(ds, refined, sgd, sweep.config_attrs(smk.params.config))
    for w in caught:
        log.warning("%s", w.message)
        print(f"WARNING (summary): {w.message}", file=sys.__stderr__)
    summary.attrs["grid_warnings"] = [str(w.message) for w in caught]
    log.info("\n%s", summary[["eta_opt", "alpha_escape_opt", "alpha_escape_opt_sem"]].to_dataframe())
    write_zarr_atomic(summary, smk.output[0])


if __name__ == "__main__":
    run(main, snakemake, "summarize")  # noqa: F821
