"""Empirical-risk stage: teacher recovery vs alpha = n/d (run on the Dask client of the `dask` config) and
the population flow (quadsgd.empirical); the plot rule only reads their stores."""


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
        mem_mb=RES["empirical"]["mem_mb"],
        runtime=RES["empirical"]["runtime"],
    script:
        "../scripts/empirical.py"


rule plot_empirical:
    input:
        recovery="results/empirical.zarr",
        flow="results/empirical_population_flow.zarr",
    output:
        recovery_png="results/figures/empirical_recovery.png",
        recovery_pdf="results/figures/empirical_recovery.pdf",
        flow_png="results/figures/empirical_population_decay.png",
        flow_pdf="results/figures/empirical_population_decay.pdf",
    log:
        "logs/plot/empirical.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot_empirical.py"
