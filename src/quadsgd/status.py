"""Status codes of a trajectory, stored as ``int8`` with CF ``flag_values``/``flag_meanings``."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Status", "STATUS_ATTRS", "LEARNED", "CROSSED"]


class Status(enum.IntEnum):
    """Fate of one trajectory (ODE member or SGD run); docs/conventions.md section 5.5.

    Codes 0-3 keep their stored numbers; CONVERGED means zero error only (stores written before
    issue 15 also used it for a stop at a finite-risk fixed point, which is now SETTLED). The ODE decides
    SETTLED/ESCAPED as documented in :func:`quadsgd.ode.integrate`; finite-N SGD never reports
    SETTLED or MAX_STEPS.
    """

    CONVERGED = 0  #: reached zero error: the risk fell below the risk floor
    ESCAPED = 1  #: crossed the escape threshold; at alpha_max still descending towards zero error
    CENSORED = 2  #: never crossed the escape threshold by alpha_max
    DIVERGED = 3  #: overlaps blew up (non-finite, or trace(Q) beyond the bound)
    SETTLED = 4  #: crossed the escape threshold, then stopped at a finite risk (a fixed point above the floor)
    MAX_STEPS = 5  #: the integrator's step budget ran out before alpha_max (later points NaN)


#: Statuses of a run that learned: reached zero error, or still descending towards it at alpha_max
#: (for p > p* the last approach is algebraic, risk ~ alpha^-2; docs/science.md "Escaped is not learned").
LEARNED: tuple[Status, ...] = (Status.CONVERGED, Status.ESCAPED)

#: Statuses of a run that crossed the escape threshold (whatever happened next, short of diverging).
CROSSED: tuple[Status, ...] = (Status.CONVERGED, Status.ESCAPED, Status.SETTLED)


STATUS_ATTRS: dict[str, Any] = {
    "long_name": "trajectory status",
    "units": "1",
    "flag_values": [int(s) for s in Status],
    "flag_meanings": " ".join(s.name.lower() for s in Status),
}
