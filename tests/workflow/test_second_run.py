"""Off the default path: a second configuration in its own directory, and number spellings.

From the repository root, ``snakemake --configfile config/test.yaml --directory DIR`` runs that
config with every output under DIR and leaves ``./results`` untouched; afterwards, writing a
number differently (``1000`` as ``1000.0``) reruns nothing, since params are canonical.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def second_run(tmp_path_factory, copy_workflow, snakemake) -> tuple[Path, Path]:
    root = copy_workflow(tmp_path_factory.mktemp("repo"))
    res = snakemake(root, "results/summary.zarr", "--cores", "2", "--configfile", "config/test.yaml",
                    "--directory", "runs/test")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return root, root / "runs" / "test"


def test_directory_holds_every_output_and_the_root_none(second_run):
    root, run = second_run
    assert (run / "results" / "summary.zarr").is_dir()
    assert any((run / "logs").rglob("*.log"))
    assert not (root / "results").exists() and not (root / "logs").exists()


@pytest.mark.parametrize(("section", "key", "value"), [("grid", "alpha_max", 1000.0), ("grid", "N", 1000.0),
                                                       ("refine", "points", 2.0)])
def test_a_number_spelled_differently_reruns_nothing(second_run, snakemake, section, key, value):
    root, _ = second_run
    config = yaml.safe_load((root / "config" / "test.yaml").read_text())
    config[section][key] = value
    path = root / "config" / f"respelled_{section}_{key}.yaml"
    path.write_text(yaml.safe_dump(config))
    res = snakemake(root, "results/summary.zarr", "--dry-run", "--configfile", str(path.relative_to(root)),
                    "--directory", "runs/test")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]
