"""Snakemake adapter: Hessian eigenvalue-count figure for one (pstar, N)."""

import logging
import sys

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.landscape import plot_eigen_counts  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402


def main(smk) -> None:
    ds = open_store(smk.input[0]).load()
    fig = plot_eigen_counts(ds, int(smk.wildcards.pstar), int(smk.wildcards.N))
    fig.savefig(smk.output.png, dpi=150)
    fig.savefig(smk.output.pdf)


if __name__ == "__main__":
    sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821 - warnings, logging
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main(snakemake)  # noqa: F821
