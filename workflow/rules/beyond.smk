"""Beyond the paper (issue 19; docs/beyond.md): finite-N escape law, eta_opt from SGD, the
finite-eta phase diagram, label noise, narrow students. One job and one store per part under
results/beyond/ (quadsgd.beyond); one figure per store (quadsgd.plots.beyond, local rule).
Parts that use the ODE's eta_opt read it from results/summary.zarr.
"""

BEYOND = config["beyond"]
BEYOND_PARTS = ["escape_law", "eta_opt_sgd", "phase_diagram", "noise", "narrow"]


wildcard_constraints:
    beyond_part="|".join(BEYOND_PARTS),


localrules:
    plot_beyond,


# Every beyond store and figure, when beyond.enabled (a target of rule all).
BEYOND_TARGETS = (
    expand("results/beyond/{part}.zarr", part=BEYOND_PARTS)
    + expand("results/figures/beyond_{part}.{ext}", part=BEYOND_PARTS, ext=["png", "pdf"])
    if BEYOND["enabled"]
    else []
)
# The sweep's summary (the ODE's eta_opt), unless the escape law is given its learning rate.
BEYOND_LAW_SUMMARY = [] if BEYOND["escape_law"]["eta_over_p"] is not None else ["results/summary.zarr"]


rule beyond_escape_law:
    input:
        summary=BEYOND_LAW_SUMMARY,
        warmup=ancient(WARMUP),
    output:
        directory("results/beyond/escape_law.zarr"),
    log:
        "logs/beyond/escape_law.log",
    params:
        beyond=BEYOND["escape_law"],
        escape_fraction=config["escape_fraction"],
    threads: RES["beyond"]["threads"]
    resources:
        mem_mb=per_attempt("beyond", "mem_mb"),
        runtime=per_attempt("beyond", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/beyond_escape_law.py"


rule beyond_eta_opt_sgd:
    input:
        summary="results/summary.zarr",
        warmup=ancient(WARMUP),
    output:
        directory("results/beyond/eta_opt_sgd.zarr"),
    log:
        "logs/beyond/eta_opt_sgd.log",
    params:
        beyond=BEYOND["eta_opt_sgd"],
        escape_fraction=config["escape_fraction"],
    threads: RES["beyond"]["threads"]
    resources:
        mem_mb=per_attempt("beyond", "mem_mb"),
        runtime=per_attempt("beyond", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/beyond_eta_opt_sgd.py"


rule beyond_phase_diagram:
    input:
        summary="results/summary.zarr",
        warmup=ancient(WARMUP),
    output:
        directory("results/beyond/phase_diagram.zarr"),
    log:
        "logs/beyond/phase_diagram.log",
    params:
        beyond=BEYOND["phase"],
    threads: 1
    resources:
        mem_mb=per_attempt("beyond", "mem_mb"),
        runtime=per_attempt("beyond", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/beyond_phase_diagram.py"


rule beyond_noise:
    input:
        warmup=ancient(WARMUP),
    output:
        directory("results/beyond/noise.zarr"),
    log:
        "logs/beyond/noise.log",
    params:
        beyond=BEYOND["noise"],
        escape_fraction=config["escape_fraction"],
    threads: RES["beyond"]["threads"]
    resources:
        mem_mb=per_attempt("beyond", "mem_mb"),
        runtime=per_attempt("beyond", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/beyond_noise.py"


rule beyond_narrow:
    input:
        warmup=ancient(WARMUP),
    output:
        directory("results/beyond/narrow.zarr"),
    log:
        "logs/beyond/narrow.log",
    params:
        beyond=BEYOND["narrow"],
        escape_fraction=config["escape_fraction"],
    threads: 1
    resources:
        mem_mb=per_attempt("beyond", "mem_mb"),
        runtime=per_attempt("beyond", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/beyond_narrow.py"


rule plot_beyond:
    input:
        "results/beyond/{beyond_part}.zarr",
    output:
        png=report(
            "results/figures/beyond_{beyond_part}.png",
            caption="../report/beyond_figures.rst",
            category="Beyond the paper",
            subcategory="{beyond_part}",
            labels={"figure": "{beyond_part}"},
        ),
        pdf="results/figures/beyond_{beyond_part}.pdf",
    log:
        "logs/plot/beyond_{beyond_part}.log",
    threads: RES["plot"]["threads"]
    resources:
        mem_mb=per_attempt("plot", "mem_mb"),
        runtime=per_attempt("plot", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/beyond_plot.py"
