"""Provenance: the fingerprint of the numerics-relevant config and the results-directory check."""

from __future__ import annotations

import copy
import json

import pytest

from quadsgd import __version__
from quadsgd.provenance import (
    FINGERPRINT_FILE,
    canonical,
    check_results_fingerprint,
    config_attrs,
    config_fingerprint,
    fingerprint_sections,
)


def test_canonical_numbers():
    assert canonical({"a": 300, "b": [1, 2.0], "c": True, "d": None, "e": "x"}) == {
        "a": 300.0, "b": [1.0, 2.0], "c": True, "d": None, "e": "x"}


def test_fingerprint_ignores_what_does_not_change_numbers(test_config):
    fp = config_fingerprint(test_config)
    same = copy.deepcopy(test_config)
    same["grid"]["alpha_max"] = float(same["grid"]["alpha_max"])
    same["jobs"]["points_per_task"] = 99
    same["dask"] = {"kind": "slurm"}
    same["resources"] = {}
    same["landscape"]["enabled"] = not same["landscape"]["enabled"]
    assert config_fingerprint(same) == fp
    assert "dask" not in fingerprint_sections(same)
    for edit in (lambda c: c.update(escape_fraction=0.4), lambda c: c["grid"].update(seeds=3),
                 lambda c: c["refine"].update(points=5), lambda c: c["jobs"].update(points_per_job=1)):
        other = copy.deepcopy(test_config)
        edit(other)
        assert config_fingerprint(other) != fp


def test_config_attrs(test_config):
    attrs = config_attrs(test_config)
    assert json.loads(attrs["config"]) == json.loads(json.dumps(test_config, default=str))
    assert attrs["quadsgd_version"] == __version__


def test_results_directory_check(tmp_path, test_config):
    results = tmp_path / "results"
    assert check_results_fingerprint(test_config, results) == config_fingerprint(test_config)
    assert not (results / FINGERPRINT_FILE).exists()  # recorded only on request
    check_results_fingerprint(test_config, results, record=True)
    assert json.loads((results / FINGERPRINT_FILE).read_text())["fingerprint"] == config_fingerprint(test_config)
    check_results_fingerprint(test_config, results)  # the same config passes
    other = copy.deepcopy(test_config)
    other["grid"]["seeds"] = 3
    with pytest.raises(ValueError, match="differing config sections: grid"):
        check_results_fingerprint(other, results)
    (results / FINGERPRINT_FILE).write_text("garbage")
    with pytest.raises(ValueError, match="unreadable config fingerprint"):
        check_results_fingerprint(test_config, results)
