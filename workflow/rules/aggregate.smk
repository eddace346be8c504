"""Combine the per-job stores into the sweep and its summary (one writer per store).

params.config holds the config sections a store depends on; they are stored as its attrs.
"""


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
        mem_mb=RES["aggregate"]["mem_mb"],
        runtime=RES["aggregate"]["runtime"],
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
        mem_mb=RES["aggregate"]["mem_mb"],
        runtime=RES["aggregate"]["runtime"],
    script:
        "../scripts/summarize.py"
