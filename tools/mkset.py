"""Render a targeted evaluation set (a development aid): N traces of the
given scenarios (in turn), every mounting and the split rates shuffled per
block of 24 as in the splits, or one mounting for all; seeds BASE + i. Use
seeds away from the splits' (1 000 000, 2 000 000, 3 000 000 + i).

    .venv/bin/python tools/mkset.py OUT BASE N SCENARIO[,SCENARIO..] [MOUNTING] [--jobs J]
    .venv/bin/python tools/mkset.py build/eval/raised7 7000000 48 raised_top
"""
import sys

import numpy as np

from heeldrop.synth import corpus
from heeldrop.synth.scenarios import SCENARIOS


def plan(base, n, scenarios, mounting=None):
    prng = np.random.default_rng([base, 24])
    out = []
    mounts = rates = []
    for i in range(n):
        if i % 24 == 0:
            mounts = list(prng.permutation(24))
            rates = list(prng.permutation(corpus.SPLIT_RATES))
        sc = scenarios[i % len(scenarios)]
        side = "left" if (i + i // len(scenarios)) % 2 == 0 else "right"
        m = int(mounts[i % 24]) if mounting is None else mounting
        rate = int(rates[i % 24])
        out.append({"name": "s%d_%03d_%s_%s_m%02d_%dhz" % (base // 1000000, i, sc, side, m, rate), "scenario": sc,
                    "side": side, "mounting": m, "rate": rate, "seed": base + i, "short": False, "split": "set"})
    return out


def main(argv):
    jobs = None
    if "--jobs" in argv:
        k = argv.index("--jobs")
        jobs = int(argv[k + 1])
        argv = argv[:k] + argv[k + 2:]
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    out, base, n, scs = argv[0], int(argv[1]), int(argv[2]), argv[3].split(",")
    for s in scs:
        if s not in SCENARIOS:
            sys.exit("unknown scenario %r (known: %s)" % (s, ", ".join(SCENARIOS)))
    mounting = int(argv[4]) if len(argv) == 5 else None
    corpus.build_set(out, plan(base, n, scs, mounting), base, jobs=jobs, kind="set")
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
