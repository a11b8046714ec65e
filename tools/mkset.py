"""Render a targeted evaluation set (a development aid): N traces of the
given scenarios (in turn), every mounting and the split rates shuffled per
block of 24 as in the splits, or one mounting for all; seeds BASE + i. Use
seeds away from the splits' (1 000 000, 2 000 000, 3 000 000 + i).

    .venv/bin/python tools/mkset.py OUT BASE N SCENARIO[,SCENARIO..] [MOUNTING] [--jobs J]
    .venv/bin/python tools/mkset.py build/eval/raised7 7000000 48 raised_top
"""
import sys

from heeldrop.synth import corpus
from heeldrop.synth.scenarios import SCENARIOS


def plan(base, n, scenarios, mounting=None):
    return corpus.block_plan(base, n, scenarios, "s%d" % (base // 1000000), "set", mounting)


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
