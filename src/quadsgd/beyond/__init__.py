"""Beyond the paper (issue 19; docs/beyond.md): one module per result, each building one store.

- :mod:`~quadsgd.beyond.escape_law`: finite-N SGD escape time against ln N, the fitted slope
  against the small-eta and finite-eta predictions, the offset to the ODE from the same M(0).
- :mod:`~quadsgd.beyond.eta_opt_sgd`: the optimal learning rate measured with finite-N SGD.
- :mod:`~quadsgd.beyond.phase_diagram`: regions of the finite-eta ODE over eta / p.
- :mod:`~quadsgd.beyond.noise`: label noise, ODE against SGD.
- :mod:`~quadsgd.beyond.narrow`: narrow students p < pstar against the best rank-p fit.

Builders take plain arguments (no Snakemake) and return annotated datasets with dims named by
physical parameters (``p``, ``pstar``, ``N``, ``eta_over_p``, ``noise``, ``seed``).
"""

from quadsgd.beyond._cases import ode_eta_opt_over_p

__all__ = ["ode_eta_opt_over_p"]
