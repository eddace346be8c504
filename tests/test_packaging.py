"""Packaging: environment.yml in step with pyproject.toml, the version defined once, the extras
and metadata users look for, and a console script that answers without the numerical stack."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# pip (PyPI) name -> conda name, where they differ (see the comment in environment.yml).
PIP_TO_CONDA = {"dask": "dask-core", "matplotlib": "matplotlib-base", "snakemake": "snakemake-minimal"}
BIOCONDA = {"snakemake-minimal", "snakemake-executor-plugin-slurm"}
# Extras that environment.yml does not carry (development tools).
NOT_IN_CONDA_ENV = {"dev"}

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(req: str) -> tuple[str, str]:
    """``"numpy>=1.26"`` -> ``("numpy", ">=1.26")`` (no markers are used in this project)."""
    assert ";" not in req, f"environment markers are not handled here: {req!r}"
    match = _REQ.match(req)
    assert match, req
    return _norm(match.group(1)), match.group(3).replace(" ", "")


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def environment() -> dict:
    with open(ROOT / "environment.yml") as f:
        return yaml.safe_load(f)


def _pyproject_requirements(project: dict, skip_extras: set[str]) -> dict[str, str]:
    reqs = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra not in skip_extras:
            reqs += items
    out: dict[str, str] = {}
    for req in reqs:
        name, spec = _split(req)
        if name == "quadsgd":  # self-reference such as quadsgd[sdp]
            continue
        assert out.get(name, spec) == spec, f"{name} has two different specifiers: {out[name]!r}, {spec!r}"
        out[name] = spec
    return out


def _conda_requirements(env: dict) -> tuple[dict[str, str], list]:
    conda: dict[str, str] = {}
    pip_section: list = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section += dep.get("pip", [])
            continue
        name, spec = _split(dep)
        if name in ("python", "pip"):
            continue
        conda[name] = spec
    return conda, pip_section


def test_environment_matches_pyproject(pyproject, environment) -> None:
    """Same package set and the same floors in both files (pip names mapped to conda names)."""
    pip_reqs = _pyproject_requirements(pyproject["project"], NOT_IN_CONDA_ENV)
    want = {PIP_TO_CONDA.get(n, n): s for n, s in pip_reqs.items()}
    got, pip_section = _conda_requirements(environment)
    assert got == want
    assert pip_section == ["-e ."], "environment.yml installs only the project itself with pip"
    python = next(d for d in environment["dependencies"] if isinstance(d, str) and _split(d)[0] == "python")
    assert _split(python)[1] == pyproject["project"]["requires-python"]


def test_environment_channels(environment) -> None:
    """snakemake and the SLURM plugin live on bioconda, which builds on conda-forge."""
    channels = environment["channels"]
    assert channels[:2] == ["conda-forge", "bioconda"]
    got, _ = _conda_requirements(environment)
    assert BIOCONDA <= set(got)


def test_every_requirement_has_a_floor(pyproject) -> None:
    for name, spec in _pyproject_requirements(pyproject["project"], set()).items():
        assert ">=" in spec, f"{name}: no lower bound"


def test_known_floors(pyproject) -> None:
    """Floors below these are known to fail (issue 18): see the comment in pyproject.toml."""
    reqs = _pyproject_requirements(pyproject["project"], set())
    assert reqs["xarray"] == ">=2025.1.1"  # to_zarr(zarr_format=2); 2024.10-2025.1.0 fail on zarr 3
    assert reqs["zarr"] == ">=2.18.7"  # earlier 2.18 releases resolve to numcodecs 0.16 and fail on import
    assert reqs["snakemake-executor-plugin-slurm"] == ">=2.0.3"  # slurm-status-command


def test_extras(pyproject) -> None:
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    assert {"sdp", "dashboard", "slurm", "bench", "dev", "test"} <= set(extras)
    runtime = {_split(r)[0] for r in project["dependencies"]}
    # Optional or unused at run time: not installed by a plain `pip install quadsgd`.
    assert not runtime & {"cvxpy", "bokeh", "dask-jobqueue", "jsonschema", "pyyaml", "pytest"}
    assert [_split(r)[0] for r in extras["sdp"]] == ["cvxpy"]
    assert "bokeh" in {_split(r)[0] for r in extras["dashboard"]}


def test_runtime_dependencies_are_imported(pyproject) -> None:
    """Each runtime dependency is imported somewhere in src/ or workflow/ (dask through xarray's
    chunking; zarr through xarray's to_zarr/open_zarr)."""
    text = "\n".join(p.read_text() for d in ("src", "workflow") for p in (ROOT / d).rglob("*.py"))
    text += "\n".join(p.read_text() for p in [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk")])
    used_through_xarray = {"dask": r"\.chunk\(|open_zarr|open_dataset", "zarr": r"to_zarr|open_zarr"}
    for req in pyproject["project"]["dependencies"]:
        name = _split(req)[0]
        module = {"snakemake": "snakemake"}.get(name, name.replace("-", "_"))
        pattern = used_through_xarray.get(name, rf"^\s*(?:import|from)\s+{module}\b")
        assert re.search(pattern, text, re.MULTILINE), f"{name} is a runtime dependency but nothing uses it"


def test_version_defined_once(pyproject) -> None:
    project = pyproject["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "quadsgd.__version__"}
    init = (ROOT / "src" / "quadsgd" / "__init__.py").read_text()
    assert len(re.findall(r"^__version__\s*=", init, re.MULTILINE)) == 1
    import quadsgd

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(cff["version"]) == quadsgd.__version__, "CITATION.cff version differs from quadsgd.__version__"


def test_metadata(pyproject) -> None:
    project = pyproject["project"]
    assert project["license"] == "MIT"  # SPDX expression (PEP 639; setuptools >= 77)
    assert any(r.startswith("setuptools>=") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in pyproject["build-system"]["requires"])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert project["authors"] and project["classifiers"] and project["urls"]
    assert not any(c.startswith("License ::") for c in project["classifiers"]), "PEP 639: no license classifiers"
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["license"] == "MIT"
    arxiv = {i["value"] for ref in cff["references"] for i in ref.get("identifiers", [])}
    assert arxiv == {"arXiv:2604.03068", "arXiv:2006.15459"}


def test_venv_ignored() -> None:
    assert ".venv/" in (ROOT / ".gitignore").read_text().split()


_HEAVY = ("numpy", "xarray", "numba", "scipy", "pandas", "dask", "distributed", "zarr", "matplotlib")


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_cli_answers_without_numerical_stack(argv) -> None:
    """``quadsgd --version``/``--help`` import no numerical module (fresh interpreter)."""
    code = f"""
import contextlib, io, json, sys
from quadsgd.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        main({argv!r})
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {_HEAVY!r})
print(json.dumps({{"code": code, "out": out.getvalue(), "heavy": heavy}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["code"] == 0
    assert res["heavy"] == [], f"{argv} imported {res['heavy']}"
    if argv == ["--version"]:
        import quadsgd

        assert res["out"].strip() == f"quadsgd {quadsgd.__version__}"
    else:
        assert "summary" in res["out"]
