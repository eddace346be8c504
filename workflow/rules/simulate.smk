"""Simulation jobs: each writes its own store (Snakemake deletes outputs before a job runs).

params hold only what determines a job's numbers, so editing another config section (or the
Dask settings and task size, read by the scripts from snakemake.config) reruns nothing here.

The rules that run the compiled kernels wait for `warmup`, which compiles them once into numba's
cache (docs/pipeline.md, "Compile once"); the sentinel (WARMUP, warmup_input in common.smk) is
`ancient`, so a new warm-up never makes finished simulations out of date, and stores made before
the warm-up existed are not rerun for it.
"""

rule warmup:
    """Compile every numba kernel of the simulation jobs once (tiny inputs, no Dask)."""
    output:
        touch(WARMUP),
    log:
        "logs/warmup.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/warmup.py"


rule simulate_ode:
    """ODE escape times of one scan job (SCAN_JOBS): blocks of whole learning rates (all seeds) of
    one or more (p, pstar), one store per block, results/ode/jobNNN/p{p}_pstar{s}_partNNN.zarr."""
    input:
        warmup=warmup_input("results/ode/job{job}"),
    output:
        directory("results/ode/job{job}"),
    log:
        "logs/simulate_ode/job{job}.log",
    params:
        grid=GRID,
        escape_fraction=config["escape_fraction"],
        points_per_job=config["jobs"]["points_per_job"],
    threads: RES["simulate"]["threads"]
    resources:
        mem_mb=per_attempt("simulate", "mem_mb"),
        runtime=per_attempt("simulate", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/simulate_ode.py"


rule refine_eta_opt:
    """eta_opt of the (p, pstar) of one refinement job (REFINE_JOBS): grid grown to instability if
    needed, refined, selected (quadsgd.eta_opt); results/refine/jobNNN/p{p}_pstar{s}.zarr."""
    input:
        "results/sweep.zarr",
    output:
        directory("results/refine/job{job}"),
    log:
        "logs/refine_eta_opt/job{job}.log",
    params:
        grid=GRID,
        escape_fraction=config["escape_fraction"],
        refine=config["refine"],
        points_per_job=config["jobs"]["points_per_job"],
    threads: RES["refine"]["threads"]
    resources:
        mem_mb=per_attempt("refine", "mem_mb"),
        runtime=per_attempt("refine", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/refine_eta_opt.py"


rule simulate_sgd:
    """Finite-N SGD runs and the ODE from each run's measured M(0) (Figures 1 and 4), every N of
    one (p, pstar): results/sgd/p{p}_pstar{pstar}/N{N}.zarr."""
    input:
        warmup=warmup_input("results/sgd/p{p}_pstar{pstar}"),
    output:
        directory("results/sgd/p{p}_pstar{pstar}"),
    log:
        "logs/simulate_sgd/p{p}_pstar{pstar}.log",
    params:
        sgd=SGD,
        escape_fraction=config["escape_fraction"],
    threads: RES["sgd"]["threads"]
    resources:
        mem_mb=per_attempt("sgd", "mem_mb"),
        runtime=per_attempt("sgd", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/simulate_sgd.py"


rule implicit_bias:
    """ODE trajectories to the zero-error manifold and distances to predicted solutions (Figure 3)."""
    input:
        warmup=warmup_input("results/implicit_bias.zarr"),
    output:
        directory("results/implicit_bias.zarr"),
    log:
        "logs/implicit_bias.log",
    params:
        ib=config["implicit_bias"],
    threads: RES["implicit_bias"]["threads"]
    resources:
        mem_mb=per_attempt("implicit_bias", "mem_mb"),
        runtime=per_attempt("implicit_bias", "runtime"),
    conda:
        "../envs/quadsgd.yaml"
    script:
        "../scripts/implicit_bias.py"
