"""heeldrop replay: run the detection engine over recorded traces and print its events."""
import os
import subprocess
import sys

from heelcore.events import to_json
from heeldrop.configfile import load_config
from heeldrop.errors import UserError

HELP = "replay traces through the detection engine and print its events"
EPILOG = """examples:
  heeldrop replay tests/traces/demo_session.csv
  heeldrop replay --format table session.csv
  heeldrop replay --engine micropython --side right trace.csv
  heeldrop replay --config my-settings.json --skip-bad noisy.csv

Accepts trace CSV files (see the trace CSV contract) and the two public
dataset formats (IPOL foot gait .txt, UCI PT exercises .txt). The jsonl
format prints exactly the detector events contract, one JSON object a line,
then a summary line; the micropython engine must print the same lines.
exit status: 0 ok, 1 the MicroPython engine failed, 2 bad input (one line on stderr
naming file, line, problem)."""


def add_arguments(p):
    p.add_argument("traces", nargs="+", metavar="TRACE", help="trace CSV or dataset file(s)")
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl", help="output format (default jsonl)")
    p.add_argument("--config", metavar="FILE", help="JSON file of settings (thresholds, hold target, ...)")
    p.add_argument("--side", choices=("left", "right"), help="override the trace's side")
    p.add_argument("--engine", choices=("cpython", "micropython"), default="cpython",
                   help="run the engine here (cpython) or in the MicroPython unix port")
    p.add_argument("--skip-bad", action="store_true", help="skip and count malformed sample lines instead of stopping")


def run(args):
    from heeldrop.importers import open_any
    from heeldrop.progress import Progress, tracked
    from heeldrop.replay import run_engine, run_engine_micropython
    cfg = load_config(args.config)
    out = sys.stdout
    status = 0
    for path in args.traces:
        # a trace CSV is read a block at a time while the engine runs: memory does
        # not grow with the file; the events (a few per rep) are kept until the end,
        # so a file that turns out bad halfway prints nothing but its error
        src = open_any(path, skip_bad=args.skip_bad)
        try:
            with Progress("replay %s" % os.path.basename(path), total=getattr(src, "size", None),
                          unit="bytes" if hasattr(src, "size") else "") as bar:
                tr = tracked(src, bar)
                if args.engine == "micropython":
                    try:
                        lines = run_engine_micropython(tr, cfg, args.side)
                    except RuntimeError as e:
                        raise UserError(str(e), code=1)
                    except subprocess.TimeoutExpired as e:
                        raise UserError("%s: the MicroPython engine did not finish within %.0f s; "
                                        "use the cpython engine for a file this long" % (path, e.timeout), code=1)
                    import json
                    events = [json.loads(x) for x in lines]
                else:
                    events = run_engine(tr, cfg, args.side)
                    lines = [to_json(e) for e in events]
        finally:
            src.close()
        if getattr(src, "skipped", 0):
            first = src.bad_lines[0] if src.bad_lines else None
            print("heeldrop replay: %s: skipped %d malformed line(s)%s" % (
                path, src.skipped, (" (first: line %d: %s)" % first) if first else ""), file=sys.stderr)
        for e in events:
            if e["type"] == "calibration_failed":
                print("heeldrop replay: %s: calibration could not complete: %s" % (path, e["reason"]), file=sys.stderr)
        if args.format == "jsonl":
            for line in lines:
                out.write(line + "\n")
        else:
            out.write(format_table(path, events))
    return status


def _fmt_fields(e):
    skip = ("type", "t_ms", "rep")
    parts = []
    for k, v in e.items():
        if k in skip or isinstance(v, (dict, list)):
            continue
        if isinstance(v, bool):
            if v:
                parts.append(k)
            continue
        parts.append("%s=%s" % (k, v))
    return " ".join(parts)


def format_table(path, events):
    lines = ["%s" % path, "%9s %4s  %-18s %s" % ("time s", "rep", "event", "details")]
    reps = []
    ticks = 0
    for e in events:
        if e["type"] == "summary":
            continue
        if e["type"] == "hold_tick":  # one a second of hold: the hold time is in the rep table
            ticks += 1
            continue
        if e["type"] == "rep_end":
            reps.append(e)
        lines.append("%9.2f %4d  %-18s %s" % (e["t_ms"] / 1000.0, e["rep"], e["type"], _fmt_fields(e)))
    if ticks:
        lines.append("%9s %4s  (%d hold_tick events, one a second of hold, are left out: --format jsonl has them)"
                     % ("", "", ticks))
    lines.append("")
    if reps:
        lines.append("%4s %8s %7s %9s %8s %8s %7s  %s" % ("rep", "depth", "hold s", "descent s", "deg/s", "rise s", "bounces", "faults"))
        for r in reps:
            faults = [k for k in ("fast_descent", "roll_out", "snap_up", "twist", "no_hold") if r.get(k)]
            lines.append("%4d %7.1f° %7.1f %9.1f %8.1f %8.1f %7d  %s" % (
                r["rep"], r["depth_deg"], r["hold_s"], r["descent_s"], r["descent_speed_dps"], r["rise_s"],
                r["bounces"], ", ".join(faults) or "-"))
    s = events[-1] if events and events[-1]["type"] == "summary" else None
    if s:
        lines.append("reps: %d%s" % (s["reps"], ("  (" + s["note"] + ")") if s.get("note") else ""))
    return "\n".join(lines) + "\n\n"
