"""Flow recovery (new criterion and old rel_error < 1e-2) against the SDP certificate, per instance.

    python scripts/recovery_certificate.py D MSTAR N NSEEDS

Prints every instance where the verdicts differ or the old criterion was a false recovery, then
the counts of (flow recovered, rel_error < 1e-2, SDP unique, SDP certified). Needs the [sdp] extra.
"""

from __future__ import annotations

import sys
from collections import Counter

from quadsgd.empirical import RecoveryOptions, recover_instance


def main(argv: list[str]) -> int:
    d, mstar, n, n_seeds = map(int, argv)
    flow_options, sdp_options = RecoveryOptions(), RecoveryOptions(method="sdp")
    counts: Counter[tuple[bool, bool, bool, bool]] = Counter()
    for seed in range(n_seeds):
        f = recover_instance(d, mstar, n, seed, d, flow_options)
        s = recover_instance(d, mstar, n, seed, d, sdp_options)
        counts[(f.recovered, f.rel_error < 1e-2, s.recovered, s.solver_ok)] += 1
        if f.recovered != s.recovered or (f.rel_error < 1e-2 and not f.recovered):
            print(seed, f"flow rec={f.recovered} rel={f.rel_error:.1e} margin={f.witness_margin:.2e} "
                        f"r={f.witness_rank} kdim={f.fit_kernel_dim} | sdp unique={s.recovered} ok={s.solver_ok}")
    print("(flow recovered, rel<tol, sdp unique, sdp certified):", dict(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
