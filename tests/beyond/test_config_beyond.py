"""A user's ``beyond:`` section that cannot give a result is refused by the config check, in the
project's one line ``config error: FILE: KEY: VALUE: allowed`` (docs/beyond.md, docs/faults.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quadsgd import config as qc
from quadsgd.beyond._cases import escape_threshold
from quadsgd.phase import eta_norm_blowup_edge
from quadsgd.stationary import stationary_risk

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _beyond(**section):
    return {"grid": {"p": [1, 2], "pstar": [1]}, "beyond": {"enabled": True, **section}}


@pytest.mark.parametrize("section, match", [
    # the phase diagram's runs need N >= p + pstar for its widest pair
    ({"phase": {"N": 5}}, r"beyond\.phase\.N: 5: must be at least max\(p\) \+ max\(pstar\) = 10"),
    # every noise run diverges beyond the norm blow-up edge
    ({"noise": {"eta_over_p": [0.1, 0.5]}}, r"beyond\.noise\.eta_over_p\[1\]: 0\.5: must be below 0\.2052, the norm "
                                            r"blow-up edge of \(p, pstar\) = \(2, 1\)"),
    # no plateau escape at all: an escape law of NaNs
    ({"escape_law": {"cases": [[2, 1]], "eta_over_p": 0.5}},
     r"beyond\.escape_law\.cases\[0\]: \[2, 1\]: no run can escape at beyond\.escape_law\.eta_over_p = 0\.5"),
    # the end state sits above the escape threshold: every escape time censored
    ({"escape_law": {"cases": [[2, 1], [1, 3]], "eta_over_p": 0.05}},
     r"beyond\.escape_law\.cases\[1\]: \[1, 3\]: at beyond\.escape_law\.eta_over_p = 0\.05 the end state's risk "
     r"0\.3951 is at or above the escape threshold 0\.3333"),
    ({"escape_law": {"cases": [[1, 2]], "eta_over_p": 0.12}}, r"beyond\.escape_law\.cases\[0\]: \[1, 2\]: .*censored"),
])
def test_beyond_sections_without_a_result_are_refused_in_one_line(section, match):
    with pytest.raises(qc.ConfigError, match=r"^config error: schema default: " + match) as err:
        qc.check_config(_beyond(**section), SCHEMA)
    assert "\n" not in str(err.value)


def test_refusals_sit_exactly_at_the_edges():
    # Independent of the messages: the numbers they quote, and acceptance just inside each edge.
    assert escape_threshold(1, 3, 0.5) == pytest.approx(1 / 3)
    assert float(stationary_risk(1, 3, 0.05)) > 1 / 3
    edge = eta_norm_blowup_edge(2, 1) / 2
    qc.check_config(_beyond(noise={"eta_over_p": [0.999 * edge]}), SCHEMA)
    with pytest.raises(qc.ConfigError):
        qc.check_config(_beyond(noise={"eta_over_p": [1.001 * edge]}), SCHEMA)
    qc.check_config(_beyond(escape_law={"cases": [[1, 2]], "eta_over_p": 0.1}), SCHEMA)  # below 0.107
    qc.check_config(_beyond(phase={"N": 10}), SCHEMA)
    # a disabled section is not checked
    qc.check_config({"grid": {"p": [1], "pstar": [1]}, "beyond": {"phase": {"N": 5}}}, SCHEMA)
