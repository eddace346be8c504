"""Configuration check, wildcard patterns and target lists; every rule's grid comes from here."""

from snakemake.utils import validate

from quadsgd.grids import log_alpha_grid
from quadsgd.provenance import canonical, check_results_fingerprint
from quadsgd.sweep.plan import eta_blocks


validate(config, schema="../schemas/config.schema.yaml")
# One spelling per number (300 == 300.0): params, and so what Snakemake reruns, follow values only.
config.update(canonical(config))


def _check_config(cfg):
    """Cross-key checks JSON Schema cannot express; raise before any job runs, naming the key."""
    grid = cfg["grid"]
    if grid["eta_over_p"]["min"] >= grid["eta_over_p"]["max"]:
        raise ValueError(
            f"config key grid.eta_over_p: min ({grid['eta_over_p']['min']}) must be below max "
            f"({grid['eta_over_p']['max']})"
        )
    for section in ("grid", "implicit_bias"):  # recording grids 0, 0.01, ..., alpha_max must increase
        try:
            log_alpha_grid(cfg[section]["alpha_max"], cfg[section]["alpha_points"])
        except ValueError as err:
            raise ValueError(
                f"config key {section}.alpha_max / {section}.alpha_points: no increasing alpha grid ({err})"
            ) from None
    for section, ps, pss, Ns in (
        ("grid", grid["p"], grid["pstar"], [grid["N"]]),
        ("sgd", cfg["sgd"]["p"], cfg["sgd"]["pstar"], cfg["sgd"]["N"]),
        ("implicit_bias", [cfg["implicit_bias"]["p"]], [cfg["implicit_bias"]["pstar"]], [cfg["implicit_bias"]["N"]]),
    ):
        if min(Ns) < max(ps) + max(pss):
            raise ValueError(f"config key {section}.N: N={min(Ns)} must be at least p + pstar = {max(ps) + max(pss)}")
    if cfg["implicit_bias"]["p"] < cfg["implicit_bias"]["pstar"]:
        raise ValueError("config key implicit_bias.p: the zero-error manifold needs p >= pstar")


_check_config(config)

# One results/ directory holds the stores of one configuration: refuse (before any job runs) a
# directory filled under another one, and record ours once this run starts computing.
check_results_fingerprint(config, "results")


onstart:
    check_results_fingerprint(config, "results", record=True)


GRID = config["grid"]
SGD = config["sgd"]
RES = config["resources"]
N_PARTS = len(eta_blocks(GRID["eta_over_p"]["num"], GRID["seeds"], config["jobs"]["points_per_job"]))


wildcard_constraints:
    p=r"[1-9]\d*",
    pstar=r"[1-9]\d*",
    N=r"[1-9]\d*",
    part=r"\d{3}",


def part_name(i):
    """Zero-padded job index, the only number in a simulation file name besides integers."""
    return f"{i:03d}"


def all_ode_parts(wildcards=None):
    return expand(
        "results/ode/p{p}_pstar{pstar}/part{part}.zarr",
        p=GRID["p"],
        pstar=GRID["pstar"],
        part=[part_name(i) for i in range(N_PARTS)],
    )


def all_refinements(wildcards=None):
    return expand("results/refine/p{p}_pstar{pstar}.zarr", p=GRID["p"], pstar=GRID["pstar"])


def all_sgd_runs(wildcards=None):
    return expand("results/sgd/p{p}_pstar{pstar}_N{N}.zarr", p=SGD["p"], pstar=SGD["pstar"], N=SGD["N"])


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
