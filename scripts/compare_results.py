"""Compare every variable of every zarr store under two results directories.

    python scripts/compare_results.py OLD_RESULTS NEW_RESULTS

For each store present in both, each data variable present in both is compared exactly
(NaN equal to NaN) after aligning on shared coordinates; the largest absolute difference is
printed where values differ. Stores or variables present on one side only are listed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr


def stores(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*.zarr")) if not p.name.startswith(".")}


def compare(old: xr.Dataset, new: xr.Dataset) -> list[str]:
    lines = []
    for name in sorted(set(old.data_vars) | set(new.data_vars)):
        if name not in old or name not in new:
            lines.append(f"  {name}: only in {'old' if name in old else 'new'}")
            continue
        a, b = xr.align(old[name].load(), new[name].load(), join="inner")
        if a.shape != old[name].shape or a.shape != new[name].shape:
            lines.append(f"  {name}: compared on shared coordinates {dict(a.sizes)}")
        va, vb = np.asarray(a.values), np.asarray(b.values)
        same = va.dtype.kind not in "fc" and np.array_equal(va, vb) or np.array_equal(va, vb, equal_nan=True)
        if not same:
            diff = np.nanmax(np.abs(va.astype(float) - vb.astype(float))) if va.dtype.kind in "fciub" else "n/a"
            lines.append(f"  {name}: DIFFERS (max |diff| {diff})")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    old_root, new_root = Path(argv[0]), Path(argv[1])
    old, new = stores(old_root), stores(new_root)
    n_diff = 0
    for key in sorted(set(old) | set(new)):
        if key not in old or key not in new:
            print(f"{key}: only in {'old' if key in old else 'new'}")
            continue
        lines = compare(xr.open_zarr(old[key]), xr.open_zarr(new[key]))
        n_diff += sum("DIFFERS" in line for line in lines)
        print(f"{key}: {'identical' if not lines else ''}")
        for line in lines:
            print(line)
    print(f"{n_diff} variables differ")
    return 1 if n_diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
