"""Provenance of the pipeline's stores: the configuration that made them, and its fingerprint.

One results directory holds the stores of one configuration. The fingerprint hashes the config
sections that determine stored numbers (Dask settings, resources and task sizes do not), with
numbers in one canonical form so that ``300`` and ``300.0`` are one setting.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quadsgd import __version__

__all__ = [
    "config_attrs",
    "canonical",
    "fingerprint_sections",
    "config_fingerprint",
    "check_results_fingerprint",
    "FINGERPRINT_SECTIONS",
    "FINGERPRINT_FILE",
]

#: Config sections that determine stored numbers; Dask, resources and the task size do not.
FINGERPRINT_SECTIONS = ("grid", "escape_fraction", "jobs", "refine", "sgd", "implicit_bias", "landscape", "empirical")
#: Where a results directory records the fingerprint of the configuration that filled it.
FINGERPRINT_FILE = ".config_fingerprint"


def config_attrs(config: Mapping[str, Any]) -> dict[str, str]:
    """Provenance attributes: the run's configuration (as JSON) and the package version."""
    return {"config": json.dumps(config, sort_keys=True, default=str), "quadsgd_version": __version__}


def canonical(value: Any) -> Any:
    """One spelling per number: whole numbers as ``int`` (``300.0`` -> ``300``), others as
    ``float``; containers recursively, mapping keys as strings.

    The pipeline applies it to the validated config, so the jobs' params (which Snakemake
    compares to decide what to rerun) and the fingerprint do not depend on how a number is
    written in the YAML file.
    """
    import numpy as np

    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def fingerprint_sections(config: Mapping[str, Any]) -> dict[str, Any]:
    """The numerics-relevant part of a (validated) config: :data:`FINGERPRINT_SECTIONS`, without
    ``jobs.points_per_task`` and the stages' ``enabled`` switches."""
    out: dict[str, Any] = {}
    for key in FINGERPRINT_SECTIONS:
        if key not in config:
            continue
        value = config[key]
        if key == "jobs":
            value = {"points_per_job": value.get("points_per_job")}
        elif isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != "enabled"}
        out[key] = canonical(value)
    return out


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """Hash (16 hex digits) of :func:`fingerprint_sections`: equal iff the stored numbers agree."""
    text = json.dumps(fingerprint_sections(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_results_fingerprint(config: Mapping[str, Any], results: str | Path = "results", *,
                              record: bool = False) -> str:
    """Refuse a results directory filled under a different configuration; optionally record ours.

    ``results/.config_fingerprint`` (JSON: fingerprint and the sections it hashes) is written by
    the first run that computes anything there. Raises ``ValueError`` naming the differing
    sections and how to proceed when it holds another fingerprint. Returns the fingerprint.
    """
    results = Path(results)
    path = results / FINGERPRINT_FILE
    ours = config_fingerprint(config)
    sections = fingerprint_sections(config)
    if path.exists():
        try:
            recorded = json.loads(path.read_text())
            theirs, their_sections = str(recorded["fingerprint"]), dict(recorded.get("sections", {}))
        except (ValueError, KeyError, TypeError, OSError) as err:
            raise ValueError(f"{path}: unreadable config fingerprint ({err}); delete it only if every store "
                             f"in {results}/ comes from this configuration") from err
        if theirs != ours:
            differ = sorted(k for k in set(sections) | set(their_sections)
                            if sections.get(k) != their_sections.get(k)) or ["(unknown)"]
            raise ValueError(
                f"{results}/ holds stores from a different configuration (config fingerprint {theirs} in "
                f"{path}, this run's is {ours}; differing config sections: {', '.join(differ)}). Refusing to mix "
                f"them: run this configuration in its own directory (from the repository root: snakemake --cores 2 "
                f"--configfile YOUR_CONFIG.yaml --directory OTHER_DIR) or delete {results}/ (and .snakemake/) "
                f"to start over."
            )
    elif record:
        results.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"fingerprint": ours, "sections": sections}, sort_keys=True, indent=1) + "\n")
        os.replace(tmp, path)
    return ours
