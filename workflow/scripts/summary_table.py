"""Snakemake adapter: the summary table of results/summary.zarr as CSV (for the report) and as
the text `quadsgd summary results/` prints (quadsgd.cli.format_summary)."""

import logging

from quadsgd.cli import format_summary
from quadsgd.storage import open_store

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("summary_table")

#: Columns per (p, pstar), in the order of the CLI table; the fit of eta_opt ~ c p^a is per pstar.
PER_CASE = ("eta_opt", "eta_opt_over_p", "alpha_escape_opt", "alpha_escape_opt_sem", "alpha_escape_opt_median",
            "eta_max_stable", "grid_reaches_instability", "eta_opt_at_grid_edge", "eta_opt_at_stability_edge")
PER_PSTAR = ("eta_opt_exponent", "eta_opt_exponent_se", "eta_opt_prefactor")


def main(smk) -> None:
    ds = open_store(smk.input[0], required=("eta_opt", "alpha_escape_opt", "alpha_escape_opt_sem"))
    per_case = [v for v in PER_CASE if v in ds]
    per_pstar = [v for v in PER_PSTAR if v in ds]
    table = ds[per_case].to_dataframe()[per_case]
    if per_pstar:
        table = table.join(ds[per_pstar].to_dataframe()[per_pstar], on="pstar")
    table.reset_index().to_csv(smk.output.csv, index=False, float_format="%.6g")
    text = format_summary(ds)
    with open(smk.output.txt, "w") as f:
        f.write(text + "\n")
    log.info("wrote %s (%d rows) and %s", smk.output.csv, len(table), smk.output.txt)


if __name__ == "__main__":
    run(main, snakemake, "summary_table")  # noqa: F821
