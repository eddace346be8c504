"""Snakemake adapter: draw one figure (params.figure) from one store, save it as PNG and PDF."""

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots import sgd as plots  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402

from _job import run, save_figure  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("plot")

FIGURES = {
    "sgd_vs_ode": plots.plot_sgd_vs_ode,
    "polar_factor": plots.plot_polar_factor,
    "escape_vs_eta": plots.plot_escape_vs_eta,
    "eta_opt_vs_p": plots.plot_eta_opt,
    "escape_at_eta_opt": plots.plot_escape_at_eta_opt,
    "implicit_bias": plots.plot_implicit_bias,
}


def main(smk) -> None:
    # An SGD figure reads one store (params.store) of its job's directory; the others the input itself.
    path = Path(smk.input[0]) / getattr(smk.params, "store", "")
    ds = open_store(path)  # every variable checked (chunks present, decodable) and loaded
    fig = FIGURES[smk.params.figure](ds)
    save_figure(fig, smk.output.png, dpi=150)
    save_figure(fig, smk.output.pdf)
    log.info("wrote %s and %s", smk.output.png, smk.output.pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot")  # noqa: F821
