"""What every name in the empirical stores means: ``long_name`` and ``units`` (CF style).

One table for the recovery store, the population-flow store and the flow curves; the builders
apply it with :func:`annotate` (through :func:`quadsgd.schema.annotate`), so each description
is written once. Times and rates are in units of the dimensionless flow time ``t`` of eq. (3).
"""

from __future__ import annotations

import xarray as xr

from quadsgd import schema

__all__ = ["VARIABLES", "REFERENCES", "annotate"]

#: The source paper, cited in the stores' global attributes.
REFERENCES = (
    "S. Sarao Mannelli, E. Vanden-Eijnden, L. Zdeborova, Optimization and generalization of shallow "
    "neural networks with quadratic activation functions, NeurIPS 2020, arXiv:2006.15459"
)

_ONE = "1"

#: ``long_name`` and ``units`` of each variable or coordinate name of the empirical stores.
VARIABLES: dict[str, dict[str, str]] = {
    # parameters and coordinates
    "d": {"long_name": "input dimension d", "units": _ONE},
    "mstar": {"long_name": "teacher width m*", "units": _ONE},
    "m": {"long_name": "student width m", "units": _ONE},
    "alpha": {"long_name": "requested samples per dimension alpha = n / d", "units": _ONE},
    "n": {"long_name": "number of samples n = max(1, round(alpha d))", "units": _ONE},
    "alpha_realized": {"long_name": "realized samples per dimension n / d (the axis of the threshold crossings)",
                       "units": _ONE},
    "seed": {"long_name": "instance seed (with d, mstar, n, m it keys the instance's random stream)", "units": _ONE},
    "teacher": {"long_name": "teacher kind: gaussian (w*_j ~ N(0, I_d)) or equal (orthonormal w*_j)", "units": ""},
    "time": {"long_name": "gradient-flow time t (eqs. 3, 8)", "units": _ONE},
    "alpha_c_paper": {
        "long_name": "paper's sample-complexity threshold n_c/d = (m*+1) - m*(m*+1)/(2d), (d+1)/2 if m* >= d (eq. 13)",
        "units": _ONE,
    },
    "alpha_c_limit": {"long_name": "paper's d -> infinity threshold alpha_c = m*+1, NaN if m* >= d (eq. 14)",
                      "units": _ONE},
    # per-instance recovery results
    "recovered": {
        "long_name": "teacher recovered (flow: rel_error < tol at t_max and no second PSD fit certified "
                     "from the end point, see second_fit; sdp: A* is the unique PSD fit)",
        "units": _ONE,
    },
    "rel_error": {"long_name": "relative distance |A - A*|_F / |A*|_F (final; sdp: of the witness)", "units": _ONE},
    "train_loss_final": {"long_name": "final empirical loss L_n = E_n / 2 = (1/4n) sum (x^T A x - y)^2 (eq. 2)",
                         "units": _ONE},
    "solver_ok": {
        "long_name": "flow: ODE solver success; "
                     "sdp: verdict certified (dual bound < tol, or accurate primal gap >= tol)",
        "units": _ONE,
    },
    "wall_time": {"long_name": "wall-clock time of the instance", "units": "s"},
    "sdp_gap": {"long_name": "sdp: max tr(P_perp A) / tr(A*) over PSD fits (NaN for the flow or if not solved)",
                "units": _ONE},
    "second_fit": {
        "long_name": "a PSD fit of the data other than A* is certified from the end point (flow) or the SDP "
                     "maximizer (sdp): witness_margin > 1",
        "units": _ONE,
    },
    "witness_margin": {
        "long_name": "best min(lambda_r, distance to A*) / delta_r over candidates (end point, midpoint with A*) "
                     "and ranks r; delta_r = |residual| / sigma_min(design) + rounding bounds; > 1 certifies a "
                     "second PSD fit (0 if no rank qualifies)",
        "units": _ONE,
    },
    "witness_rank": {"long_name": "rank r of the certified second-fit construction (0 if none)", "units": _ONE},
    "witness_distance": {
        "long_name": "certified lower bound on |A' - A*|_F / |A*|_F for a second PSD fit A' (NaN if none)",
        "units": _ONE,
    },
    "fit_kernel_dim": {
        "long_name": "dim of the symmetric Delta with x_mu^T Delta x_mu = 0 for all mu, d(d+1)/2 - rank of the design",
        "units": _ONE,
    },
    # recovery summary
    "p_recover": {"long_name": "fraction of seeds recovering the teacher", "units": _ONE},
    "p_recover_low": {"long_name": "lower end of the Wilson 95% binomial confidence interval of p_recover",
                      "units": _ONE},
    "p_recover_high": {"long_name": "upper end of the Wilson 95% binomial confidence interval of p_recover",
                       "units": _ONE},
    "alpha_threshold": {"long_name": "realized n/d where p_recover first crosses 1/2 (linear interpolation)",
                        "units": _ONE},
    "alpha_threshold_err": {"long_name": "bootstrap standard deviation of alpha_threshold", "units": _ONE},
    "alpha_threshold_boot_defined": {"long_name": "fraction of bootstrap replicates in which p_recover crosses 1/2",
                                     "units": _ONE},
    "alpha_onset": {"long_name": "realized n/d where p_recover first crosses the onset level (attribute onset_level)",
                    "units": _ONE},
    "alpha_onset_err": {"long_name": "bootstrap standard deviation of alpha_onset", "units": _ONE},
    # flow curves
    "train_error": {"long_name": "training error E_n(A(t)) (eq. 6), twice the empirical loss", "units": _ONE},
    "gen_error": {"long_name": "generalization error E(A(t)) = tr D^2 + (tr D)^2 / 2 (eq. 9)", "units": _ONE},
    # population flow
    "computed": {"long_name": "1 if this (d, mstar, teacher) case was computed (other cases are NaN)", "units": _ONE},
    "E": {"long_name": "exact population risk E(A(t)) from eq. (20) (eqs. 9, 21; twice the loss)", "units": _ONE},
    "L": {"long_name": "population loss L = E / 2", "units": _ONE},
    "eps": {"long_name": "non-informative eigenvalue of A(t) (eq. 23), NaN if m* >= d", "units": _ONE},
    "E_paper_26": {"long_name": "paper's decay eq. (26): 1 / (16 t^2)", "units": _ONE},
    "E_paper_27": {"long_name": "paper's decay eq. (27): (1/4) ((d-m*) / (1 + 2 (2+d-m*) t))^2", "units": _ONE},
    "E_quasistatic": {"long_name": "late-time asymptote (d-m*)(m*+2) / (16 (d+2) t^2) of E (derived here)",
                      "units": _ONE},
    "E_weight_flow": {"long_name": "E from the full weight flow eq. (7), W(0) = sqrt(d) I (NaN beyond t_weight_max)",
                      "units": _ONE},
    "exponent": {"long_name": "fitted d log E / d log t over the last two decades of t (m* < d)", "units": _ONE},
    "prefactor": {"long_name": "t^2 E(t) at the last time (m* < d)", "units": _ONE},
    "prefactor_paper26": {"long_name": "prefactor 1/16 of the paper's eq. (26)", "units": _ONE},
    "prefactor_paper27": {"long_name": "t -> infinity limit of t^2 times the paper's eq. (27)", "units": _ONE},
    "prefactor_quasistatic": {"long_name": "(d-m*)(m*+2) / (16 (d+2)), the late-time limit of t^2 E", "units": _ONE},
    "rate": {"long_name": "fitted exponential decay rate of E where 1e-16 < E/E(0) < 1e-6 (m* >= d)", "units": _ONE},
    "rate_paper": {"long_name": "paper's rate eq. (29): 2 (2d+4) lam*, lam* the mean teacher eigenvalue",
                   "units": _ONE},
    "rate_linear": {"long_name": "2 x slowest rate of eq. (20) linearized at the teacher", "units": _ONE},
    "weight_flow_maxdev": {"long_name": "max |diag(U*^T A U*) - lambda| between the weight flow and eq. (20)",
                           "units": _ONE},
}


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Set ``long_name`` and ``units`` of every variable and coordinate of ``ds`` from
    :data:`VARIABLES` (in place; returns ``ds``)."""
    return schema.annotate(ds, VARIABLES)
