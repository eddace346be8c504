"""Landscape stage: Hessian eigenvalue counts at the critical points (quadsgd.landscape)."""


rule hessian_counts:
    output:
        directory("results/hessian.zarr"),
    log:
        "logs/hessian_counts.log",
    params:
        landscape=config["landscape"],
    threads: RES["landscape"]["threads"]
    resources:
        mem_mb=RES["landscape"]["mem_mb"],
        runtime=RES["landscape"]["runtime"],
    script:
        "../scripts/hessian_counts.py"


rule plot_hessian_counts:
    input:
        "results/hessian.zarr",
    output:
        png="results/figures/landscape_counts_pstar{pstar}_N{N}.png",
        pdf="results/figures/landscape_counts_pstar{pstar}_N{N}.pdf",
    log:
        "logs/plot/landscape_counts_pstar{pstar}_N{N}.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot_landscape.py"


rule plot_degrees_of_freedom:
    output:
        png="results/figures/landscape_dof_N{N}.png",
        pdf="results/figures/landscape_dof_N{N}.pdf",
    log:
        "logs/plot/landscape_dof_N{N}.log",
    params:
        pstar=config["landscape"]["pstar"],
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot_degrees_of_freedom.py"
