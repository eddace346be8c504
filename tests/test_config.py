"""quadsgd.config, the library side of the config checks: strict reading of files, the file that
set a key, one-line errors, estimates, and the ``python -m quadsgd.config`` checker (which also
names the line of an empty or unparsable file that Snakemake itself reads before the workflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quadsgd import config as qc

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_config_error_is_one_line_with_file_key_value_and_rule():
    err = qc.ConfigError("a.yaml", "grid.N", 1.5, "must be an integer")
    assert str(err) == "config error: a.yaml: grid.N: 1.5: must be an integer"
    assert isinstance(err, ValueError)


def test_load_file_refuses_duplicate_keys_in_yaml_and_json(tmp_path):
    (tmp_path / "d.yaml").write_text("a:\n  b: 1\n  c: [1, 2]\n  b: 2\n")
    with pytest.raises(qc.ConfigError, match=r"d\.yaml:4: a\.b: 2: key given twice in one mapping \(first at line 2"):
        qc.load_file(tmp_path / "d.yaml", "d.yaml")
    (tmp_path / "d.json").write_text('{"a": {"b": 1, "b": 2}}')
    with pytest.raises(qc.ConfigError, match=r"key given twice"):
        qc.load_file(tmp_path / "d.json", "d.json")
    (tmp_path / "ok.json").write_text(json.dumps({"grid": {"p": [1], "pstar": [1]}}))
    assert qc.load_file(tmp_path / "ok.json") == {"grid": {"p": [1], "pstar": [1]}}


@pytest.mark.parametrize("text,match", [
    ("", "empty config file"),
    ("# only a comment\n", "empty config file"),
    ("a: [1, 2\n", r"x\.yaml:2: not valid YAML"),
    ("3\n", r"\(top level\): 3: a config file must be a mapping"),
])
def test_load_file_names_file_and_line(tmp_path, text, match):
    (tmp_path / "x.yaml").write_text(text)
    with pytest.raises(qc.ConfigError, match=match):
        qc.load_file(tmp_path / "x.yaml", "x.yaml")


def test_load_file_missing(tmp_path):
    with pytest.raises(qc.ConfigError, match="cannot read the config file"):
        qc.load_file(tmp_path / "nope.yaml")


def test_file_of_is_the_last_layer_holding_the_key():
    srcs = qc.ConfigSources([("a", {"grid": {"N": 1, "p": [1]}}), ("b", {"grid": {"N": 2}})])
    assert srcs.file_of(("grid", "N")) == "b"
    assert srcs.file_of(("grid", "p", 0)) == "a"
    assert srcs.file_of(("grid", "seeds")) == "schema default"
    assert srcs.merged() == {"grid": {"N": 2, "p": [1]}}


def test_machine_memory_is_positive():
    assert qc.machine_memory_bytes() > 2**20


def test_check_config_fills_defaults_and_canonicalizes():
    cfg, warnings = qc.check_config({"grid": {"p": [1.0, 2], "pstar": [1]}}, SCHEMA)
    assert cfg["grid"]["p"] == [1, 2] and cfg["grid"]["N"] == 10000 and warnings == []
    assert cfg["resources"]["plot"] == {"threads": 1, "mem_mb": 2000, "runtime": 30}


def test_required_key_missing_is_named():
    with pytest.raises(qc.ConfigError, match=r"grid\.pstar: required key missing"):
        qc.check_config({"grid": {"p": [1]}}, SCHEMA)


def test_yaml_exponent_without_dot_gets_a_hint():
    with pytest.raises(qc.ConfigError, match=r"YAML reads 1e6 as a string"):
        qc.check_config({"grid": {"p": [1], "pstar": [1], "N": "1e6"}}, SCHEMA)


def test_slurm_cluster_kwargs_may_set_what_local_reserves():
    cfg = {"grid": {"p": [1], "pstar": [1]}, "dask": {"kind": "slurm", "cluster_kwargs": {"processes": 2}}}
    qc.check_config(cfg, SCHEMA)


def test_command_line_checker(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("grid: {p: [1, 2], pstar: [1]}\n")  # the README's complete config
    assert qc.main(["--schema", str(SCHEMA), str(good)]) == 0
    # Read over config/config.yaml, as the Snakefile does: its beyond section needs (2, 1) in the grid.
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text("grid: {p: [1], pstar: [1]}\n")
    assert qc.main(["--schema", str(SCHEMA), str(narrow)]) == 2
    assert "config.yaml: beyond.escape_law.cases[0]: [2, 1]" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {p: [1], pstar: [1]\n")
    assert qc.main(["--schema", str(SCHEMA), str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml:2: not valid YAML" in err[0]


# --- beyond the paper (issue 19): cross-key rules, one line naming file, key, value, allowed ----------


def _beyond(**section):
    return {"grid": {"p": [1, 2], "pstar": [1]}, "beyond": {"enabled": True, **section}}


@pytest.mark.parametrize("section, match", [
    ({"escape_law": {"cases": [[4, 2]]}},
     r"^config error: schema default: beyond\.escape_law\.cases\[0\]: \[4, 2\]: the ODE's eta_opt is read from the "
     r"sweep: \(p, pstar\) must be in grid\.p x grid\.pstar"),
    ({"eta_opt_sgd": {"cases": [[2, 1]], "N": [2]}}, r"beyond\.eta_opt_sgd\.N: 2: must be at least p \+ pstar = 3"),
    ({"narrow": {"cases": [[2, 2]]}}, r"beyond\.narrow\.cases\[0\]: \[2, 2\]: a narrow student needs p < pstar"),
    ({"phase": {"eta_over_p": {"min": 0.5, "max": 0.1}}},
     r"beyond\.phase\.eta_over_p\.min: 0\.5: must be below beyond\.phase\.eta_over_p\.max = 0\.1"),
    ({"noise": {"noise": [-0.1]}}, r"beyond\.noise\.noise\[0\]: -0\.1: must be >= 0"),
    ({"escape_law": {"seeds": 1}}, r"beyond\.escape_law\.seeds: 1: must be >= 2"),
    ({"escape_law": {"bogus": 1}},
     r"beyond\.escape_law\.bogus: 1: unknown key; allowed keys here: N, alpha_max, bins, cases, eta_over_p, seeds$"),
])
def test_beyond_section_refusals_are_one_line(section, match):
    with pytest.raises(qc.ConfigError, match=match) as err:
        qc.check_config(_beyond(**section), SCHEMA)
    assert "\n" not in str(err.value)


def test_beyond_is_off_by_default_and_case_checks_apply_only_when_on():
    cfg, _ = qc.check_config({"grid": {"p": [1], "pstar": [1]}}, SCHEMA)
    assert cfg["beyond"]["enabled"] is False and cfg["beyond"]["escape_law"]["cases"] == [[2, 1]]
    qc.check_config(_beyond(escape_law={"cases": [[4, 2]], "eta_over_p": 0.1},
                            eta_opt_sgd={"cases": [[2, 1]]}), SCHEMA)


def test_beyond_refusal_names_the_file_that_set_the_key(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("grid: {p: [1, 2], pstar: [1]}\nbeyond: {enabled: true, narrow: {cases: [[3, 3]]}}\n")
    srcs = qc.sources([f])
    with pytest.raises(qc.ConfigError, match=r"^config error: .*c\.yaml: beyond\.narrow\.cases\[0\]: \[3, 3\]"):
        qc.check_config(srcs.merged(), SCHEMA, srcs)
