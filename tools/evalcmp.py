"""Compare two `heeldrop evaluate --json` results of the same set (a
development aid): the goal lines side by side, then the traces whose rep or
flag counts changed.

    .venv/bin/python tools/evalcmp.py before.json after.json [-q]
"""
import json
import sys

FLAGS = ("fast_descent", "roll_out", "snap_up", "twist", "no_hold", "bounced")


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.3f" % v
    return str(v)


def main(argv):
    quiet = "-q" in argv
    paths = [a for a in argv if a != "-q"]
    if len(paths) != 2:
        sys.exit("usage: tools/evalcmp.py BEFORE.json AFTER.json [-q]")
    a, b = (json.load(open(p)) for p in paths)
    gb = {g["key"]: g for g in b["goals"]}
    for g in a["goals"]:
        h = gb.get(g["key"], {})
        mark = "" if h.get("measured") == g["measured"] else "  *"
        print("%-58s %8s %8s%s" % (g["text"][:58], fmt(g["measured"]), fmt(h.get("measured")), mark))
    ta, tb = a["total"], b["total"]
    for f in FLAGS:
        print("  %-13s tp/fp/fn %-14s -> %s" % (f, ta["flag_counts"][f], tb["flag_counts"][f]))
    print("  other false reps %s -> %s; reps in spans %s -> %s" % (
        ta.get("other_false_reps"), tb.get("other_false_reps"), ta.get("reps_in_spans"), tb.get("reps_in_spans")))
    for k in ("hold_cue_latency_median_s", "hold_cue_latency_p90_s", "hold_cue_missing"):
        if k in ta or k in tb:
            print("  %-26s %s -> %s" % (k, fmt(ta.get(k)), fmt(tb.get(k))))
    if quiet:
        return
    for name, ea in sorted(a["traces"].items()):
        eb = b["traces"].get(name)
        if eb is None:
            continue
        sa, sb = ea["summary"], eb["summary"]
        diffs = []
        for k in ("reps_true", "reps_detected"):
            if sa[k] != sb[k]:
                diffs.append("%s %s->%s" % (k, sa[k], sb[k]))
        for f in FLAGS:
            if sa["flag_counts"][f] != sb["flag_counts"][f]:
                diffs.append("%s %s->%s" % (f, sa["flag_counts"][f], sb["flag_counts"][f]))
        for k in ("depth_mae_deg", "hold_mae_s"):
            x, y = sa.get(k), sb.get(k)
            if x is not None and y is not None and abs(x - y) > 0.05:
                diffs.append("%s %.2f->%.2f" % (k, x, y))
        if sa.get("calibrated_at_still_start") != sb.get("calibrated_at_still_start"):
            diffs.append("cal %s->%s" % (sa.get("calibrated_at_still_start"), sb.get("calibrated_at_still_start")))
        if diffs:
            print("%s: %s" % (name, "; ".join(diffs)))


if __name__ == "__main__":
    main(sys.argv[1:])
