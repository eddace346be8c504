"""Landscape stage (quadsgd.landscape): Hessian eigenvalue counts and degrees of freedom at the
critical points, each store owned by one rule; the figure rules only read the stores (local
rules; their PNGs go into the report with captions from workflow/report/)."""


localrules:
    plot_hessian_counts,
    plot_degrees_of_freedom,


rule hessian_counts:
    output:
        directory("results/hessian.zarr"),
    log:
        "logs/hessian_counts.log",
    params:
        landscape=config["landscape"],
    threads: RES["landscape"]["threads"]
    resources:
        mem_mb=per_attempt("landscape", "mem_mb"),
        runtime=per_attempt("landscape", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
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
        mem_mb=per_attempt("landscape", "mem_mb"),
        runtime=per_attempt("landscape", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/degrees_of_freedom.py"


rule plot_hessian_counts:
    input:
        "results/hessian.zarr",
    output:
        png=report(
            "results/figures/landscape_counts_pstar{pstar}_N{N}.png",
            caption="../report/landscape_counts.rst",
            category="Landscape",
            subcategory="Hessian eigenvalue counts",
            labels={"figure": "landscape counts", "p*": "{pstar}", "N": "{N}"},
        ),
        pdf="results/figures/landscape_counts_pstar{pstar}_N{N}.pdf",
    log:
        "logs/plot/landscape_counts_pstar{pstar}_N{N}.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/plot_landscape.py"


rule plot_degrees_of_freedom:
    input:
        "results/dof.zarr",
    output:
        png=report(
            "results/figures/landscape_dof_N{N}.png",
            caption="../report/landscape_dof.rst",
            category="Landscape",
            subcategory="degrees of freedom",
            labels={"figure": "landscape dof", "N": "{N}"},
        ),
        pdf="results/figures/landscape_dof_N{N}.pdf",
    log:
        "logs/plot/landscape_dof_N{N}.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/plot_degrees_of_freedom.py"
