"""Snakemake adapter: recovery-probability and population-decay figures."""

import matplotlib

matplotlib.use("Agg")

from quadsgd import empirical  # noqa: E402
from quadsgd.plots.empirical import plot_population_decay, plot_recovery  # noqa: E402
from quadsgd.storage import open_store  # noqa: E402
from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs


def main(smk) -> None:
    recovery = open_store(smk.input.recovery).load()
    summaries = []
    for case in recovery.case.values:
        one = recovery.sel(case=case)
        attrs = {**recovery.attrs, **{k: one[k].item() for k in ("d", "mstar", "m", "alpha_c_paper")}}
        summaries.append(empirical.recovery_summary(one.drop_vars(["d", "mstar", "m", "alpha_c_paper"])
                                                    .assign_attrs(attrs)))
    fig = plot_recovery(summaries)
    fig.savefig(smk.output.recovery_png, dpi=150)
    fig.savefig(smk.output.recovery_pdf)
    fig = plot_population_decay(open_store(smk.input.flow).load())
    fig.savefig(smk.output.flow_png, dpi=150)
    fig.savefig(smk.output.flow_pdf)


if __name__ == "__main__":
    run(main, snakemake, "plot_empirical")  # noqa: F821
