"""Empirical-risk stage: teacher recovery vs alpha = n/d (run on the Dask client of the `dask` config) and
the population flow (quadsgd.empirical); the plot rule only reads their stores (a local rule; its
PNGs go into the report with captions from workflow/report/)."""


localrules:
    plot_empirical,


rule empirical_recovery:
    output:
        recovery=directory("results/empirical.zarr"),
        flow=directory("results/empirical_population_flow.zarr"),
    log:
        "logs/empirical_recovery.log",
    params:
        empirical=config["empirical"],
    threads: RES["empirical"]["threads"]
    resources:
        mem_mb=per_attempt("empirical", "mem_mb"),
        runtime=per_attempt("empirical", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/empirical.py"


rule plot_empirical:
    input:
        recovery="results/empirical.zarr",
        flow="results/empirical_population_flow.zarr",
    output:
        recovery_png=report(
            "results/figures/empirical_recovery.png",
            caption="../report/empirical_recovery.rst",
            category="Empirical risk",
            labels={"figure": "recovery"},
        ),
        recovery_pdf="results/figures/empirical_recovery.pdf",
        flow_png=report(
            "results/figures/empirical_population_decay.png",
            caption="../report/empirical_population_decay.rst",
            category="Empirical risk",
            labels={"figure": "population decay"},
        ),
        flow_pdf="results/figures/empirical_population_decay.pdf",
    log:
        "logs/plot/empirical.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/plot_empirical.py"
