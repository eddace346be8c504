"""Population-risk landscape in weight space: Hessian spectra at the critical points, their
closed-form counts, and the degrees of freedom of ``W -> W^T W``.

Convention: docs/conventions.md section 8 (sections 1 and 2 for the model and the risk);
derivations, measurements and the comparison with "Escape dynamics and implicit bias of one-pass
SGD in overparameterized quadratic networks" (arXiv:2604.03068): docs/landscape.md.

- :mod:`~quadsgd.landscape.hessian`: risk, gradient, dense Hessian, structured spectrum, sign
  counts, tangent / non-tangent split of the zero-error null space.
- :mod:`~quadsgd.landscape.points`: seeded constructors of the critical points.
- :mod:`~quadsgd.landscape.counts`: closed-form eigenvalues and counts in ``(p, pstar, N)``.
- :mod:`~quadsgd.landscape.dof`: degrees of freedom of ``W^T W``, manifold and orbit dimensions.
- :mod:`~quadsgd.landscape.datasets`: the stores ``hessian.zarr`` and ``dof.zarr``.
"""

from __future__ import annotations

from quadsgd.landscape.counts import (
    aligned_counts,
    formula_counts,
    formula_spectrum,
    plateau_counts,
    plateau_null_ratio,
    tabula_rasa_counts,
    zero_error_counts,
)
from quadsgd.landscape.datasets import (
    LANDSCAPE_ATTRS,
    degrees_of_freedom_dataset,
    hessian_counts_dataset,
)
from quadsgd.landscape.dof import (
    manifold_dimension,
    orbit_dimension,
    wtw_degrees_of_freedom,
    wtw_jacobian_rank,
)
from quadsgd.landscape.hessian import (
    DEFAULT_RTOL,
    SIGNS,
    SignCounts,
    Spectrum,
    dense_hessian,
    eigen_counts,
    population_risk,
    risk_gradient,
    structured_spectrum,
    zero_error_null_split,
)
from quadsgd.landscape.points import (
    POINTS,
    aligned,
    critical_point,
    plateau,
    point_applicable,
    tabula_rasa,
    teacher,
    zero_error,
)

__all__ = [
    "DEFAULT_RTOL",
    "LANDSCAPE_ATTRS",
    "POINTS",
    "SIGNS",
    "SignCounts",
    "Spectrum",
    "aligned",
    "aligned_counts",
    "critical_point",
    "degrees_of_freedom_dataset",
    "dense_hessian",
    "eigen_counts",
    "formula_counts",
    "formula_spectrum",
    "hessian_counts_dataset",
    "manifold_dimension",
    "orbit_dimension",
    "plateau",
    "plateau_counts",
    "plateau_null_ratio",
    "point_applicable",
    "population_risk",
    "risk_gradient",
    "structured_spectrum",
    "tabula_rasa",
    "tabula_rasa_counts",
    "teacher",
    "wtw_degrees_of_freedom",
    "wtw_jacobian_rank",
    "zero_error",
    "zero_error_counts",
    "zero_error_null_split",
]
