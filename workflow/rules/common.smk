"""Configuration check, wildcard patterns and target lists; every rule's grid comes from here."""

import os

from snakemake.logging import logger

from quadsgd.config import check_config, sources as config_sources
from quadsgd.grids import log_alpha_grid
from quadsgd.provenance import canonical, check_results_fingerprint
from quadsgd.sweep.plan import pipeline_refine_jobs, pipeline_scan_jobs


# Every check of the configuration, before any job runs (quadsgd.config): each config file read
# again (duplicate keys), NaN/inf, the schema (defaults filled in), numbers in one spelling
# (300 == 300.0, so params and what Snakemake reruns follow values only), keys against each
# other, the jobs' estimated memory and time. A refusal is one line naming file, key and value.
_cli_files = [str(f) for f in workflow.config_settings.configfiles]
_config_files = [str(f) for f in workflow.configfiles if str(f) not in _cli_files]
# --replace-workflow-config (Snakemake >= 9): the files named on the command line replace config/config.yaml.
if getattr(workflow.config_settings, "replace_workflow_config", False) and workflow.config_settings.overwrite_config:
    _config_files = []
try:
    _checked, _warnings = check_config(
        config,
        os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"),
        config_sources(_config_files + _cli_files, workflow.config_settings.config),
    )
except ValueError as _err:
    raise SystemExit(str(_err)) from None
for _warning in _warnings:
    logger.warning(_warning)
config.clear()
config.update(_checked)

# One results/ directory holds the stores of one configuration: refuse (before any job runs) a
# directory filled under another one (or a results/ or .snakemake/ that is no usable directory),
# and claim it exclusively once this run starts computing, after repairing what killed writers
# left behind (quadsgd.storage.recover_stores; docs/faults.md).
try:
    check_results_fingerprint(config, "results", state_dir=".snakemake")
except ValueError as _err:  # one line, like every refusal before a run
    raise SystemExit(str(_err)) from None


onstart:
    from quadsgd.storage import recover_stores

    for line in recover_stores("results"):
        print(f"recovered: {line}")
    check_results_fingerprint(config, "results", record=True)


GRID = config["grid"]
SGD = config["sgd"]
RES = config["resources"]


def per_attempt(kind, key):
    """A rule's resource from the config times the attempt: a retried job asks for more."""
    base = RES[kind][key]
    return lambda wildcards, attempt: base * attempt

# Jobs of about jobs.points_per_job (eta, seed) points (quadsgd.sweep.plan): a small sweep is one
# scan job and one refinement job for every (p, pstar); a large one fans out to one block of
# learning rates of one (p, pstar) per job. Each job writes a directory of per-(p, pstar) stores.
SCAN_JOBS = pipeline_scan_jobs(config)
REFINE_JOBS = pipeline_refine_jobs(config)


wildcard_constraints:
    p=r"[1-9]\d*",
    pstar=r"[1-9]\d*",
    N=r"[1-9]\d*",
    job=r"\d\d\d+",


def job_name(i):
    """Zero-padded job index: the only number in a job's directory name."""
    return f"{i:03d}"


def all_ode_parts(wildcards=None):
    return [f"results/ode/job{job_name(i)}" for i in range(len(SCAN_JOBS))]


def all_refinements(wildcards=None):
    return [f"results/refine/job{job_name(i)}" for i in range(len(REFINE_JOBS))]


def all_sgd_runs(wildcards=None):
    """One SGD job (a directory of one store per N) per (p, pstar) of the sgd section."""
    return expand("results/sgd/p{p}_pstar{pstar}", p=SGD["p"], pstar=SGD["pstar"])


def sgd_figures(wildcards=None):
    """Figure 1 for every SGD case; Figure 4 (polar factor) where p >= pstar."""
    fig1 = expand(
        "results/figures/fig1_sgd_vs_ode_p{p}_pstar{pstar}_N{N}.{ext}",
        p=SGD["p"], pstar=SGD["pstar"], N=SGD["N"], ext=["png", "pdf"],
    )
    fig4 = [
        f"results/figures/fig4_polar_factor_p{p}_pstar{s}_N{N}.{ext}"
        for p in SGD["p"] for s in SGD["pstar"] for N in SGD["N"] for ext in ("png", "pdf")
        if p >= s
    ]
    return fig1 + fig4


def summary_figures(wildcards=None):
    return expand(
        "results/figures/{name}.{ext}",
        name=["fig2_escape_vs_eta", "fig2_eta_opt_vs_p", "fig2_escape_at_eta_opt", "fig3_implicit_bias"],
        ext=["png", "pdf"],
    )


def optional_targets(wildcards=None):
    """Landscape and empirical-risk stores and figures, when enabled in the config."""
    targets = []
    land = config["landscape"]
    if land["enabled"]:
        targets += ["results/hessian.zarr", "results/dof.zarr"]
        targets += expand(
            "results/figures/landscape_counts_pstar{pstar}_N{N}.{ext}",
            pstar=land["pstar"], N=max(land["N"]), ext=["png", "pdf"],
        )
        targets += expand("results/figures/landscape_dof_N{N}.{ext}", N=max(land["N"]), ext=["png", "pdf"])
    if config["empirical"]["enabled"]:
        targets += ["results/empirical.zarr", "results/empirical_population_flow.zarr"]
        targets += expand(
            "results/figures/empirical_{name}.{ext}", name=["recovery", "population_decay"], ext=["png", "pdf"]
        )
    return targets


def final_targets(wildcards=None):
    return ["results/sweep.zarr", "results/summary.zarr", *sgd_figures(), *summary_figures(), *optional_targets()]


# --- warm-up (simulate.smk): appended for issue 17 -------------------------------------------

WARMUP = "results/.warmup/numba_kernels.done"


def _recorded_input(path):
    """The input files Snakemake recorded for ``path`` when it was made (None if unknown)."""
    try:
        from snakemake.io import IOFile

        return workflow.persistence.input(IOFile(path))
    except Exception:  # no persistence yet (lint, report) or another Snakemake layout
        return None


def warmup_input(output_pattern):
    """Input function: the warm-up sentinel (ancient) for a job that runs the compiled kernels.

    A job gets it when its output is missing (it will run) or when its output was made with it;
    a store made before the warm-up rule existed keeps the inputs it was recorded with, so adding
    the rule never reruns finished simulations ("Set of input files has changed")."""

    def sentinel(wildcards):
        output = output_pattern.format(**wildcards)
        if not os.path.exists(output):
            return [ancient(WARMUP)]
        recorded = _recorded_input(output)
        if recorded is not None and WARMUP not in recorded:
            return []
        return [ancient(WARMUP)]

    return sentinel
