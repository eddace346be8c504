"""Bad arguments to the builders of quadsgd.beyond: refused before any run, in one line naming the
argument, its value and what is allowed (docs/faults.md)."""

from __future__ import annotations

import pytest

from quadsgd.beyond import escape_law, eta_opt_sgd, narrow, noise, phase_diagram

_LAW = {"eta_over_p": 0.12, "N": [20, 40], "seeds": 2, "alpha_max": 5.0}
_SGD = {"eta_over_p_ode": 0.12, "seeds": 2, "start": (0.6, 1.2, 2), "refine_points": 1, "refine_rounds": 0,
        "alpha_max": 5.0}
_NARROW = {"N": 20, "seeds": 1, "eta_over_p": (0.01, 0.1, 2), "alpha_max": 10.0}
_NOISE = {"N": 20, "noise": [0.0], "eta_over_p": [0.1], "seeds": 2, "alpha_max": 2.0, "alpha_points": 4}
_PHASE = {"eta_over_p": (0.01, 1.0, 3), "N": 1000, "seeds": 1}

BAD = [
    # lists that become coordinates: empty, repeated, too short for what is fitted
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "N": []}), r"^N must hold at least 2 value\(s\); got \[\]"),
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "N": [20]}), r"^N must hold at least 2 value\(s\)"),
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "N": [20, 20]}), r"^N must not repeat a value; got \[20, 20"),
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "N": [2, 40]}), r"^N\[0\] must be an integer >= 3; got 2"),
    (lambda: escape_law.escape_law_dataset([], **{k: v for k, v in _LAW.items() if k != "eta_over_p"}),
     r"^cases must hold at least 1 value"),
    (lambda: escape_law.escape_law_dataset([(2, 1, 0.1), (2, 1, 0.2)], **{k: v for k, v in _LAW.items()
                                                                           if k != "eta_over_p"}),
     r"^cases must not repeat a value; got \[\(2, 1\), \(2, 1\)\]"),
    (lambda: escape_law.escape_law_dataset([(2, 1)], **{k: v for k, v in _LAW.items() if k != "eta_over_p"}),
     r"^cases\[0\] must be a triple \(p, pstar, eta_over_p\); got \(2, 1\)"),
    (lambda: narrow.narrow_dataset([], **_NARROW), r"^cases must hold at least 1 value"),
    (lambda: narrow.narrow_dataset([(1, 2), (1, 2)], **_NARROW), r"^cases must not repeat a value"),
    (lambda: narrow.narrow_dataset([(2, 2)], **_NARROW), r"^cases\[0\] must have p < pstar .*got \(2, 2\)"),
    (lambda: noise.noise_dataset(2, 1, **{**_NOISE, "noise": []}), r"^noise must hold at least 1 value"),
    (lambda: noise.noise_dataset(2, 1, **{**_NOISE, "eta_over_p": []}), r"^eta_over_p must hold at least 1 value"),
    (lambda: noise.noise_dataset(2, 1, **{**_NOISE, "noise": [0.1, 0.1]}), r"^noise must not repeat a value"),
    (lambda: noise.noise_dataset(2, 1, **{**_NOISE, "noise": 0.1}), r"^noise must be a list; got 0.1"),
    (lambda: phase_diagram.phase_diagram_dataset([], [1], **_PHASE), r"^p must hold at least 1 value"),
    (lambda: phase_diagram.phase_diagram_dataset([2, 2], [1], **_PHASE), r"^p must not repeat a value"),
    (lambda: eta_opt_sgd.eta_opt_sgd_dataset([(2, 1, 0.1)], [], **{k: v for k, v in _SGD.items()
                                                                   if k != "eta_over_p_ode"}),
     r"^N must hold at least 1 value"),
    # scalars: counts, fractions, ranges
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "bins": 0}), r"^bins must be an integer >= 1; got 0"),
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "bins": True}), r"^bins must be an integer >= 1; got True"),
    (lambda: escape_law.escape_law_case(2, 1, **{**_LAW, "seeds": 1}), r"^seeds must be an integer >= 2; got 1"),
    (lambda: escape_law.escape_law_case(2, 1, **_LAW, escape_fraction=2.0), r"^escape_fraction must be .*; got 2"),
    (lambda: phase_diagram.phase_diagram_dataset([2], [1], **{**_PHASE, "seeds": 0}), r"^seeds must be .* >= 1"),
    (lambda: phase_diagram.phase_diagram_dataset([8], [2], **{**_PHASE, "N": 5}),
     r"^N must be at least p \+ pstar = 10; got N=5"),
    (lambda: eta_opt_sgd.eta_opt_sgd_case(2, 1, 20, **{**_SGD, "seeds": 1}), r"^seeds must be an integer >= 2; got 1"),
    (lambda: eta_opt_sgd.eta_opt_sgd_case(2, 1, 20, **_SGD, learned_fraction=2.0),
     r"^learned_fraction must be .* < 1.0; got 2"),
    (lambda: eta_opt_sgd.eta_opt_sgd_case(2, 1, 20, **{**_SGD, "start": (1.2, 0.6, 2)}),
     r"^start must be \(min, max, num\) with min < max; got \(1.2, 0.6, 2\)"),
    (lambda: eta_opt_sgd.eta_opt_sgd_case(2, 1, 20, **{**_SGD, "eta_over_p_ode": float("nan")}),
     r"^eta_over_p_ode must be a finite number with 0.0 < eta_over_p_ode; got nan"),
]


@pytest.mark.parametrize("call, match", BAD)
def test_bad_builder_arguments_are_refused_in_one_line(call, match):
    with pytest.raises(ValueError, match=match) as err:
        call()
    assert "\n" not in str(err.value)
