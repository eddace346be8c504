"""Figures: PNG and PDF under results/figures/, drawn by quadsgd.plots.sgd.

Each PNG is marked for `snakemake --report report.html` with a caption (workflow/report/) naming
what it shows and its parameters. The plot rules are local: seconds of work, never a cluster job.
"""


localrules:
    plot_sgd,
    plot_polar_factor,
    plot_summary,
    plot_implicit_bias,


rule plot_sgd:
    """Figure 1 (ODE vs finite-N SGD) and, for p >= pstar, Figure 4 (polar factor)."""
    input:
        "results/sgd/p{p}_pstar{pstar}",
    output:
        png=report(
            "results/figures/fig1_sgd_vs_ode_p{p}_pstar{pstar}_N{N}.png",
            caption="../report/fig1_sgd_vs_ode.rst",
            category="Figure 1: SGD vs ODE",
            subcategory="p={p}, p*={pstar}, N={N}",
            labels={"figure": "1", "p": "{p}", "p*": "{pstar}", "N": "{N}"},
        ),
        pdf="results/figures/fig1_sgd_vs_ode_p{p}_pstar{pstar}_N{N}.pdf",
    log:
        "logs/plot/fig1_p{p}_pstar{pstar}_N{N}.log",
    params:
        figure="sgd_vs_ode",
        store="N{N}.zarr",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/plot.py"


use rule plot_sgd as plot_polar_factor with:
    output:
        png=report(
            "results/figures/fig4_polar_factor_p{p}_pstar{pstar}_N{N}.png",
            caption="../report/fig4_polar_factor.rst",
            category="Figure 4: polar factor",
            subcategory="p={p}, p*={pstar}, N={N}",
            labels={"figure": "4", "p": "{p}", "p*": "{pstar}", "N": "{N}"},
        ),
        pdf="results/figures/fig4_polar_factor_p{p}_pstar{pstar}_N{N}.pdf",
    log:
        "logs/plot/fig4_p{p}_pstar{pstar}_N{N}.log",
    params:
        figure="polar_factor",
        store="N{N}.zarr",


rule plot_summary:
    """Figure 2: escape time vs eta, eta_opt vs p with the fitted power law, escape time at eta_opt."""
    input:
        "results/summary.zarr",
    output:
        png=report(
            "results/figures/fig2_{name}.png",
            caption="../report/fig2.rst",
            category="Figure 2: escape time and eta_opt",
            subcategory="{name}",
            labels={"figure": "2", "panel": "{name}"},
        ),
        pdf="results/figures/fig2_{name}.pdf",
    log:
        "logs/plot/fig2_{name}.log",
    wildcard_constraints:
        name="escape_vs_eta|eta_opt_vs_p|escape_at_eta_opt",
    params:
        figure=lambda wildcards: wildcards.name,
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/plot.py"


rule plot_implicit_bias:
    """Figure 3: distance to the predicted closest solution, matched and mismatched."""
    input:
        "results/implicit_bias.zarr",
    output:
        png=report(
            "results/figures/fig3_implicit_bias.png",
            caption="../report/fig3_implicit_bias.rst",
            category="Figure 3: implicit bias",
            labels={"figure": "3"},
        ),
        pdf="results/figures/fig3_implicit_bias.pdf",
    log:
        "logs/plot/fig3_implicit_bias.log",
    params:
        figure="implicit_bias",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/plot.py"
