"""Landscape stage (quadsgd.landscape): Hessian eigenvalue counts and degrees of freedom at the
critical points, each store owned by one rule; the figure rules only read the stores."""


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


rule degrees_of_freedom:
    output:
        directory("results/dof.zarr"),
    log:
        "logs/degrees_of_freedom.log",
    params:
        landscape=config["landscape"],
    threads: RES["landscape"]["threads"]
    resources:
        mem_mb=RES["landscape"]["mem_mb"],
        runtime=RES["landscape"]["runtime"],
    script:
        "../scripts/degrees_of_freedom.py"


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
    input:
        "results/dof.zarr",
    output:
        png="results/figures/landscape_dof_N{N}.png",
        pdf="results/figures/landscape_dof_N{N}.pdf",
    log:
        "logs/plot/landscape_dof_N{N}.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot_degrees_of_freedom.py"
