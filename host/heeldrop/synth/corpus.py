"""Labelled trace sets, regenerated from seeds: NAME.csv (trace CSV contract)
+ NAME.truth.json per trace, and index.json.

* ``build/eval/tuning`` and ``build/eval/heldout``: the accuracy splits
  (``split_plan``). Same generator, disjoint seeds: the engine may be tuned
  on the tuning split; the held-out split is only scored (``heeldrop
  evaluate --split heldout``, tests/host/test_accuracy.py).
* ``build/corpus``: the parity corpus (``corpus_plan``): every scenario, rate
  and mounting in short traces (2.5-6 s holds) for the CPython / MicroPython
  / firmware parity tests, mostly with benign nuisances, 12 with every
  nuisance at full range. Not an accuracy measure.
* ``tests/traces``: the few committed traces (``COMMITTED``), frozen
  fixtures (see ``write_committed``).

    from heeldrop.synth.corpus import ensure_corpus, ensure_split
    names = ensure_corpus()                 # build/corpus, rebuilt only when outdated
    names = ensure_split("heldout")         # build/eval/heldout

The version stamp in index.json is a hash of the simulator's sources (and the
CSV writer's), so any change to them rebuilds the sets on the next call.
"""
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .physics import MOUNTING_NAMES
from .render import render
from .scenarios import EVAL_SCENARIOS

CORPUS_VERSION = 2
BASE_SEED = 1000

# -- the parity corpus (names kept stable: tests pick traces by name) -----
PARITY_SCENARIOS = (
    "ideal", "realistic_good", "too_fast", "bounce_mild", "bounce_severe", "no_hold",
    "snap_up", "roll_out", "inward_roll", "twist", "slip_midset", "uncalibrated_bias",
    "shoe_mount", "fatigue_tremor", "mixed_faults", "shuffle", "walk_to_step", "session",
)
RATE_CYCLE = (100, 25, 200, 100, 50, 500, 100, 1000, 100, 50, 200, 100)
# scenario -> number of traces (sides alternate left, right, ...)
COUNTS = {s: 4 for s in PARITY_SCENARIOS if s != "session"}
COUNTS.update({"realistic_good": 6, "mixed_faults": 6, "walk_to_step": 5, "session": 1})
# full-range traces appended to the parity corpus (saturation, sway, walking...)
FULL_SCENARIOS = ("realistic_good", "walk_to_step", "raised_top", "unsupported", "mixed_faults", "sets",
                  "pumping", "toe_rise", "first_rep", "session", "near_threshold", "shuffle")
FULL_RATES = (200, 100, 50, 500, 100, 50, 100, 200, 200, 100, 100, 25)
PARITY_FULL = 12

# -- the accuracy splits ---------------------------------------------------
# disjoint seed ranges (and the split's name in each trace's name)
SPLITS = {"tuning": 1000000, "heldout": 2000000, "check": 3000000}  # check: does a tuning change generalise?
SPLIT_TRACES = 96            # 4 blocks of 24: every mounting 4 times
# output rates per block of 24 traces (every rate in every block)
SPLIT_RATES = (25,) * 4 + (50,) * 4 + (100,) * 6 + (200,) * 4 + (500,) * 3 + (1000,) * 3

# the few traces committed to tests/traces: name -> (scenario, seed, side, rate, mounting, demo)
COMMITTED = {
    "demo_session": ("session", 2026, "left", 100, 0, True),
    "mixed_faults_right": ("mixed_faults", 7, "right", 100, 9, False),
    "walk_to_step_left": ("walk_to_step", 11, "left", 50, 17, False),
}
# simulator version the committed files were made with (they are kept as they
# are: the demo and many tests depend on them; see write_committed)
COMMITTED_VERSION = 1

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
_SOURCES = ("physics.py", "render.py", "scenarios.py", "script.py", "sensor.py", "truth.py", "corpus.py")


def repo_path(path):
    """A relative path is taken from the repository root when the package runs
    from a checkout (so tests find build/corpus from any cwd), else from cwd."""
    if os.path.isabs(path):
        return path
    if os.path.exists(os.path.join(_REPO, "pyproject.toml")):
        return os.path.join(_REPO, path)
    return os.path.abspath(path)


def version_stamp():
    h = hashlib.sha256(b"corpus-%d" % CORPUS_VERSION)
    paths = [os.path.join(_HERE, f) for f in _SOURCES]
    paths.append(os.path.join(os.path.dirname(_HERE), "traceio.py"))
    for p in paths:
        if os.path.exists(p):
            with open(p, "rb") as f:
                h.update(os.path.basename(p).encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def corpus_plan(base_seed=BASE_SEED):
    """The parity corpus: dicts with name, scenario, side, mounting, rate,
    seed, short, overrides. The first 74 traces (names as before) script every
    scenario's faults and features with benign nuisances (supported sway of
    0.3 deg, MPU-6050 at +-500 deg/s / +-4 g, no misalignment, no drops), so
    that they exercise every path of an engine that copes only with that;
    the last PARITY_FULL traces draw every nuisance over its whole range."""
    plan = []
    i = 0
    for sc in PARITY_SCENARIOS:
        for j in range(COUNTS[sc]):
            side = "left" if j % 2 == 0 else "right"
            rate = RATE_CYCLE[i % len(RATE_CYCLE)]
            mounting = (i * 7) % 24
            plan.append({"name": "%03d_%s_%s_%dhz" % (i, sc, side, rate), "scenario": sc, "side": side,
                         "mounting": mounting, "rate": rate, "seed": base_seed + i, "short": True,
                         "overrides": {"benign": True}})
            i += 1
    for j in range(PARITY_FULL):
        sc = FULL_SCENARIOS[j % len(FULL_SCENARIOS)]
        side = "left" if j % 2 == 0 else "right"
        rate = FULL_RATES[j % len(FULL_RATES)]
        mounting = (i * 7) % 24
        plan.append({"name": "%03d_full_%s_%s_%dhz" % (i, sc, side, rate), "scenario": sc, "side": side,
                     "mounting": mounting, "rate": rate, "seed": base_seed + i, "short": True})
        i += 1
    return plan


def split_plan(split, n=SPLIT_TRACES):
    """An accuracy split: ``n`` traces, each block of 24 holding every mounting
    once (shuffled), every rate (SPLIT_RATES, shuffled) and the scenarios in
    turn; sides alternate. Seeds: SPLITS[split] + i (disjoint between splits)."""
    if split not in SPLITS:
        raise ValueError("unknown split %r (known: %s)" % (split, ", ".join(SPLITS)))
    return block_plan(SPLITS[split], n, EVAL_SCENARIOS, split, split)


def block_plan(base, n, scenarios, prefix, split, mounting=None):
    """``n`` traces named PREFIX_i_..., seeds BASE + i: ``scenarios`` in turn,
    sides alternating, each block of 24 holding every mounting once (or all
    in ``mounting``) and every rate of SPLIT_RATES, shuffled from BASE (the
    splits' plan; tools/mkset.py makes targeted sets with it)."""
    prng = np.random.default_rng([base, 24])
    plan = []
    mounts, rates = [], []
    for i in range(n):
        if i % 24 == 0:
            mounts = list(prng.permutation(24))
            rates = list(prng.permutation(SPLIT_RATES))
        sc = scenarios[i % len(scenarios)]
        side = "left" if (i + i // len(scenarios)) % 2 == 0 else "right"
        rate = int(rates[i % 24])
        m = int(mounts[i % 24]) if mounting is None else mounting
        plan.append({"name": "%s_%03d_%s_%s_m%02d_%dhz" % (prefix, i, sc, side, m, rate), "scenario": sc,
                     "side": side, "mounting": m, "rate": rate, "seed": base + i, "short": False,
                     "split": split})
    return plan


def truth_text(truth):
    return json.dumps(truth, indent=1, sort_keys=False) + "\n"


def write_rendered(r, csv_path):
    """Write CSV_PATH and the truth next to it (NAME.truth.json)."""
    from heeldrop.traceio import write_trace
    write_trace(csv_path, r.columns(), r.meta)
    base = csv_path[:-4] if csv_path.endswith(".csv") else csv_path
    tpath = base + ".truth.json"
    with open(tpath + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write(truth_text(r.truth))
    os.replace(tpath + ".tmp", tpath)
    return csv_path, tpath


def _render_entry(job):
    e, out_dir = job
    r = render(e["scenario"], e["seed"], e["side"], e["rate"], e["mounting"], short=e.get("short", False),
               overrides=e.get("overrides"))
    write_rendered(r, os.path.join(out_dir, e["name"] + ".csv"))
    ent = dict(e)
    ent["mounting_name"] = MOUNTING_NAMES[e["mounting"]]
    ent["reps"] = len(r.truth["reps"])
    ent["duration_s"] = round(r.truth["duration_ms"] / 1000.0, 1)
    ent["samples"] = int(len(r.t_ms))
    return ent


def default_jobs():
    return max(1, min(2, os.cpu_count() or 1))


def build_set(out_dir, plan, base_seed, progress=None, jobs=None, kind="corpus"):
    """Render every trace of ``plan`` into OUT_DIR (created), write index.json.
    Returns the list of names."""
    os.makedirs(out_dir, exist_ok=True)
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    work = [(e, out_dir) for e in plan]
    entries = []
    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for ent in ex.map(_render_entry, work, chunksize=1):
                entries.append(ent)
                if progress:
                    progress(ent)
    else:
        for w in work:
            ent = _render_entry(w)
            entries.append(ent)
            if progress:
                progress(ent)
    index = {"version": version_stamp(), "kind": kind, "base_seed": base_seed, "count": len(entries),
             "generator": "heeldrop synth", "traces": entries}
    with open(os.path.join(out_dir, "index.json.tmp"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(index, indent=1) + "\n")
    os.replace(os.path.join(out_dir, "index.json.tmp"), os.path.join(out_dir, "index.json"))
    return [e["name"] for e in entries]


def build_corpus(out_dir, base_seed=BASE_SEED, progress=None, jobs=None):
    """The parity corpus into OUT_DIR (always regenerates)."""
    return build_set(out_dir, corpus_plan(base_seed), base_seed, progress, jobs, "parity")


def build_split(split, out_dir, progress=None, jobs=None):
    """An accuracy split into OUT_DIR (always regenerates)."""
    return build_set(out_dir, split_plan(split), SPLITS[split], progress, jobs, split)


def _current(out_dir, base_seed):
    try:
        with open(os.path.join(out_dir, "index.json"), encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError):
        return None
    if index.get("version") != version_stamp() or index.get("base_seed") != base_seed:
        return None
    names = [t["name"] for t in index.get("traces", [])]
    for n in names:
        if not (os.path.exists(os.path.join(out_dir, n + ".csv"))
                and os.path.exists(os.path.join(out_dir, n + ".truth.json"))):
            return None
    return names


def _ensure(out_dir, base_seed, builder):
    """Regenerate into OUT_DIR only if it is missing or outdated (version
    stamp). Built in a temporary sibling directory and swapped in, so
    concurrent callers never see half a set; built once: a concurrent
    caller (another test process, another `heeldrop synth`) waits for the
    one building it (a lock file beside it) and reuses its set."""
    names = _current(out_dir, base_seed)
    if names is not None:
        return names
    parent = os.path.dirname(out_dir.rstrip(os.sep)) or "."
    os.makedirs(parent, exist_ok=True)
    with _build_lock(os.path.join(parent, "." + os.path.basename(out_dir.rstrip(os.sep)) + ".lock")):
        return _ensure_locked(out_dir, base_seed, builder, parent)


@contextlib.contextmanager
def _build_lock(path):
    """An exclusive lock on PATH (flock; released when the process ends, so a
    killed build never blocks the next one). No lock where there is no flock."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent callers may both build (still never half a set)
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _ensure_locked(out_dir, base_seed, builder, parent):
    names = _current(out_dir, base_seed)
    if names is not None:  # built by the caller we waited for
        return names
    tmp = tempfile.mkdtemp(prefix=".build-", dir=parent)
    try:
        names = builder(tmp)
        names_now = _current(out_dir, base_seed)
        if names_now is not None:  # someone else finished first
            return names_now
        old = None
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rmdir(old)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        tmp = None
        if old:
            shutil.rmtree(old, ignore_errors=True)
        return names
    finally:
        if tmp and os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_corpus(dir="build/corpus", jobs=None):
    """The parity corpus in DIR, regenerated only if missing or outdated;
    returns the list of trace names (NAME.csv / NAME.truth.json)."""
    return _ensure(repo_path(dir), BASE_SEED, lambda d: build_corpus(d, jobs=jobs))


def split_dir(split):
    """build/eval/SPLIT in a checkout; installed, the user's cache folder."""
    from heeldrop import resources
    return resources.work_dir(os.path.join("eval", split), create=False)


def ensure_split(split, dir=None, jobs=None, progress=None):
    """An accuracy split (build/eval/SPLIT), regenerated only if missing or
    outdated; returns the list of trace names."""
    if split not in SPLITS:
        raise ValueError("unknown split %r (known: %s)" % (split, ", ".join(SPLITS)))
    d = repo_path(dir) if dir else split_dir(split)
    return _ensure(d, SPLITS[split], lambda t: build_split(split, t, progress=progress, jobs=jobs))


def write_committed(out_dir):
    """Render the committed traces (demo session and two small ones) with the
    CURRENT simulator into OUT_DIR. The files in tests/traces were made by
    simulator version COMMITTED_VERSION and are kept as they are (the demo and
    many tests rely on them); regenerate them there only on purpose, then run
    the whole suite."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, (sc, seed, side, rate, mounting, demo) in COMMITTED.items():
        r = render(sc, seed, side, rate, mounting, demo=demo)
        written.extend(write_rendered(r, os.path.join(out_dir, name + ".csv")))
    return written
