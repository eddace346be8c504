"""Snakemake adapter: recovery-probability and population-decay figures, drawn from the stores as stored."""

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.empirical import plot_population_decay, plot_recovery  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402

from _job import run, save_figure  # noqa: E402 - this folder is on sys.path in Snakemake jobs


def main(smk) -> None:
    recovery = open_store(smk.input.recovery, required=("p_recover", "p_recover_low", "p_recover_high",
                                                        "alpha_realized", "alpha_c_paper"))
    fig = plot_recovery(recovery)
    save_figure(fig, smk.output.recovery_png, dpi=150)
    save_figure(fig, smk.output.recovery_pdf)
    fig = plot_population_decay(open_store(smk.input.flow, required=("E", "computed")))
    save_figure(fig, smk.output.flow_png, dpi=150)
    save_figure(fig, smk.output.flow_pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot_empirical")  # noqa: F821
