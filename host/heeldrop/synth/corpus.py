"""The labelled corpus: NAME.csv (trace CSV contract) + NAME.truth.json, and
index.json, all regenerated from seeds.

    from heeldrop.synth.corpus import ensure_corpus
    names = ensure_corpus()          # build/corpus, rebuilt only when outdated

The version stamp in index.json is a hash of the simulator's sources (and the
CSV writer's), so any change to them rebuilds the corpus on the next call.
"""
import hashlib
import json
import os
import shutil
import tempfile

from .physics import MOUNTING_NAMES
from .render import render
from .scenarios import SCENARIOS

CORPUS_VERSION = 1
BASE_SEED = 1000
RATE_CYCLE = (100, 25, 200, 100, 50, 500, 100, 1000, 100, 50, 200, 100)
# scenario -> number of traces (sides alternate left, right, ...)
COUNTS = {s: 4 for s in SCENARIOS if s != "session"}
COUNTS.update({"realistic_good": 6, "mixed_faults": 6, "walk_to_step": 5, "session": 1})

# the few traces committed to tests/traces: name -> (scenario, seed, side, rate, mounting, demo)
COMMITTED = {
    "demo_session": ("session", 2026, "left", 100, 0, True),
    "mixed_faults_right": ("mixed_faults", 7, "right", 100, 9, False),
    "walk_to_step_left": ("walk_to_step", 11, "left", 50, 17, False),
}

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))


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
    files = sorted(f for f in os.listdir(_HERE) if f.endswith(".py"))
    paths = [os.path.join(_HERE, f) for f in files]
    paths.append(os.path.join(os.path.dirname(_HERE), "traceio.py"))
    for p in paths:
        if os.path.exists(p):
            with open(p, "rb") as f:
                h.update(os.path.basename(p).encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def corpus_plan(base_seed=BASE_SEED):
    """The list of traces: dicts with name, scenario, side, mounting, rate, seed."""
    plan = []
    i = 0
    for sc in SCENARIOS:
        for j in range(COUNTS[sc]):
            side = "left" if j % 2 == 0 else "right"
            rate = RATE_CYCLE[i % len(RATE_CYCLE)]
            mounting = (i * 7) % 24
            plan.append({"name": "%03d_%s_%s_%dhz" % (i, sc, side, rate), "scenario": sc, "side": side,
                         "mounting": mounting, "rate": rate, "seed": base_seed + i})
            i += 1
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


def build_corpus(out_dir, base_seed=BASE_SEED, progress=None):
    """Render every trace of the plan into OUT_DIR (created), write index.json.
    Returns the list of names."""
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    for e in corpus_plan(base_seed):
        r = render(e["scenario"], e["seed"], e["side"], e["rate"], e["mounting"],
                   short=e["rate"] >= 500)
        write_rendered(r, os.path.join(out_dir, e["name"] + ".csv"))
        ent = dict(e)
        ent["mounting_name"] = MOUNTING_NAMES[e["mounting"]]
        ent["reps"] = len(r.truth["reps"])
        ent["duration_s"] = round(r.truth["duration_ms"] / 1000.0, 1)
        entries.append(ent)
        if progress:
            progress(ent)
    index = {"version": version_stamp(), "base_seed": base_seed, "count": len(entries),
             "generator": "heeldrop synth --corpus", "traces": entries}
    with open(os.path.join(out_dir, "index.json.tmp"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(index, indent=1) + "\n")
    os.replace(os.path.join(out_dir, "index.json.tmp"), os.path.join(out_dir, "index.json"))
    return [e["name"] for e in entries]


def _current(out_dir):
    try:
        with open(os.path.join(out_dir, "index.json"), encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError):
        return None
    if index.get("version") != version_stamp() or index.get("base_seed") != BASE_SEED:
        return None
    names = [t["name"] for t in index.get("traces", [])]
    for n in names:
        if not (os.path.exists(os.path.join(out_dir, n + ".csv"))
                and os.path.exists(os.path.join(out_dir, n + ".truth.json"))):
            return None
    return names


def ensure_corpus(dir="build/corpus"):
    """Regenerate the corpus in DIR only if it is missing or outdated (version
    stamp); returns the list of trace names (NAME.csv / NAME.truth.json).
    Built in a temporary sibling directory and swapped in, so concurrent
    callers never see half a corpus."""
    out_dir = repo_path(dir)
    names = _current(out_dir)
    if names is not None:
        return names
    parent = os.path.dirname(out_dir.rstrip(os.sep)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".corpus-", dir=parent)
    try:
        names = build_corpus(tmp)
        names_now = _current(out_dir)
        if names_now is not None:  # someone else finished first
            return names_now
        old = None
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=".corpus-old-", dir=parent)
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


def write_committed(out_dir):
    """The few traces kept in tests/traces (demo session and two small ones)."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, (sc, seed, side, rate, mounting, demo) in COMMITTED.items():
        r = render(sc, seed, side, rate, mounting, demo=demo)
        written.extend(write_rendered(r, os.path.join(out_dir, name + ".csv")))
    return written
