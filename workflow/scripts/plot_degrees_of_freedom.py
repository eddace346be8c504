"""Snakemake adapter: degrees of freedom of W^T W and the manifold dimension vs p (Figure 6)."""

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.landscape import plot_degrees_of_freedom  # noqa: E402
from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs


def main(smk) -> None:
    N = int(smk.wildcards.N)
    # p runs past N to show where the degrees of freedom saturate at N(N+1)/2.
    fig = plot_degrees_of_freedom(N, [int(s) for s in smk.params.pstar], p_max=N + N // 2 + 2)
    fig.savefig(smk.output.png, dpi=150)
    fig.savefig(smk.output.pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot_degrees_of_freedom")  # noqa: F821
