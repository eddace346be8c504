"""Empirical-risk gradient descent in the quadratic network of the second source paper.

Source: S. Sarao Mannelli, E. Vanden-Eijnden, L. Zdeborova, "Optimization and generalization
of shallow neural networks with quadratic activation functions", NeurIPS 2020,
arXiv:2006.15459. Its setting, notation and claims are in docs/conventions.md section 9; what
was measured is in docs/empirical.md. The claims are measured here, not assumed.

Modules (each public name is re-exported here, so ``quadsgd.empirical.NAME`` works):

- :mod:`~quadsgd.empirical.instance`: one problem (teacher, data, initialization from the keyed
  stream ``Purpose.EMPIRICAL_INSTANCE``), losses, gradients and errors;
- :mod:`~quadsgd.empirical.dynamics`: the gradient flow (eq. 3) and discrete gradient descent;
- :mod:`~quadsgd.empirical.sdp`: is ``A*`` the only PSD fit? (needs the optional cvxpy);
- :mod:`~quadsgd.empirical.certificate`: does the end point of a run prove a second PSD fit
  (then the run is not a recovery)?
- :mod:`~quadsgd.empirical.recovery`: per-instance recovery verdicts, sweeps over ``alpha``
  (run through :func:`quadsgd.sweep.execute.map_tasks`), their bootstrap summary, the store;
- :mod:`~quadsgd.empirical.population`: the population flow (eqs. 7, 20) and its decay laws;
- :mod:`~quadsgd.empirical.datasets`: the population-flow store and the flow-curve datasets;
- :mod:`~quadsgd.empirical.variables`: ``long_name`` and ``units`` of every stored name.
"""

from __future__ import annotations

from quadsgd.empirical.certificate import Witness, fit_kernel_dim, second_fit_witness
from quadsgd.empirical.datasets import (
    DEFAULT_POPULATION_CASES,
    flow_curves_dataset,
    population_flow_dataset,
    population_teacher,
)
from quadsgd.empirical.dynamics import FlowResult, flow_jacobian, flow_velocity, gradient_descent, gradient_flow
from quadsgd.empirical.instance import (
    Instance,
    Teacher,
    empirical_loss_and_grad,
    generalization_error,
    make_instance,
    make_teacher,
    n_samples,
    relative_error,
    student_matrix,
    training_error,
)
from quadsgd.empirical.population import (
    linearized_rate,
    paper_decay_26,
    paper_decay_27,
    paper_rate_29,
    population_eigenvalue_flow,
    population_risk_eigs,
    population_weight_flow,
    quasistatic_prefactor,
)
from quadsgd.empirical.recovery import (
    CONFIDENCE_LEVEL,
    PER_SEED_VARIABLES,
    SUMMARY_VARIABLES,
    RecoveryOptions,
    RecoveryOutcome,
    alpha_c_limit,
    alpha_c_paper,
    binomial_interval,
    recover_instance,
    recovery_dataset,
    recovery_summary,
    recovery_sweep,
)
from quadsgd.empirical.sdp import CVXPY_MISSING, SDPResult, require_cvxpy, sdp_uniqueness
from quadsgd.empirical.variables import REFERENCES, VARIABLES, annotate

__all__ = [
    # instance
    "Instance",
    "Teacher",
    "make_teacher",
    "make_instance",
    "n_samples",
    "student_matrix",
    "empirical_loss_and_grad",
    "training_error",
    "generalization_error",
    "relative_error",
    # dynamics
    "FlowResult",
    "flow_velocity",
    "flow_jacobian",
    "gradient_flow",
    "gradient_descent",
    # sdp
    "SDPResult",
    "sdp_uniqueness",
    "require_cvxpy",
    "CVXPY_MISSING",
    # recovery
    "alpha_c_paper",
    "alpha_c_limit",
    "RecoveryOptions",
    "RecoveryOutcome",
    "recover_instance",
    "recovery_sweep",
    "recovery_summary",
    "recovery_dataset",
    "binomial_interval",
    "CONFIDENCE_LEVEL",
    "PER_SEED_VARIABLES",
    "SUMMARY_VARIABLES",
    # certificate
    "Witness",
    "second_fit_witness",
    "fit_kernel_dim",
    # population
    "population_eigenvalue_flow",
    "population_weight_flow",
    "population_risk_eigs",
    "paper_decay_26",
    "paper_decay_27",
    "paper_rate_29",
    "linearized_rate",
    "quasistatic_prefactor",
    # datasets
    "DEFAULT_POPULATION_CASES",
    "population_teacher",
    "population_flow_dataset",
    "flow_curves_dataset",
    # variables
    "VARIABLES",
    "REFERENCES",
    "annotate",
]
