"""Command-line interface: ``quadsgd summary RESULTS_DIR`` prints the sweep's tables.

After the sweep's main table come the rows of each beyond-the-paper store present under
``RESULTS_DIR/beyond/`` (docs/beyond.md).

Exit codes: 0 on success, 2 for a missing, damaged (missing or corrupted chunk) or foreign-format
store (one line on stderr naming the store and the variable).
``quadsgd --version`` and ``--help`` import nothing numerical: xarray and the store code are
imported inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from quadsgd import __version__

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["main", "format_summary", "format_beyond", "BEYOND_REQUIRED"]

#: Every variable :func:`format_summary` reads (the ``sgd_*`` ones only when the store has SGD runs).
_REQUIRED = ("eta_opt", "eta_opt_over_p", "alpha_escape_opt", "alpha_escape_opt_sem", "n_runs", "n_escaped",
             "n_censored", "n_diverged", "eta_opt_exponent", "eta_opt_exponent_se", "eta_opt_prefactor")
_REQUIRED_SGD = ("sgd_eta", "sgd_alpha_escape_mean", "sgd_alpha_escape_sem", "sgd_n_escaped", "sgd_n_runs")


def _num(x: float, fmt: str = ".4g") -> str:
    return "nan" if not math.isfinite(x) else format(x, fmt)


def format_summary(ds: xr.Dataset) -> str:
    """The table of ``eta_opt``, escape time at ``eta_opt`` and run counts per ``(p, pstar)``,
    the fitted exponent of ``eta_opt ~ p^a`` per ``pstar``, grid flags, and finite-N SGD
    escape statistics (separately) when present."""
    lines = ["ODE escape times from random M(0) (escape: risk <= f * plateau risk)", ""]
    head = (f"{'p':>4} {'p*':>3} {'eta_opt':>9} {'eta_opt/p':>9} {'alpha_esc(eta_opt)':>20} "
            f"{'escaped':>8} {'censored':>8} {'diverged':>8}  flags")
    lines += [head, "-" * len(head)]
    for pstar in ds.pstar.values:
        for p in ds.p.values:
            d = ds.sel(p=p, pstar=pstar)
            eta = float(d["eta_opt"])
            counts = ["-", "-", "-"]
            if math.isfinite(eta):
                at = d.sel(eta_over_p=float(d["eta_opt_over_p"]), method="nearest")
                if math.isclose(float(at.eta_over_p), float(d["eta_opt_over_p"]), rel_tol=1e-9):
                    counts = [str(int(at[n])) for n in ("n_escaped", "n_censored", "n_diverged")]
                else:  # eta_opt is a refinement point: every seed escaped there by definition
                    counts = [str(int(d["n_runs"].max())), "0", "0"]
            flags = []
            if "grid_reaches_instability" in d and not int(d["grid_reaches_instability"]):
                flags.append("GRID-TOO-SMALL")
            if "eta_opt_at_grid_edge" in d and int(d["eta_opt_at_grid_edge"]):
                flags.append("AT-LOWER-EDGE")
            if "eta_opt_at_stability_edge" in d and int(d["eta_opt_at_stability_edge"]):
                flags.append("stability-limited")
            esc = f"{_num(float(d['alpha_escape_opt']), '.2f')} ± {_num(float(d['alpha_escape_opt_sem']), '.2f')}"
            lines.append(f"{int(p):>4} {int(pstar):>3} {_num(eta):>9} {_num(float(d['eta_opt_over_p'])):>9} "
                         f"{esc:>20} {counts[0]:>8} {counts[1]:>8} {counts[2]:>8}  {' '.join(flags)}")
    if "eta_zero_error_edge" in ds and "eta_max_stable" in ds:
        lines += ["", "Stability edge: largest scanned eta where every seed learned (measured) vs the eta at which",
                  "the zero-error manifold loses linear stability, p p*/(2(p*+2)) (Jacobian); settled = seeds that",
                  "escaped, then stopped at a finite risk, summed over the grid",
                  f"{'p':>4} {'p*':>3} {'measured':>9} {'Jacobian':>9} {'ratio':>7} {'settled':>8}"]
        for pstar in ds.pstar.values:
            for p in ds.p.values:
                d = ds.sel(p=p, pstar=pstar)
                measured, edge = float(d["eta_max_stable"]), float(d["eta_zero_error_edge"])
                ratio = measured / edge if math.isfinite(edge) else math.nan
                settled = str(int(d["n_settled"].sum())) if "n_settled" in d else "-"
                lines.append(f"{int(p):>4} {int(pstar):>3} {_num(measured):>9} {_num(edge):>9} "
                             f"{_num(ratio, '.4f'):>7} {settled:>8}")
    lines += ["", "Fit eta_opt ~ c p^a:"]
    for pstar in ds.pstar.values:
        d = ds.sel(pstar=pstar)
        lines.append(f"  p*={int(pstar)}: a = {_num(float(d['eta_opt_exponent']), '.3f')} ± "
                     f"{_num(float(d['eta_opt_exponent_se']), '.3f')}  (c = {_num(float(d['eta_opt_prefactor']))})")
    lines += ["", "counts: seeds at eta_opt. flags: GRID-TOO-SMALL = every seed escapes at the largest eta;",
              "AT-LOWER-EDGE = eta_opt is the smallest stable eta scanned; stability-limited = the next",
              "larger scanned eta lets some seed diverge or stall (eta_opt resolved to the refinement spacing)."]
    if "sgd_alpha_escape_mean" in ds:
        lines += ["", "Finite-N SGD (Gram chain) escape times, a separate result:",
                  f"{'p':>4} {'p*':>3} {'N':>7} {'eta':>8} {'alpha_esc':>20} {'escaped':>8}"]
        for p in ds.sgd_p.values:
            for pstar in ds.sgd_pstar.values:
                for N in ds.sgd_N.values:
                    d = ds.sel(sgd_p=p, sgd_pstar=pstar, sgd_N=N)
                    if not math.isfinite(float(d["sgd_eta"])):
                        continue
                    esc = (f"{_num(float(d['sgd_alpha_escape_mean']), '.2f')} ± "
                           f"{_num(float(d['sgd_alpha_escape_sem']), '.2f')}")
                    lines.append(f"{int(p):>4} {int(pstar):>3} {int(N):>7} {_num(float(d['sgd_eta'])):>8} "
                                 f"{esc:>20} {int(d['sgd_n_escaped'])}/{int(d['sgd_n_runs'])}")
    return "\n".join(lines)


#: Variables of each beyond store (``results/beyond/<name>.zarr``) that :func:`format_beyond` reads.
#: The coordinates it indexes are listed too, so a store of another layout is refused by name.
BEYOND_REQUIRED: dict[str, tuple[str, ...]] = {
    "escape_law": ("p", "pstar", "N", "eta_over_p", "alpha_escape_mean", "alpha_escape_sem", "escape_offset_mean",
                   "escape_offset_sem", "escape_law_slope", "escape_law_slope_se", "escape_law_slope_ode",
                   "escape_law_slope_small_eta", "escape_law_slope_finite_eta", "n_escaped", "n_runs"),
    "eta_opt_sgd": ("p", "pstar", "N", "eta_opt_ode_over_p", "eta_opt_sgd_over_p", "eta_opt_ratio",
                    "alpha_escape_opt_sgd", "alpha_escape_opt_sgd_sem", "grid_reaches_instability"),
    "phase_diagram": ("p", "pstar", "eta_plateau_edge_over_p", "eta_zero_error_edge_over_p",
                      "eta_divergence_edge_over_p", "eta_opt_ode_over_p"),
    "noise": ("p", "pstar", "N", "noise", "eta_over_p", "dynamics", "seed", "risk_late_mean", "risk_end",
              "risk_stationary", "alpha_escape_mean", "alpha_escape_sem"),
    "narrow": ("p", "pstar", "eta_over_p", "seed", "risk_best_fit", "risk_end", "risk_excess"),
}

#: Note on rows whose end state sits at or above the escape threshold (flag ``censored_by_threshold``).
CENSORED_NOTE = "censored: end state above the escape threshold (learned what it can; no escape time)"


def _diverged_note(d: xr.Dataset) -> str:
    """``diverged: k/n seeds`` for a row whose runs (some or all) diverged, else ``""``."""
    import numpy as np

    from quadsgd.status import Status

    status = np.asarray(d["status"].values)
    k = int(np.sum(status == int(Status.DIVERGED)))
    return f"  diverged: {k}/{status.size} seeds (the mean is over the others)" if k else ""


def _censored(d: xr.Dataset) -> bool:
    """``censored_by_threshold`` of one row (False for stores written before the flag existed)."""
    return "censored_by_threshold" in d and int(d["censored_by_threshold"]) == 1


def _pairs(ds: xr.Dataset, probe: str):
    for p in ds.p.values:
        for s in ds.pstar.values:
            d = ds.sel(p=p, pstar=s)
            if any(math.isfinite(float(v)) for v in d[probe].values.ravel()):
                yield int(p), int(s), d


def format_beyond(name: str, ds: xr.Dataset) -> list[str]:
    """Rows of one beyond store (docs/beyond.md) for ``quadsgd summary``."""
    if name == "escape_law":
        lines = ["Escape law (finite-N SGD, Gram chain): mean escape time = a + b ln N",
                 f"{'p':>4} {'p*':>3} {'eta/p':>8} {'b (fit)':>16} {'b ODE':>7} {'small-eta':>10} {'ratio':>6} "
                 f"{'finite-eta':>10} {'ratio':>6}"]
        rows = []
        for p, s, d in _pairs(ds, "escape_law_slope"):
            b = float(d["escape_law_slope"])
            small, fin = float(d["escape_law_slope_small_eta"]), float(d["escape_law_slope_finite_eta"])
            lines.append(f"{p:>4} {s:>3} {_num(float(d['eta_over_p'])):>8} "
                         f"{_num(b, '.3f') + ' ± ' + _num(float(d['escape_law_slope_se']), '.3f'):>16} "
                         f"{_num(float(d['escape_law_slope_ode']), '.3f'):>7} {_num(small, '.3f'):>10} "
                         f"{_num(small / b, '.3f'):>6} {_num(fin, '.3f'):>10} {_num(fin / b, '.3f'):>6}"
                         + (f"  {CENSORED_NOTE}" if _censored(d) else ""))
            for n in ds.N.values:
                e = d.sel(N=n)
                mean, sem = float(e["alpha_escape_mean"]), float(e["alpha_escape_sem"])
                off = f"{_num(float(e['escape_offset_mean']), '.3f')} ± {_num(float(e['escape_offset_sem']), '.3f')}"
                rows.append(f"{p:>4} {s:>3} {int(n):>9} {_num(mean, '.3f') + ' ± ' + _num(sem, '.3f'):>18} "
                            f"{_num(100 * sem / mean, '.2f'):>6} {off:>18} {int(e['n_escaped'])}/{int(e['n_runs'])}")
        lines += [f"{'p':>4} {'p*':>3} {'N':>9} {'alpha_esc':>18} {'sem %':>6} {'SGD - ODE':>18} escaped", *rows]
        return lines
    if name == "eta_opt_sgd":
        lines = ["eta_opt from finite-N SGD against the ODE's",
                 f"{'p':>4} {'p*':>3} {'N':>9} {'ODE eta/p':>10} {'SGD eta/p':>10} {'ratio':>7} "
                 f"{'alpha_esc(SGD opt)':>20}"]
        for p, s, d in _pairs(ds, "eta_opt_ode_over_p"):
            for n in ds.N.values:
                e = d.sel(N=n)
                esc = (f"{_num(float(e['alpha_escape_opt_sgd']), '.2f')} ± "
                       f"{_num(float(e['alpha_escape_opt_sgd_sem']), '.2f')}")
                flag = "" if int(e["grid_reaches_instability"]) else "  GRID-TOO-SMALL"
                lines.append(f"{p:>4} {s:>3} {int(n):>9} {_num(float(d['eta_opt_ode_over_p'])):>10} "
                             f"{_num(float(e['eta_opt_sgd_over_p'])):>10} {_num(float(e['eta_opt_ratio']), '.3f'):>7} "
                             f"{esc:>20}{flag}")
        return lines
    if name == "phase_diagram":
        lines = ["Finite-eta phase diagram: edges in eta/p",
                 f"{'p':>4} {'p*':>3} {'plateau':>9} {'zero-err':>9} {'diverge':>9} {'eta_opt':>9}"]
        for p in ds.p.values:
            for s in ds.pstar.values:
                d = ds.sel(p=p, pstar=s)
                lines.append(f"{int(p):>4} {int(s):>3} " + " ".join(
                    f"{_num(float(d[v])):>9}" for v in ("eta_plateau_edge_over_p", "eta_zero_error_edge_over_p",
                                                         "eta_divergence_edge_over_p", "eta_opt_ode_over_p")))
        return lines
    if name == "noise":
        lines = [f"Label noise (p={int(ds.p)}, p*={int(ds.pstar)}, N={int(ds.N)}): late-time clean risk (mean over "
                 "alpha >= alpha_max/2) and mean escape time",
                 f"{'noise':>8} {'eta/p':>7} {'risk SGD':>10} {'risk ODE':>10} {'ODE end':>10} {'predicted':>10} "
                 f"{'esc SGD':>8} {'esc ODE':>8}"]
        for v in ds.noise.values:
            for e in ds.eta_over_p.values:
                d = ds.sel(noise=v, eta_over_p=e)
                late = d["risk_late_mean"].mean("seed")
                pred = float(d["risk_stationary"])
                end = float(d["risk_end"].sel(dynamics="ode").mean("seed"))
                lines.append(f"{float(v):>8.4g} {float(e):>7.4g} {_num(float(late.sel(dynamics='sgd')), '.3e'):>10} "
                             f"{_num(float(late.sel(dynamics='ode')), '.3e'):>10} {_num(end, '.3e'):>10} "
                             f"{_num(pred, '.3e'):>10} "
                             f"{_num(float(d['alpha_escape_mean'].sel(dynamics='sgd')), '.2f'):>8} "
                             f"{_num(float(d['alpha_escape_mean'].sel(dynamics='ode')), '.2f'):>8}"
                             + (f"  {CENSORED_NOTE}" if _censored(d) else ""))
        return lines
    lines = ["Narrow students p < p*: ODE end-point risk against the best rank-p fit",
             f"{'p':>4} {'p*':>3} {'best fit':>10} {'eta/p':>8} {'ODE end':>10} {'excess':>10}"]
    for p, s, d in _pairs(ds, "risk_best_fit"):
        for e in ds.eta_over_p.values:
            x = d.sel(eta_over_p=e)
            lines.append(f"{p:>4} {s:>3} {_num(float(d['risk_best_fit']), '.5f'):>10} {float(e):>8.4g} "
                         f"{_num(float(x['risk_end'].mean('seed')), '.5f'):>10} "
                         f"{_num(float(x['risk_excess'].mean('seed')), '.2e'):>10}"
                         + (f"  {CENSORED_NOTE}" if _censored(x) else "") + _diverged_note(x))
    return lines


def _summary(args: argparse.Namespace) -> int:
    from quadsgd.storage import StoreError, open_store  # imports xarray: only when needed

    path = Path(args.results)
    if (path.suffix != ".zarr" and not os.path.lexists(path / "summary.zarr")
            and os.path.lexists(path / "results" / "summary.zarr")):
        path = path / "results"  # a run directory (snakemake --directory DIR) holding results/
    store = path if path.suffix == ".zarr" else path / "summary.zarr"
    try:  # every variable checked: format version, chunks present and decodable
        ds = open_store(store, required=_REQUIRED)
        missing = [n for n in _REQUIRED_SGD if n not in ds] if "sgd_alpha_escape_mean" in ds else []
        if missing:
            raise StoreError(f"{store}: missing variables {missing}")
        beyond, absent = [], []
        root = (path.parent if path.suffix == ".zarr" else path) / "beyond"
        for name, required in BEYOND_REQUIRED.items():
            part = root / f"{name}.zarr"
            if not os.path.lexists(part):  # a dangling link or a file in its place is a damaged store
                absent.append(name)
                continue
            bey = open_store(part, required=required)
            try:  # formatted before anything is printed: a store of a foreign layout gives one line only
                beyond.append("\n".join(format_beyond(name, bey)))
            except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
                raise StoreError(f"{part}: not a beyond {name} store of this layout ({type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''})") from err
    except StoreError as err:
        print(f"quadsgd: error: {err}", file=sys.stderr)
        return 2
    print(format_summary(ds))
    for text in beyond:
        print("\n" + text)
    if absent and root.is_dir():  # beyond ran, but not every part wrote its store
        print(f"\nBeyond the paper: missing stores {', '.join(f'{n}.zarr' for n in absent)} under {root}/ "
              f"(rules {', '.join(f'beyond_{n}' for n in absent)} not run yet or failed)")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from quadsgd import config  # imports numpy and jsonschema: only when needed

    return config.main([*(["--schema", args.schema] if args.schema else []), *args.files])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``quadsgd`` console script; returns the exit status."""
    parser = argparse.ArgumentParser(prog="quadsgd", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"quadsgd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="print eta_opt, escape time at eta_opt and counts per (p, p*)")
    summary.add_argument("results", help="results directory (holding summary.zarr), a run directory holding "
                         "results/ (snakemake --directory DIR), or the summary store itself")
    summary.set_defaults(func=_summary)
    check = sub.add_parser("check-config", help="check config files as the pipeline would (one line; exit 0 or 2)")
    check.add_argument("files", nargs="+", help="config files, later ones overriding earlier ones")
    check.add_argument("--schema", help="the schema (default: workflow/schemas/config.schema.yaml)")
    check.set_defaults(func=_check_config)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
