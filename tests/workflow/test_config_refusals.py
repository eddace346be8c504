"""Config values that pass a bare schema and would kill a job later: each refused before any job
runs, in one line naming the file, the key, the value and what is allowed (issue 16, section 1;
issue 17 point 6: a misspelt key gives one line, no schema dump).

Most cases call :func:`quadsgd.config.check_config` on ``config/config.yaml`` overridden by
``config/test.yaml`` and a small user file, as Snakemake merges them; four run ``snakemake -n``
on a copied workflow end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quadsgd.config import ConfigError, check_config, sources

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
GiB = 2**30


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Files are named relative to the working directory, as Snakemake runs."""
    monkeypatch.chdir(tmp_path)


def _check(tmp_path: Path, text: str, *, memory_bytes: int = 24 * GiB, name: str = "user.yaml"):
    user = tmp_path / name
    user.write_text(text)
    srcs = sources([REPO / "config" / "config.yaml", REPO / "config" / "test.yaml", user])
    return check_config(srcs.merged(), SCHEMA, srcs, memory_bytes=memory_bytes)


def _refused(tmp_path: Path, text: str, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        _check(tmp_path, text, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("config error: ")
    return msg


REFUSED = {
    # NaN or inf in any numeric field
    "escape_fraction_nan": ("escape_fraction: .nan\n", "user.yaml: escape_fraction: nan: must be a finite number"),
    "eta_over_p_max_inf": ("grid: {p: [1, 2], pstar: [1], eta_over_p: {max: .inf}}\n",
                           "user.yaml: grid.eta_over_p.max: inf: must be a finite number"),
    "sgd_eta_nan": ("sgd: {eta_over_p: .nan}\n", "user.yaml: sgd.eta_over_p: nan: must be a finite number"),
    "implicit_bias_eta_nan": ("implicit_bias: {eta_over_p: .nan}\n",
                              "user.yaml: implicit_bias.eta_over_p: nan: must be a finite number"),
    "empirical_alpha_inf": ("empirical: {alphas: [1.0, .inf]}\n",
                            "user.yaml: empirical.alphas[1]: inf: must be a finite"),
    # sizes the machine cannot hold
    "N_1e29": ("grid: {p: [1, 2], pstar: [1], N: 1.0e+29}\n",
               "user.yaml: grid.N: 1e+29: must be >= 2 and <= 9007199254740992"),
    "N_1e29_string": ("grid: {p: [1, 2], pstar: [1], N: 1e29}\n", "user.yaml: grid.N: '1e29': must be an integer"),
    "seeds_1e19": ("grid: {p: [1, 2], pstar: [1], seeds: 1.0e+19}\n",
                   "user.yaml: grid.seeds: 10000000000000000000: one "),
    "alpha_points_1e8": ("grid: {p: [1, 2], pstar: [1], alpha_points: 1.0e+8}\n",
                         "user.yaml: grid.alpha_points: 100000000: one "),
    "sgd_seeds_1e12": ("sgd: {seeds: 1.0e+12}\n",
                       "user.yaml: sgd.seeds: 1000000000000: one simulate_sgd job would need"),
    "landscape_N_1e5": ("landscape: {enabled: true, N: [100000]}\n",
                        "user.yaml: landscape.N: [100000]: one hessian_counts"),
    # repeated values in lists
    "alphas_repeated": ("empirical: {alphas: [1.0, 1.5, 1.5]}\n",
                        "user.yaml: empirical.alphas: [1.0, 1.5, 1.5]: must not repeat a value"),
    "p_repeated_as_float": ("grid: {p: [1, 1.0], pstar: [1]}\n",
                            "user.yaml: grid.p: [1, 1.0]: must not repeat a value"),
    "flow_cases_repeated": ("empirical: {flow_cases: [[8, 1, gaussian], [8, 1, gaussian]]}\n",
                            "user.yaml: empirical.flow_cases: "),
    # m < m* in an empirical case (the student has width m = d)
    "flow_case_m_below_mstar": ("empirical: {enabled: true, flow_cases: [[2, 4, gaussian]]}\n",
                                "user.yaml: empirical.flow_cases[0]: [2, 4, 'gaussian']: needs m* <= d"),
    "recovery_d_below_mstar": ("empirical: {enabled: true, d: [2], mstar: [3]}\n",
                               "user.yaml: empirical.mstar: [3]: every m* must be <= every d"),
    # dask.cluster_kwargs colliding with what the project sets
    **{f"cluster_kwargs_{k}": (f"dask: {{cluster_kwargs: {{{k}: 4}}}}\n",
                               f"user.yaml: dask.cluster_kwargs.{k}: 4: set by quadsgd itself")
       for k in ("n_workers", "threads_per_worker", "processes", "local_directory", "memory_limit",
                 "dashboard_address")},
    # the jobs-per-(p, pstar) limit of the three-digit part index
    "too_many_parts": ("grid: {p: [1], pstar: [1], seeds: 2, eta_over_p: {num: 1001}}\njobs: {points_per_job: 2}\n",
                       "user.yaml: grid.eta_over_p.num: 1001: gives 1001 jobs per (p, pstar); at most 1000"),
    # misspelt keys: one line naming the key and the allowed keys at that level
    "misspelt_key": ("grid: {p: [1], pstar: [1], Nn: 3}\n",
                     "user.yaml: grid.Nn: 3: unknown key; allowed keys here: N, alpha_max, alpha_points, "
                     "eta_over_p, p, pstar, seeds"),
    "misspelt_section": ("sdg: {N: [100]}\n",
                         "user.yaml: sdg: {'N': [100]}: unknown key; allowed keys here: beyond, dask, "),
    # the cross-key checks that were in common.smk, now naming the file
    "eta_min_above_max": ("grid: {p: [1], pstar: [1], eta_over_p: {min: 2.0, max: 1.0}}\n",
                          "user.yaml: grid.eta_over_p.min: 2: must be below grid.eta_over_p.max = 1"),
    "N_below_p_plus_pstar": ("sgd: {p: [4], pstar: [2], N: [5]}\n",
                             "user.yaml: sgd.N: 5: must be at least p + pstar = 6"),
    "fractional_integer": ("grid: {p: [1], pstar: [1], seeds: 2.5}\n",
                           "user.yaml: grid.seeds: 2.5: must be an integer"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_config_refused_in_one_line(tmp_path, case):
    text, expected = REFUSED[case]
    assert expected in _refused(tmp_path, text)


def test_memory_refusal_states_the_estimate_and_the_machine(tmp_path):
    msg = _refused(tmp_path, "grid: {p: [1], pstar: [1], alpha_points: 1.0e+8}\n", memory_bytes=16 * GiB)
    assert " job would need ~" in msg and "x seeds x (alpha_points + p^2 + p pstar) x 8 bytes" in msg
    assert "beyond this machine's 16 GiB of memory" in msg


def test_declared_memory_lifts_the_machine_limit(tmp_path):
    # An estimate beyond the machine but within the rules' declared mem_mb (a cluster node) runs.
    grid = "grid: {p: [1], pstar: [1], alpha_points: 30000000}\n"
    _refused(tmp_path, grid, memory_bytes=1 * GiB)
    _check(tmp_path, grid + "resources: {simulate: {mem_mb: 100000}, aggregate: {mem_mb: 100000}}\n",
           memory_bytes=1 * GiB)


def test_long_sgd_run_is_warned_with_the_estimate(tmp_path):
    cfg, warnings = _check(tmp_path, "sgd: {N: [1000000000], alpha_max: 300, seeds: 4}\n")
    assert cfg["sgd"]["N"] == [1000000000]
    assert len(warnings) == 1
    assert warnings[0].startswith("config warning: user.yaml: sgd.N: [1000000000]: one simulate_sgd job")
    assert "estimated to run" in warnings[0] and "3e+11 samples per seed" in warnings[0]
    assert _check(tmp_path, "sgd: {N: [1000]}\n")[1] == []


@pytest.mark.parametrize("text,key,expected", [
    ("grid: {p: [1, 2], pstar: [1], N: 1000.0}\n", ("grid", "N"), 1000),
    ("grid: {p: [1, 2], pstar: [1], seeds: 2.0}\n", ("grid", "seeds"), 2),
    ("grid: {p: [1.0, 2.0], pstar: [1]}\n", ("grid", "p"), [1, 2]),
    ("sgd: {N: [200.0], seeds: 2.0}\n", ("sgd", "N"), [200]),
])
def test_whole_number_floats_are_the_integers_they_are(tmp_path, text, key, expected):
    cfg, _ = _check(tmp_path, text)
    value = cfg[key[0]][key[1]]
    assert value == expected
    assert all(type(v) is int for v in (value if isinstance(value, list) else [value]))


@pytest.mark.parametrize("text,expected", [
    ("grid: {p: [1], pstar: [1]}\ngrid: {p: [2], pstar: [1]}\n",
     "config error: user.yaml:2: grid: {'p': [2], 'pstar': [1]}: key given twice in one mapping (first at line 1"),
    ("grid:\n  p: [1]\n  pstar: [1]\n  N: 100\n  N: 200\n",
     "config error: user.yaml:5: grid.N: 200: key given twice in one mapping (first at line 4"),
    ("", "config error: user.yaml: empty config file: it must be a mapping of config sections"),
    ("grid: {p: [1], pstar: [1]\n", "config error: user.yaml:2: not valid YAML ("),
    ("grid:\n\tp: [1]\n", "config error: user.yaml:2: not valid YAML ("),
    ("- 1\n- 2\n", "config error: user.yaml: (top level): [1, 2]: a config file must be a mapping"),
])
def test_unreadable_files_are_named_with_the_line(tmp_path, text, expected):
    assert _refused(tmp_path, text).startswith(expected)


def test_the_file_named_is_the_last_that_sets_the_key(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("escape_fraction: .nan\ngrid: {p: [1], pstar: [1]}\n")
    b.write_text("grid: {seeds: 3}\n")
    srcs = sources([REPO / "config" / "config.yaml", a, b])
    with pytest.raises(ConfigError, match=r"a\.yaml: escape_fraction: nan"):
        check_config(srcs.merged(), SCHEMA, srcs)
    b.write_text("escape_fraction: 1.5\n")
    a.write_text("escape_fraction: 0.5\n")
    srcs = sources([REPO / "config" / "config.yaml", a, b])
    with pytest.raises(ConfigError, match=r"b\.yaml: escape_fraction: 1\.5: must be > 0 and < 1"):
        check_config(srcs.merged(), SCHEMA, srcs)
    srcs = sources([REPO / "config" / "config.yaml", a], overrides={"escape_fraction": 2.0})
    with pytest.raises(ConfigError, match=r"--config: escape_fraction: 2\.0"):
        check_config(srcs.merged(), SCHEMA, srcs)


def test_shipped_configs_pass(tmp_path):
    for name in ("config.yaml", "test.yaml", "paper.yaml"):
        path = REPO / "config" / name
        if path.exists():
            srcs = sources([REPO / "config" / "config.yaml", path])
            check_config(srcs.merged(), SCHEMA, srcs)


# --- end to end: snakemake -n on a copied workflow ------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("grid: {p: [1, 2], pstar: [1], Nn: 1000}\n",
     "config error: bad.yaml: grid.Nn: 1000: unknown key; allowed keys here: N, alpha_max"),
    ("escape_fraction: .nan\n", "config error: bad.yaml: escape_fraction: nan: must be a finite number"),
    ("grid:\n  p: [1, 2]\n  pstar: [1]\n  seeds: 2\n  seeds: 3\n",
     "config error: bad.yaml:5: grid.seeds: 3: key given twice in one mapping"),
    ("empirical: {enabled: true, alphas: [1.0, 2.0, 2.0]}\n",
     "config error: bad.yaml: empirical.alphas: [1.0, 2.0, 2.0]: must not repeat a value"),
])
@pytest.mark.pipeline
def test_snakemake_dry_run_refuses_in_one_line(tmp_path, copy_workflow, snakemake, text, expected):
    work = copy_workflow(tmp_path / "wf")
    (work / "bad.yaml").write_text(text)
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "config/test.yaml", "bad.yaml")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert expected in proc.stderr, out
    assert len(out.strip().splitlines()) < 20, out
    assert "Failed validating" not in out and "'description'" not in out  # no schema dump
    assert not (work / "results").exists()


@pytest.mark.pipeline
def test_snakemake_dry_run_accepts_whole_number_floats(tmp_path, copy_workflow, snakemake):
    """``p: [1.0, 2.0]`` used to name files p1.0_... and end in a MissingInputException."""
    work = copy_workflow(tmp_path / "wf")
    (work / "floats.yaml").write_text("grid: {p: [1.0, 2.0], pstar: [1.0], N: 1000.0, seeds: 2.0}\n")
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "config/test.yaml", "floats.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "results/ode/job000" in proc.stdout + proc.stderr
    assert "p1.0" not in proc.stdout + proc.stderr and "pstar1.0" not in proc.stdout + proc.stderr
