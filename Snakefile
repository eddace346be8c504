# The quadsgd sweep: ODE escape times over (p, pstar, eta/p, seed), finite-N SGD curves,
# implicit-bias trajectories, their summaries and the paper's figures.
# Run: snakemake --cores 2   (or --profile profiles/default; --configfile config/paper.yaml)
# Report: snakemake --report report.html   (every figure and the summary table, with captions)

import os

from snakemake.utils import min_version

min_version("8.20")


# Defaults from the repository, whatever --directory says; --configfile overrides them.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/landscape.smk"
include: "workflow/rules/empirical.smk"
include: "workflow/rules/beyond.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        final_targets,
        "results/summary.csv",
        BEYOND_TARGETS,
