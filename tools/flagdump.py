"""Per-rep flag errors of a set (a development aid): every matched rep
whose flag differs from the truth, with the truth's and the engine's
figures side by side, as JSON lines (one rep a line).

    .venv/bin/python tools/flagdump.py build/eval/tuning FLAG [--jobs J] > out.jsonl
"""
import json
import multiprocessing
import os
import sys

from heeldrop.evaluate import _flag, match
from heeldrop.replay import run_engine
from heeldrop.traceio import read_trace

KEYS = ("depth_deg", "hold_s", "descent_s", "rise_s", "descent_speed_dps", "rise_speed_dps", "bounces",
        "max_roll_deg")


def one(job):
    d, name, flag = job
    tr = read_trace(os.path.join(d, name + ".csv"))
    truth = json.load(open(os.path.join(d, name + ".truth.json")))
    evs = run_engine(tr, None)
    det = [e for e in evs if e["type"] == "rep_end"]
    out = []
    for i, j in match(truth["reps"], det):
        t, e = truth["reps"][i], det[j]
        ft, fe = _flag(t, flag), _flag(e, flag)
        if ft != fe:
            row = {"trace": name, "rep": i + 1, "kind": "FN" if ft else "FP", "first": i == 0}
            row["truth"] = {k: v for k, v in t.items() if not isinstance(v, dict)}
            row["det"] = {k: e.get(k) for k in KEYS}
            out.append(row)
    return out


def main(argv):
    jobs = 1
    if "--jobs" in argv:
        k = argv.index("--jobs")
        jobs = int(argv[k + 1])
        argv = argv[:k] + argv[k + 2:]
    d, flag = argv
    names = [e["name"] for e in json.load(open(os.path.join(d, "index.json")))["traces"]]
    with multiprocessing.Pool(jobs) as p:
        for rows in p.imap(one, [(d, n, flag) for n in names]):
            for r in rows:
                print(json.dumps(r))


if __name__ == "__main__":
    main(sys.argv[1:])
