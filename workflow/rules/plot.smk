"""Figures: PNG and PDF under results/figures/, drawn by quadsgd.plots.sgd."""


rule plot_sgd:
    """Figure 1 (ODE vs finite-N SGD) and, for p >= pstar, Figure 4 (polar factor)."""
    input:
        "results/sgd/p{p}_pstar{pstar}_N{N}.zarr",
    output:
        png="results/figures/fig1_sgd_vs_ode_p{p}_pstar{pstar}_N{N}.png",
        pdf="results/figures/fig1_sgd_vs_ode_p{p}_pstar{pstar}_N{N}.pdf",
    log:
        "logs/plot/fig1_p{p}_pstar{pstar}_N{N}.log",
    params:
        figure="sgd_vs_ode",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot.py"


use rule plot_sgd as plot_polar_factor with:
    output:
        png="results/figures/fig4_polar_factor_p{p}_pstar{pstar}_N{N}.png",
        pdf="results/figures/fig4_polar_factor_p{p}_pstar{pstar}_N{N}.pdf",
    log:
        "logs/plot/fig4_p{p}_pstar{pstar}_N{N}.log",
    params:
        figure="polar_factor",


rule plot_summary:
    """Figure 2: escape time vs eta, eta_opt vs p with the fitted power law, escape time at eta_opt."""
    input:
        "results/summary.zarr",
    output:
        png="results/figures/fig2_{name}.png",
        pdf="results/figures/fig2_{name}.pdf",
    log:
        "logs/plot/fig2_{name}.log",
    wildcard_constraints:
        name="escape_vs_eta|eta_opt_vs_p|escape_at_eta_opt",
    params:
        figure=lambda wildcards: wildcards.name,
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot.py"


rule plot_implicit_bias:
    """Figure 3: distance to the predicted closest solution, matched and mismatched."""
    input:
        "results/implicit_bias.zarr",
    output:
        png="results/figures/fig3_implicit_bias.png",
        pdf="results/figures/fig3_implicit_bias.pdf",
    log:
        "logs/plot/fig3_implicit_bias.log",
    params:
        figure="implicit_bias",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=RES["plot"]["mem_mb"],
        runtime=RES["plot"]["runtime"],
    script:
        "../scripts/plot.py"
