"""Every corpus trace gives byte-identical events from CPython and from the
MicroPython unix port (the same heelcore source in both)."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from heelcore.events import to_json
from heeldrop.replay import run_engine, run_engine_micropython
from heeldrop.synth.corpus import ensure_corpus
from heeldrop.traceio import read_trace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "build", "corpus")


def _compare(name):
    tr = read_trace(os.path.join(CORPUS, name + ".csv"))
    a = [to_json(e) for e in run_engine(tr)]
    b = run_engine_micropython(tr)
    return name, a, b


def test_every_corpus_trace_same_events_in_cpython_and_micropython():
    names = ensure_corpus(CORPUS)
    assert len(names) >= 60
    with ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(_compare, names))
    bad = []
    for name, a, b in results:
        if a != b:
            first = next(i for i in range(min(len(a), len(b))) if a[i] != b[i]) if min(len(a), len(b)) else 0
            bad.append("%s: line %d\n  cpython:     %s\n  micropython: %s" % (
                name, first + 1, a[first] if first < len(a) else "<end>", b[first] if first < len(b) else "<end>"))
    assert not bad, "\n".join(bad[:5])
    # not trivially equal: the corpus produces reps
    assert sum(1 for _, a, _ in results for line in a if '"rep_end"' in line) >= 300
