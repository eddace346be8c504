"""Checks of the pipeline's configuration, all before any job runs.

The workflow (``workflow/rules/common.smk``) hands over the merged config dict, the schema path and
the files it came from; nothing here knows about Snakemake. Every refusal is a :class:`ConfigError`
whose message is one line::

    config error: <file>: <key>: <value>: <what is allowed>

naming the file that set the key (the last config file that holds it; ``--config`` for a value
given on the command line; ``schema default`` for a default). Order of the checks:

1. each config file is read again with a loader that refuses duplicate keys, empty files and
   non-mappings (:func:`load_file`);
2. NaN and infinities anywhere (JSON Schema's ``number`` lets them through);
3. the JSON schema (defaults filled in as Snakemake's ``validate`` does), one line per refusal:
   the most relevant error (``jsonschema.exceptions.best_match``), never a dump of the schema;
4. numbers in one spelling (:func:`quadsgd.provenance.canonical`: ``1000.0`` is the integer 1000);
5. cross-key rules the schema cannot express (:func:`cross_checks`);
6. estimated memory and time of the jobs (:func:`estimates`): beyond the machine's memory is
   refused, a job estimated to run longer than :data:`WARN_SECONDS` gives a warning.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quadsgd.provenance import canonical

__all__ = [
    "ConfigError",
    "ConfigSources",
    "load_file",
    "sources",
    "check_config",
    "cross_checks",
    "estimates",
    "machine_memory_bytes",
    "MAX_PARTS",
    "RESERVED_CLUSTER_KWARGS",
    "SGD_SECONDS_PER_SAMPLE",
    "WARN_SECONDS",
]

#: Jobs per (p, pstar) of the ODE sweep: the part index of a file name has three digits.
MAX_PARTS = 1000
#: Arguments of ``LocalCluster`` that :func:`quadsgd.sweep.execute.dask_client` sets itself.
RESERVED_CLUSTER_KWARGS = ("n_workers", "threads_per_worker", "processes", "local_directory", "memory_limit",
                           "dashboard_address")
#: Measured cost of one Gram-chain SGD sample (docs/performance.md), low and high end.
SGD_SECONDS_PER_SAMPLE = (1e-7, 2e-7)
#: A job estimated to run longer than this (one core per task) gives a warning.
WARN_SECONDS = 3600.0
#: Copies of a job's result held at once (the arrays, the Dataset, the write buffers).
_COPIES = 3
#: The Gram chain counts samples in int64.
_MAX_SAMPLES = 2**62


class ConfigError(ValueError):
    """A configuration refused before any job runs; the message is one line."""

    def __init__(self, file: str, key: str, value: Any, allowed: str, *, show_value: bool = True):
        self.file, self.key, self.value, self.allowed = file, key, value, allowed
        parts = [file, key] + ([_short_repr(value)] if show_value else []) + [allowed]
        super().__init__("config error: " + ": ".join(p for p in parts if p != ""))



#: The workflow's schema in a source checkout (the package is installed from it, editable).
DEFAULT_SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
#: The defaults the Snakefile always reads first, under any ``--configfile``.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"

def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


# --- reading config files -------------------------------------------------------------------------


def _duplicate_keys(node: yaml.Node | None, file: str, path: tuple[str, ...] = ()) -> None:
    """Refuse a key given twice in one mapping of a composed YAML document (PyYAML, like
    Snakemake's loader, silently keeps the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key in seen and key != "<<":
                value = yaml.safe_load(yaml.serialize(value_node))
                raise ConfigError(
                    f"{file}:{key_node.start_mark.line + 1}", _key(path + (key,)), value,
                    f"key given twice in one mapping (first at line {seen[key].start_mark.line + 1}; "
                    f"the last would silently win): give each key once")
            seen[key] = key_node
            _duplicate_keys(value_node, file, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_keys(item, file, path + (str(i),))


def _json_pairs(file: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise ConfigError(file, k, v, "key given twice in one mapping (the last would silently win): "
                                              "give each key once")
            out[k] = v
        return out
    return hook


def load_file(path: str | os.PathLike[str], name: str | None = None) -> dict[str, Any]:
    """A config file (JSON or YAML) as a dict; :class:`ConfigError` if it cannot be read, is not
    valid JSON/YAML (with the line), is empty or not a mapping, or gives a key twice in a mapping."""
    name = name or _display(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(name, "", None, f"cannot read the config file ({err})", show_value=False) from None
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs(name))
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        try:
            _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), name)
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as yaml_err:
            mark = yaml_err.problem_mark or yaml_err.context_mark
            where = f"{name}:{mark.line + 1}" if mark is not None else name
            problem = " ".join(str(x) for x in (yaml_err.context, yaml_err.problem) if x)
            raise ConfigError(where, "", None, f"not valid YAML ({problem}); in YAML, indent with spaces only",
                              show_value=False) from None
        except yaml.YAMLError as yaml_err:
            raise ConfigError(name, "", None, f"not valid YAML ({yaml_err})", show_value=False) from None
    if data is None:
        raise ConfigError(name, "", None, "empty config file: it must be a mapping of config sections, "
                                          "e.g. 'grid: {p: [1, 2], pstar: [1]}'", show_value=False)
    if not isinstance(data, dict):
        raise ConfigError(name, "(top level)", data, "a config file must be a mapping of config sections "
                                                     "(key: value lines), not a single value or a list")
    return data


def _display(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it lies below it."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


@dataclass
class ConfigSources:
    """Where the values of a merged config come from: ``(name, mapping)`` layers, later ones win."""

    layers: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    default_name: str = "schema default"

    def file_of(self, path: Sequence[Any]) -> str:
        """The layer that set ``path`` (the last one holding it; list indices are ignored), else
        the schema default (a value filled in by the schema); the top level is the last layer."""
        cut = next((i for i, k in enumerate(path) if isinstance(k, int)), len(path))
        keys = list(path[:cut])
        if not keys:
            return self.layers[-1][0] if self.layers else self.default_name
        for name, layer in reversed(self.layers):
            node: Any = layer
            for k in keys:
                if not isinstance(node, Mapping) or k not in node:
                    break
                node = node[k]
            else:
                return name
        return self.default_name

    def merged(self) -> dict[str, Any]:
        """The layers merged as Snakemake merges config files (mappings recursively, later wins)."""
        out: dict[str, Any] = {}
        for _name, layer in self.layers:
            _update(out, layer)
        return out


def sources(files: Sequence[str | os.PathLike[str]], overrides: Mapping[str, Any] | None = None) -> ConfigSources:
    """Read every config file strictly (:func:`load_file`), in order of precedence (later wins);
    ``overrides`` (values given on the command line) win over all files."""
    layers: list[tuple[str, Mapping[str, Any]]] = [(_display(f), load_file(f)) for f in files]
    if overrides:
        layers.append(("--config", dict(overrides)))
    return ConfigSources(layers)


# --- the checks -----------------------------------------------------------------------------------


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], float]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _non_finite(v, path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _non_finite(v, path + (i,))


def _load_schema(schema: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(schema, Mapping):
        return copy.deepcopy(dict(schema))
    return yaml.safe_load(Path(schema).read_text(encoding="utf-8"))


def _validator(schema: dict[str, Any]):
    """Draft 2020-12 with defaults filled in where a property carries one (as Snakemake's
    ``validate`` does; a bare ``$ref`` gets none)."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    cls = validators.extend(Draft202012Validator, {"properties": set_defaults})
    return cls(schema)


_TYPES = {"integer": "an integer (a whole number such as 2 or 2.0)", "number": "a number",
          "string": "a string", "boolean": "true or false", "object": "a mapping", "array": "a list",
          "null": "null"}


def _allowed(error) -> str:
    v, val = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if v == "type":
        types = [val] if isinstance(val, str) else list(val)
        hint = ""
        if isinstance(error.instance, str) and {"integer", "number"} & set(types):
            try:
                float(error.instance)
                hint = f" (YAML reads {error.instance} as a string: write a dot and a signed exponent, e.g. 1.0e+6)"
            except ValueError:
                pass
        return "must be " + " or ".join(_TYPES.get(t, t) for t in types) + hint
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        bounds = [f"{o} {schema[k]}" for k, o in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                  ("maximum", "<="), ("exclusiveMaximum", "<")) if k in schema]
        return "must be " + " and ".join(bounds or [f"{op} {val}"])
    if v == "enum":
        return "must be one of " + ", ".join(repr(x) for x in val)
    if v == "uniqueItems":
        return "must not repeat a value (each value once)"
    if v == "minItems":
        return f"must hold at least {val} item(s)"
    if v == "maxItems":
        return f"must hold at most {val} item(s)"
    if v == "required":
        return "required key missing"
    if v == "additionalProperties":
        return "unknown key; allowed keys here: " + ", ".join(sorted(schema.get("properties", {})))
    return error.message.splitlines()[0]


def _schema_error(error, srcs: ConfigSources) -> ConfigError:
    path = list(error.absolute_path)
    value = error.instance
    if error.validator == "additionalProperties" and isinstance(value, Mapping):
        known = set(error.schema.get("properties", {}))
        extra = sorted((k for k in value if k not in known), key=str)
        if extra:
            path.append(extra[0])
            value = value[extra[0]]
    elif error.validator == "required" and isinstance(value, Mapping):
        missing = [k for k in error.validator_value if k not in value]
        if missing:
            where = srcs.file_of(path)
            path.append(missing[0])
            return ConfigError(where, _key(path), None, "required key missing", show_value=False)
    return ConfigError(srcs.file_of(path), _key(path), value, _allowed(error))


def check_config(
    config: Mapping[str, Any],
    schema: str | os.PathLike[str] | Mapping[str, Any],
    srcs: ConfigSources | None = None,
    *,
    memory_bytes: int | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The validated config (defaults filled, numbers canonical) and warnings (one line each).

    Raises :class:`ConfigError` (one line: file, key, value, what is allowed) for the first
    problem found; see the module docstring for the order of the checks. ``memory_bytes`` is the
    machine's memory (default :func:`machine_memory_bytes`).
    """
    from jsonschema.exceptions import best_match

    srcs = srcs or ConfigSources()
    for path, value in _non_finite(config):
        raise ConfigError(srcs.file_of(path), _key(path), value, "must be a finite number (no NaN or infinity)")
    cfg = copy.deepcopy(dict(config))
    validator = _validator(_load_schema(schema))
    error = best_match(validator.iter_errors(cfg))
    if error is not None:
        raise _schema_error(error, srcs)
    cfg = canonical(cfg)
    cross_checks(cfg, srcs)
    warnings = estimates(cfg, srcs, memory_bytes=memory_bytes)
    return cfg, warnings


def cross_checks(cfg: Mapping[str, Any], srcs: ConfigSources | None = None) -> None:
    """Rules between keys that JSON Schema cannot express (on a validated, canonical config)."""
    from quadsgd.grids import log_alpha_grid
    from quadsgd.sweep.plan import eta_blocks

    srcs = srcs or ConfigSources()

    def fail(path: Sequence[Any], value: Any, allowed: str) -> None:
        raise ConfigError(srcs.file_of(path), _key(path), value, allowed)

    grid = cfg["grid"]
    eop = grid["eta_over_p"]
    if eop["min"] >= eop["max"]:
        fail(("grid", "eta_over_p", "min"), eop["min"], f"must be below grid.eta_over_p.max = {eop['max']}")
    for section in ("grid", "implicit_bias"):  # recording grids 0, 0.01, ..., alpha_max must increase
        try:
            log_alpha_grid(cfg[section]["alpha_max"], cfg[section]["alpha_points"])
        except ValueError as err:
            fail((section, "alpha_max"), cfg[section]["alpha_max"], f"no increasing alpha grid ({err})")
    for section, ps, pss, Ns in (
        ("grid", grid["p"], grid["pstar"], [grid["N"]]),
        ("sgd", cfg["sgd"]["p"], cfg["sgd"]["pstar"], cfg["sgd"]["N"]),
        ("implicit_bias", [cfg["implicit_bias"]["p"]], [cfg["implicit_bias"]["pstar"]], [cfg["implicit_bias"]["N"]]),
    ):
        if min(Ns) < max(ps) + max(pss):
            value = min(Ns) if section == "sgd" else Ns[0]
            fail((section, "N"), value, f"must be at least p + pstar = {max(ps) + max(pss)}")
    ib = cfg["implicit_bias"]
    if ib["p"] < ib["pstar"]:
        fail(("implicit_bias", "p"), ib["p"], f"the zero-error manifold needs p >= pstar = {ib['pstar']}")
    sgd = cfg["sgd"]
    for N in sgd["N"]:
        if sgd["alpha_max"] * N < 1:
            fail(("sgd", "alpha_max"), sgd["alpha_max"], f"alpha_max * N must be at least one sample (N = {N})")
        if sgd["alpha_max"] * N > _MAX_SAMPLES:
            fail(("sgd", "N"), N, f"alpha_max * N = {sgd['alpha_max'] * N:.3g} samples; at most 2**62")
    # The ODE sweep's jobs per (p, pstar): file names carry a three-digit part index.
    n_parts = len(eta_blocks(eop["num"], grid["seeds"], cfg["jobs"]["points_per_job"]))
    if n_parts > MAX_PARTS:
        per_job = max(1, cfg["jobs"]["points_per_job"] // grid["seeds"])
        fail(("grid", "eta_over_p", "num"), eop["num"],
             f"gives {n_parts} jobs per (p, pstar); at most {MAX_PARTS} (three-digit part index): with "
             f"grid.seeds = {grid['seeds']} and jobs.points_per_job = {cfg['jobs']['points_per_job']} "
             f"({per_job} learning rate(s) per job) num must be <= {MAX_PARTS * per_job}; or raise "
             f"jobs.points_per_job")
    emp = cfg["empirical"]
    if emp["enabled"]:
        # The student is as wide as the input (m = d) and must be at least as wide as the teacher.
        for i, (d, mstar, _teacher) in enumerate(emp["flow_cases"]):
            if d < mstar:
                fail(("empirical", "flow_cases", i), [d, mstar, _teacher],
                     "needs m* <= d (the student, of width m = d, at least as wide as the teacher)")
        if min(emp["d"]) < max(emp["mstar"]):
            fail(("empirical", "mstar"), emp["mstar"],
                 f"every m* must be <= every d (student width m = d >= m*); smallest d is {min(emp['d'])}")
    if cfg["beyond"]["enabled"]:
        _beyond_checks(cfg, fail)
    dask = cfg["dask"]
    if dask["kind"] == "local":
        for name in RESERVED_CLUSTER_KWARGS:
            if name in dask["cluster_kwargs"]:
                fail(("dask", "cluster_kwargs", name), dask["cluster_kwargs"][name],
                     "set by quadsgd itself for a local cluster (workers = the rule's threads; use dask.processes "
                     f"and resources.*.threads); not allowed in cluster_kwargs: {', '.join(RESERVED_CLUSTER_KWARGS)}")


def _beyond_checks(cfg: Mapping[str, Any], fail: Any) -> None:
    """Cross-key rules of the ``beyond`` section (docs/beyond.md)."""
    bey, grid = cfg["beyond"], cfg["grid"]
    swept = {(p, s) for p in grid["p"] for s in grid["pstar"]}
    for part in ("escape_law", "eta_opt_sgd"):
        sec = bey[part]
        for i, (p, s) in enumerate(sec["cases"]):
            if sec.get("eta_over_p") is None and (p, s) not in swept:
                fail(("beyond", part, "cases", i), [p, s],
                     "the ODE's eta_opt is read from the sweep: (p, pstar) must be in grid.p x grid.pstar "
                     f"(p in {grid['p']}, pstar in {grid['pstar']})"
                     + ("; or give beyond.escape_law.eta_over_p" if part == "escape_law" else ""))
            if min(sec["N"]) < p + s:
                fail(("beyond", part, "N"), min(sec["N"]), f"must be at least p + pstar = {p + s} (case {[p, s]})")
        if sec["alpha_max"] * max(sec["N"]) > _MAX_SAMPLES:
            fail(("beyond", part, "alpha_max"), sec["alpha_max"], "alpha_max * N must be at most 2**62 samples")
    for path, rng in ((("beyond", "eta_opt_sgd", "start"), bey["eta_opt_sgd"]["start"]),
                      (("beyond", "phase", "eta_over_p"), bey["phase"]["eta_over_p"]),
                      (("beyond", "narrow", "eta_over_p"), bey["narrow"]["eta_over_p"])):
        if rng["min"] >= rng["max"]:
            fail((*path, "min"), rng["min"], f"must be below {'.'.join(path)}.max = {rng['max']}")
    from quadsgd.beyond._cases import censored_by_threshold, escape_threshold
    from quadsgd.phase import escape_law_slope, eta_norm_blowup_edge
    from quadsgd.stationary import stationary_risk

    law = bey["escape_law"]
    for i, (p, s) in enumerate(law["cases"] if law["eta_over_p"] is not None else []):
        eta = p * law["eta_over_p"]
        if not math.isfinite(float(escape_law_slope(p, s, eta, finite_eta=True))):
            fail(("beyond", "escape_law", "cases", i), [p, s],
                 f"no run can escape at beyond.escape_law.eta_over_p = {law['eta_over_p']} (no plateau, or its "
                 f"escape rate <= 0, from eta/p = {_first_trapped(p, s):.4g}); choose a smaller eta_over_p")
        if censored_by_threshold(p, s, eta, 0.0, cfg["escape_fraction"]):
            fail(("beyond", "escape_law", "cases", i), [p, s],
                 f"at beyond.escape_law.eta_over_p = {law['eta_over_p']} the end state's risk "
                 f"{float(stationary_risk(p, s, eta)):.4g} is at or above the escape threshold "
                 f"{escape_threshold(p, s, cfg['escape_fraction']):.4g}: no run can cross it (every escape time "
                 "censored); choose another case or a smaller eta_over_p")
    phase = bey["phase"]
    if phase["N"] < max(phase["p"]) + max(phase["pstar"]):
        fail(("beyond", "phase", "N"), phase["N"], f"must be at least max(p) + max(pstar) = "
             f"{max(phase['p']) + max(phase['pstar'])}")
    noise = bey["noise"]
    if noise["N"] < noise["p"] + noise["pstar"]:
        fail(("beyond", "noise", "N"), noise["N"], f"must be at least p + pstar = {noise['p'] + noise['pstar']}")
    blowup = eta_norm_blowup_edge(noise["p"], noise["pstar"]) / noise["p"]
    for i, e in enumerate(noise["eta_over_p"]):
        if e >= blowup:
            fail(("beyond", "noise", "eta_over_p", i), e,
                 f"must be below {blowup:.4g}, the norm blow-up edge of (p, pstar) = "
                 f"({noise['p']}, {noise['pstar']}) (every run diverges beyond it, noise only adds to it)")
    for i, (p, s) in enumerate(bey["narrow"]["cases"]):
        if p >= s:
            fail(("beyond", "narrow", "cases", i), [p, s], "a narrow student needs p < pstar")
        if bey["narrow"]["N"] < p + s:
            fail(("beyond", "narrow", "N"), bey["narrow"]["N"], f"must be at least p + pstar = {p + s}")


def _first_trapped(p: int, pstar: int) -> float:
    """``eta / p`` from which the plateau of ``(p, pstar)`` stops escaping (trap or plateau edge)."""
    from quadsgd.phase import eta_plateau_edge, eta_plateau_trap_edge

    edges = [eta_plateau_edge(p, pstar), eta_plateau_trap_edge(p, pstar)]
    return min(e for e in edges if math.isfinite(e)) / p


def machine_memory_bytes() -> int:
    """Total memory of this machine (psutil if installed, else ``os.sysconf``)."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001 - psutil is optional
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return 2**63


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.2g} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.2g} h"
    return f"{seconds / 86400:.3g} days"


def estimates(cfg: Mapping[str, Any], srcs: ConfigSources | None = None, *,
              memory_bytes: int | None = None) -> list[str]:
    """Estimated peak memory per job (refused beyond the machine's memory) and SGD run time
    (a warning beyond :data:`WARN_SECONDS`). Returns the warnings, one line each.

    Memory (bytes, :data:`_COPIES` copies held at once): an ODE sweep job keeps the risk on the
    recording grid, ``members x alpha_points x 8``, plus final overlaps; the aggregated sweep holds
    every job's; the SGD and implicit-bias jobs keep trajectories ``Q, M`` on their grids; a
    landscape job a dense Hessian of side ``p N``. Time: a Gram-chain SGD sample costs
    :data:`SGD_SECONDS_PER_SAMPLE`, ``alpha_max x N`` samples per seed, one seed per core.
    """
    srcs = srcs or ConfigSources()
    machine = machine_memory_bytes() if memory_bytes is None else int(memory_bytes)
    res = cfg["resources"]
    grid, sgd, ib, land = cfg["grid"], cfg["sgd"], cfg["implicit_bias"], cfg["landscape"]
    p, s = max(grid["p"]), max(grid["pstar"])
    per_member = 8 * (grid["alpha_points"] + p * p + p * s + 8)
    # A scan job packs whole learning rates of one or more (p, pstar) up to points_per_job points.
    members_per_job = min(len(grid["p"]) * len(grid["pstar"]) * grid["eta_over_p"]["num"] * grid["seeds"],
                          max(cfg["jobs"]["points_per_job"], grid["seeds"]))
    sp, ss = max(sgd["p"]), max(sgd["pstar"])
    checks: list[tuple[str, str, float, dict[tuple[str, ...], float], str]] = [
        # (rule, resources key, bytes, {key: factor}, formula)
        ("simulate_ode", "simulate", _COPIES * members_per_job * per_member,
         {("grid", "seeds"): grid["seeds"], ("grid", "alpha_points"): grid["alpha_points"],
          ("jobs", "points_per_job"): cfg["jobs"]["points_per_job"]},
         "(learning rate, seed) points per job x (alpha_points + p^2 + p pstar) x 8 bytes"),
        ("aggregate_sweep", "aggregate",
         _COPIES * len(grid["p"]) * len(grid["pstar"]) * grid["eta_over_p"]["num"] * grid["seeds"] * per_member,
         {("grid", "seeds"): grid["seeds"], ("grid", "alpha_points"): grid["alpha_points"],
          ("grid", "eta_over_p", "num"): grid["eta_over_p"]["num"]},
         "(p, pstar) cases x learning rates x seeds x (alpha_points + p^2 + p pstar) x 8 bytes"),
        ("simulate_sgd", "sgd", _COPIES * 2 * sgd["seeds"] * sgd["alpha_points"] * 8 * (2 * sp * sp + 2 * sp * ss + 4),
         {("sgd", "seeds"): sgd["seeds"], ("sgd", "alpha_points"): sgd["alpha_points"]},
         "2 dynamics x seeds x alpha_points x (p^2 + p pstar) x 8 bytes"),
        ("implicit_bias", "implicit_bias",
         _COPIES * 4 * ib["seeds"] * ib["alpha_points"] * 8 * (ib["p"] ** 2 + ib["p"] * ib["pstar"] + 4),
         {("implicit_bias", "seeds"): ib["seeds"], ("implicit_bias", "alpha_points"): ib["alpha_points"]},
         "seeds x alpha_points x (p^2 + p pstar) x 8 bytes, per prediction"),
    ]
    if land["enabled"]:
        side = max(land["p"]) * max(land["N"])
        checks.append(("hessian_counts", "landscape", _COPIES * 8.0 * side * side,
                       {("landscape", "N"): max(land["N"]), ("landscape", "p"): max(land["p"])},
                       "dense Hessian of side p N, 8 bytes per entry"))
    for rule, res_key, need, factors, formula in checks:
        declared = res[res_key]["mem_mb"] * 2**20
        limit = max(machine, declared)
        if need > limit:
            path = _culprit(factors)
            value = _get(cfg, path)
            raise ConfigError(
                srcs.file_of(path), _key(path), value,
                f"one {rule} job would need ~{_gib(need)} ({formula}), beyond this machine's "
                f"{_gib(machine)} of memory (and resources.{res_key}.mem_mb = {res[res_key]['mem_mb']}); "
                f"lower it")
    warnings: list[str] = []
    lo, hi = SGD_SECONDS_PER_SAMPLE
    threads = res["sgd"]["threads"]
    # One simulate_sgd job runs every N of its (p, pstar).
    samples = sgd["alpha_max"] * sum(sgd["N"])
    rounds = math.ceil(sgd["seeds"] / threads)
    t_lo, t_hi = lo * samples * rounds, hi * samples * rounds
    if t_lo > WARN_SECONDS:
        path = ("sgd", "N")
        warnings.append(
            f"config warning: {srcs.file_of(path)}: sgd.N: {sgd['N']!r}: one simulate_sgd job (p={max(sgd['p'])}, "
            f"every N) is estimated to run {_duration(t_lo)} to {_duration(t_hi)}: alpha_max x sum(N) = "
            f"{samples:.3g} samples per seed at {lo:g}-{hi:g} s each, {sgd['seeds']} seeds on {threads} "
            f"thread(s); lower sgd.N or sgd.alpha_max for a shorter run")
    return warnings


def _get(cfg: Mapping[str, Any], path: Sequence[Any]) -> Any:
    node: Any = cfg
    for k in path:
        node = node[k]
    return node


def _culprit(factors: Mapping[tuple[str, ...], float]) -> tuple[str, ...]:
    """The factor of an estimate furthest above its usual size (its default, or 1)."""
    usual = {("grid", "seeds"): 8, ("grid", "alpha_points"): 64, ("jobs", "points_per_job"): 200,
             ("grid", "eta_over_p", "num"): 25, ("sgd", "seeds"): 4, ("sgd", "alpha_points"): 120,
             ("implicit_bias", "seeds"): 4, ("implicit_bias", "alpha_points"): 200, ("landscape", "N"): 10,
             ("landscape", "p"): 6}
    return max(factors, key=lambda k: factors[k] / usual.get(k, 1))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m quadsgd.config [--schema SCHEMA] FILE...``: check config files (later files
    override earlier ones) as the pipeline would: over the repository's ``config/config.yaml``
    (:data:`DEFAULT_CONFIG`, which the Snakefile always reads first), so a file that names only
    what differs is checked for what it says. Prints one line, exit status 0 or 2.

    Also reports what Snakemake reads before the workflow can check anything: an empty or
    unparsable file, named with its line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m quadsgd.config", description=main.__doc__)
    parser.add_argument("--schema", default=str(DEFAULT_SCHEMA))
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.schema):
        print(f"config error: schema not found: {args.schema}; run from the repository root or pass --schema",
              file=sys.stderr)
        return 2
    files = list(args.files)
    if DEFAULT_CONFIG.is_file() and not any(
            os.path.isfile(f) and os.path.samefile(f, DEFAULT_CONFIG) for f in files):
        files.insert(0, str(DEFAULT_CONFIG))
    try:
        srcs = sources(files)
        _cfg, warnings = check_config(srcs.merged(), args.schema, srcs)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    for w in warnings:
        print(w, file=sys.stderr)
    print(f"config ok: {', '.join(files)}")
    return 0


def _update(target: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Snakemake's merge of config files: mappings recursively, other values replaced."""
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(target.get(k), dict):
            _update(target[k], v)
        else:
            target[k] = copy.deepcopy(v)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
