"""Snakemake adapter: degrees of freedom of W^T W and the manifold dimension vs p (Figure 6)."""

import logging
import sys

import matplotlib

matplotlib.use("Agg")

from quadsgd.plots.landscape import plot_degrees_of_freedom  # noqa: E402


def main(smk) -> None:
    N = int(smk.wildcards.N)
    # p runs past N to show where the degrees of freedom saturate at N(N+1)/2.
    fig = plot_degrees_of_freedom(N, [int(s) for s in smk.params.pstar], p_max=N + N // 2 + 2)
    fig.savefig(smk.output.png, dpi=150)
    fig.savefig(smk.output.pdf)


if __name__ == "__main__":
    sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821 - warnings, logging
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main(snakemake)  # noqa: F821
