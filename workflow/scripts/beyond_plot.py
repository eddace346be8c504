"""Snakemake adapter: the figure of one beyond store (quadsgd.plots.beyond), as PNG and PDF."""

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.beyond import FIGURES  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402

from _job import run, save_figure  # noqa: E402 - this folder is on sys.path in Snakemake jobs


def main(smk) -> None:
    ds = open_store(smk.input[0])
    fig = FIGURES[smk.wildcards.beyond_part](ds)
    save_figure(fig, smk.output.png, dpi=150)
    save_figure(fig, smk.output.pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot_beyond")  # noqa: F821
