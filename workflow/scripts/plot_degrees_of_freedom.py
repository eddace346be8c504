"""Snakemake adapter: degrees of freedom of W^T W and the manifold dimension vs p (Figure 6),
read from results/dof.zarr."""

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.landscape import plot_degrees_of_freedom  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402

from _job import run, save_figure  # noqa: E402 - this folder is on sys.path in Snakemake jobs


def main(smk) -> None:
    ds = open_store(smk.input[0], required=("wtw_dof", "wtw_jacobian_rank", "manifold_dimension"))
    fig = plot_degrees_of_freedom(ds, int(smk.wildcards.N))
    save_figure(fig, smk.output.png, dpi=150)
    save_figure(fig, smk.output.pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot_degrees_of_freedom")  # noqa: F821
