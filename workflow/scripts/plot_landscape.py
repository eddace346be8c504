"""Snakemake adapter: Hessian eigenvalue-count figure for one (pstar, N), read from results/hessian.zarr."""

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.landscape import plot_eigen_counts  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402

from _job import run, save_figure  # noqa: E402 - this folder is on sys.path in Snakemake jobs


def main(smk) -> None:
    ds = open_store(smk.input[0], required=("count_numeric", "count_formula"))
    fig = plot_eigen_counts(ds, int(smk.wildcards.pstar), int(smk.wildcards.N))
    save_figure(fig, smk.output.png, dpi=150)
    save_figure(fig, smk.output.pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot_landscape")  # noqa: F821
