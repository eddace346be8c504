"""Combine the per-job stores into the sweep and its summary (one writer per store).

params.config holds the config sections a store depends on; they are stored as its attrs.
summary_table renders summary.zarr as results/summary.csv for the report (a local rule).
"""


localrules:
    summary_table,


rule aggregate_sweep:
    input:
        all_ode_parts,
    output:
        directory("results/sweep.zarr"),
    log:
        "logs/aggregate_sweep.log",
    params:
        config={key: config[key] for key in ("grid", "escape_fraction", "jobs")},
    threads: RES["aggregate"]["threads"]
    resources:
        mem_mb=per_attempt("aggregate", "mem_mb"),
        runtime=per_attempt("aggregate", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/aggregate_sweep.py"


rule summarize:
    input:
        sweep="results/sweep.zarr",
        refined=all_refinements,
        sgd=all_sgd_runs,
    output:
        directory("results/summary.zarr"),
    log:
        "logs/summarize.log",
    params:
        config={key: config[key] for key in ("grid", "escape_fraction", "jobs", "refine", "sgd")},
    threads: RES["aggregate"]["threads"]
    resources:
        mem_mb=per_attempt("aggregate", "mem_mb"),
        runtime=per_attempt("aggregate", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/summarize.py"


rule summary_table:
    """The summary table for the report (CSV) and as `quadsgd summary` prints it (text)."""
    input:
        "results/summary.zarr",
    output:
        csv=report(
            "results/summary.csv",
            caption="../report/summary_table.rst",
            category="Summary",
            labels={"table": "eta_opt and escape times"},
        ),
        txt="results/summary.txt",
    log:
        "logs/summary_table.log",
    threads: 1
    resources:
        mem_mb=per_attempt("aggregate", "mem_mb"),
        runtime=per_attempt("aggregate", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/summary_table.py"
