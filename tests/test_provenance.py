"""Provenance: the fingerprint of the numerics-relevant config and the results-directory check."""

from __future__ import annotations

import copy
import json
import os

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


# --- exclusive claim, re-claim after a failed first run, unusable directories -----------------------


def _claim(results: str, seeds: int, barrier, outcomes) -> None:
    from quadsgd.provenance import check_results_fingerprint as check

    config = {"grid": {"seeds": seeds}}
    for round_ in range(ROUNDS):
        barrier.wait()  # start together
        try:
            check(config, f"{results}/{round_}", record=True)
            outcomes.put((round_, seeds, "claimed"))
        except ValueError:
            outcomes.put((round_, seeds, "refused"))


ROUNDS = 25


def test_two_runs_with_different_configs_started_together_exactly_one_claims(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, outcomes = ctx.Barrier(3, timeout=120), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(str(tmp_path), seeds, barrier, outcomes)) for seeds in (2, 3)]
    for p in procs:
        p.start()
    try:
        for _ in range(ROUNDS):
            barrier.wait()
        results = [outcomes.get(timeout=120) for _ in range(2 * ROUNDS)]
    finally:
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    for round_ in range(ROUNDS):
        got = sorted(r[2] for r in results if r[0] == round_)
        assert got == ["claimed", "refused"], (round_, got)
        winner = next(r[1] for r in results if r[0] == round_ and r[2] == "claimed")
        recorded = json.loads((tmp_path / str(round_) / FINGERPRINT_FILE).read_text())
        assert recorded["fingerprint"] == config_fingerprint({"grid": {"seeds": winner}})


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_results_directory_without_stores_left_by_a_failed_run_may_be_reclaimed(tmp_path, test_config):
    import socket

    results = tmp_path / "results"
    other = copy.deepcopy(test_config)
    other["grid"]["seeds"] = 3
    check_results_fingerprint(other, results, record=True)
    claim = json.loads((results / FINGERPRINT_FILE).read_text())
    assert claim["claimed_by"] == {"host": socket.gethostname(), "pid": os.getpid()}
    # the claimant (this process) still runs: its directory is not taken over even without stores
    with pytest.raises(ValueError, match="is being filled .* by a running run of a different configuration"):
        check_results_fingerprint(test_config, results, record=True)
    claim["claimed_by"]["pid"] = _dead_pid()  # the first run failed before writing any store
    (results / FINGERPRINT_FILE).write_text(json.dumps(claim))
    (results / "logs.txt").write_text("not a store")
    assert check_results_fingerprint(test_config, results) == config_fingerprint(test_config)
    check_results_fingerprint(test_config, results, record=True)
    assert json.loads((results / FINGERPRINT_FILE).read_text())["fingerprint"] == config_fingerprint(test_config)
    # once a store exists, the directory belongs to its configuration even after its run ended
    claim = json.loads((results / FINGERPRINT_FILE).read_text())
    claim["claimed_by"]["pid"] = _dead_pid()
    (results / FINGERPRINT_FILE).write_text(json.dumps(claim))
    (results / "ode" / "p1_pstar1" / "part000.zarr").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds stores from a different configuration"):
        check_results_fingerprint(other, results, record=True)


@pytest.mark.parametrize("kind", ["file", "symlink-loop"])
def test_unusable_results_or_state_directory_is_named(tmp_path, test_config, kind):
    for name in ("results", ".snakemake"):
        path = tmp_path / name
        if kind == "file":
            path.write_text("not a directory")
            pattern = r"\[Errno 20\] Not a directory .*" + name
        else:
            path.symlink_to(name)
            pattern = r"\[Errno 40\] Too many levels of symbolic links: '.*" + name
        args = (tmp_path / "results",) if name == "results" else (tmp_path / "other",)
        with pytest.raises(OSError, match=pattern):
            check_results_fingerprint(test_config, *args, state_dir=tmp_path / ".snakemake")
        path.unlink()


def test_a_full_state_directory_is_named(tmp_path, test_config, monkeypatch):
    import errno

    from quadsgd import provenance

    (tmp_path / ".snakemake").mkdir()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(provenance.os, "fsync", full)
    with pytest.raises(OSError, match=r"\[Errno 28\] No space left on device: '.*\.snakemake'"):
        check_results_fingerprint(test_config, tmp_path / "results", state_dir=tmp_path / ".snakemake")
    assert list((tmp_path / ".snakemake").iterdir()) == []
