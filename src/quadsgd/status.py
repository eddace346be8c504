"""Status codes of a trajectory, stored as ``int8`` with CF ``flag_values``/``flag_meanings``."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Status", "STATUS_ATTRS"]


class Status(enum.IntEnum):
    """Fate of one trajectory (ODE member or SGD run)."""

    CONVERGED = 0  #: escaped, then stopped at zero risk or at a fixed point
    ESCAPED = 1  #: crossed the escape threshold, still moving at alpha_max
    CENSORED = 2  #: never crossed the escape threshold by alpha_max
    DIVERGED = 3  #: overlaps blew up (non-finite, or trace(Q) beyond the bound)


STATUS_ATTRS: dict[str, Any] = {
    "long_name": "trajectory status",
    "units": "1",
    "flag_values": [int(s) for s in Status],
    "flag_meanings": " ".join(s.name.lower() for s in Status),
}
