"""Every config the schema accepts gets every default of the schema, from one place.

Snakemake's ``validate`` fills a property's default only where the property itself carries one;
a property given as a bare ``$ref`` got nothing, so a config holding only the required ``grid``
section validated and then failed in a rule file. The walk below resolves ``$ref`` itself, so
it checks the schema independently of how Snakemake fills defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _missing_defaults(config: dict[str, Any], node: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    node = _resolve(node, schema)
    missing = []
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(sub, schema)
        if key not in config:
            if "default" in sub:
                missing.append(f"{where}{key}")
            continue
        if isinstance(config[key], dict) and sub.get("type") == "object":
            missing += _missing_defaults(config[key], sub, schema, f"{where}{key}.")
    return missing


@pytest.mark.parametrize("config", [
    {"grid": {"p": [1, 2], "pstar": [1]}},
    {"grid": {"p": [1], "pstar": [1]}, "resources": {}},
    {"grid": {"p": [1], "pstar": [1]}, "resources": {"plot": {"threads": 1}}},
])
def test_validated_config_has_every_default(config):
    from snakemake.utils import validate

    schema = yaml.safe_load(SCHEMA.read_text())
    validate(config, str(SCHEMA))
    assert _missing_defaults(config, schema, schema, "") == []
    # The rule files read these directly.
    for section in ("simulate", "refine", "sgd", "implicit_bias", "aggregate", "landscape", "empirical", "plot"):
        assert {"threads", "mem_mb", "runtime"} <= set(config["resources"][section])


def test_every_list_refuses_repeated_values():
    """A repeated value in any list (e.g. empirical.alphas) was a pandas InvalidIndexError in a job."""
    schema = yaml.safe_load(SCHEMA.read_text())
    lists: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            node = _resolve(node, schema)
            if node.get("type") == "array":
                lists.append(where)
                assert node.get("uniqueItems") is True, f"{where}: list without uniqueItems"
            for key, sub in node.get("properties", {}).items():
                walk(sub, f"{where}.{key}".lstrip("."))
            for sub in node.get("$defs", {}).values():
                walk(sub, where + "($defs)")

    walk(schema, "")
    assert {"grid.p", "empirical.alphas", "empirical.flow_cases", "sgd.N"} <= set(lists)
