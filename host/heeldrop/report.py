"""Session reports: what a runner and a physiotherapist look at after a session.

One or more sessions (device session logs or trace CSVs) are turned into
per-rep rows, a per-side summary, a left/right comparison judged by the 5 degree
rule (docs/EXERCISE.md "Left and right"), tips from the exercise guide
(docs/EXERCISE.md) for each fault seen, figures (matplotlib, Agg) and a single self-contained HTML page.

Layers, each usable on its own (tests and `heeldrop history` use the middle):
  load_session(path, config)      -> Session   (file -> events, optional depth)
  Session(...) from an event list  -> Session   (tests, other tools)
  analyse(sessions, config)       -> Analysis  (reps, sides, symmetry, tips)
  render_html / render_text / figures          (presentation)
"""
import base64
import datetime
import hashlib
import html
import io
import json
import os
import statistics
import sys
import time

from heeldrop.errors import UserError

# --- the numbers of the 5 degree rule: the lunge test's minimal detectable change, 4.6-4.7 deg
# (Powden, Hoch and Hoch 2015); docs/EXERCISE.md "Left and right", docs/REPORTS.md ---
SYMMETRIC_BELOW_DEG = 3.0   # < 3 deg: normal, symmetric
MEANINGFUL_DEG = 5.0        # >= 5 deg: beyond measurement error (MDC 4.6-4.7 deg)
MIN_VALID_REPS = 5          # per-side medians need at least this many valid reps

FAULTS = ("fast_descent", "bounce", "roll_out", "twist", "snap_up", "no_hold")
FAULT_LABELS = {
    "fast_descent": "too-fast descent",
    "bounce": "bounce",
    "roll_out": "roll-out",
    "twist": "twist",
    "snap_up": "snap-up",
    "no_hold": "no hold",
}
# Faults that distort the measured end range: a rep with one of these does not
# count as a valid rep for the depth medians (the heel overshoots when it drops
# fast or bounces; rolling or twisting changes what the pitch axis sees).
DEPTH_FAULTS = ("fast_descent", "bounce", "roll_out", "twist")

# Tips for each fault the detector reports, quoted word for word from the
# project's exercise guide (docs/EXERCISE.md, its own words).
# tests/host/test_report.py checks that every one of them is still there.
_FAST = "Take two to three seconds to lower the heel; a slow descent stretches the calf better than dropping into the bottom."
_PAUSE = "A pause at the bottom is the point of the rep: hold it still and smooth, not pulsing."
_RISE = ("Push through the ball of the foot and bring the heel up to level in one even movement, "
         "without turning or jerking.")
TIPS = {
    "fast_descent": [
        _FAST,
        "If the heel keeps falling fast, use a lower step or a smaller drop until you can control the whole way down.",
    ],
    "bounce": [
        "At the bottom, let the heel settle and stay there: small rebounds pull on the tendon without adding stretch.",
        _PAUSE,
    ],
    "roll_out": [
        "Lower the heel straight down; if the ankle tips toward the little toe, shorten the drop until the foot "
        "stays square.",
        "Load the forefoot evenly, big toe and little toe alike, so the foot cannot rock sideways.",
    ],
    "twist": [
        _RISE,
        "Rest a hand on a wall or rail for balance, so the foot on the step never has to turn to catch you.",
    ],
    "snap_up": [
        _RISE,
        "Stand at level for a moment between reps before the next drop.",
    ],
    "no_hold": [
        "Breathe out as the heel reaches the bottom and keep it there for a slow count before rising.",
        _PAUSE,
    ],
}
ASYMMETRY_TIP = (
    "When one side is stiffer, give it more time: extra reps or longer holds on that side, and compare again "
    "over the following weeks."
)

LOG_EXTENSIONS = (".hdl", ".log", ".bin", ".hdlog", ".session", ".sess")


# --------------------------------------------------------------------------
# configuration


def load_config(path=None, **overrides):
    """heelcore Config from a JSON file (or defaults); errors as UserError."""
    from heelcore.config import Config, ConfigError

    d = {}
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except OSError as e:
            raise UserError("%s: cannot read the config file (%s); check the path" % (path, e.strerror or e))
        except ValueError as e:
            raise UserError("%s: not valid JSON (%s); fix the file or drop --config" % (path, e))
    try:
        cfg = Config.from_dict(d, where=path or "config")
        if overrides:
            cfg.update(overrides)
    except ConfigError as e:
        raise UserError(str(e))
    return cfg


# --------------------------------------------------------------------------
# sessions


class Session:
    """One recorded session: its events (contract dicts) and what is known of it.

    path, kind ("trace" | "log" | "events"), meta (dict), side (starting side),
    events (list of event dicts), depth (None or (t_ms list, depth_deg list), at
    most a few ten thousand points however long the session), gaps (list of
    (t_before, t_after) in ms, stretches with no samples),
    notes (list of str: what was recovered, what is missing), started (ISO
    string or None), sha256 (of the file's bytes, or None).
    """

    def __init__(self, events, path="session", kind="events", meta=None, side=None,
                 depth=None, notes=None, started=None, sha256=None, span_ms=None, gaps=None):
        self.path = path
        self.kind = kind
        self.meta = dict(meta or {})
        self.side = side or self.meta.get("side") or "left"
        self.events = list(events)
        self.depth = depth
        self.notes = list(notes or [])
        self.started = started if started is not None else self.meta.get("started")
        self.sha256 = sha256
        self.gaps = list(gaps or [])  # (t_before, t_after) ms: no samples in between
        # the session's identity (a log's header uid, a converted CSV's session_uid): two files, one session
        uid = self.meta.get("uid") or self.meta.get("session_uid")
        self.uid = str(uid) if uid else None
        ts = [e["t_ms"] for e in self.events if isinstance(e.get("t_ms"), (int, float))]
        for e in self.events:
            if e.get("type") == "rep_end":
                ts.append(e.get("start_ms", e["t_ms"]))
        if depth and depth[0]:
            ts.extend((depth[0][0], depth[0][-1]))
        if span_ms:
            ts.extend(span_ms)
        self.t0_ms = min(ts) if ts else 0
        self.t1_ms = max(ts) if ts else 0

    @property
    def name(self):
        return os.path.basename(self.path)

    @property
    def duration_s(self):
        return (self.t1_ms - self.t0_ms) / 1000.0

    def reps(self):
        """Completed reps as dicts: the rep_end fields plus side, session, faults, events."""
        side = self.side
        side_at_start = {}
        per_rep = {}
        out = []
        for ev in self.events:
            typ = ev.get("type")
            if typ == "side" and ev.get("side") in ("left", "right"):
                side = ev["side"]
            elif typ == "rep_start":
                side_at_start[ev.get("rep")] = side
                per_rep[ev.get("rep")] = []
            elif typ == "rep_cancel":  # the number is used again by the next rep_start
                per_rep.pop(ev.get("rep"), None)
                continue
            if ev.get("rep"):
                per_rep.setdefault(ev["rep"], []).append(typ)
            if typ == "rep_end":
                r = dict(ev)
                r["side"] = side_at_start.get(ev.get("rep"), side)
                r["session"] = self.name
                r["bounces"] = int(r.get("bounces") or 0)
                r["bounce"] = r["bounces"] > 0
                for k in ("fast_descent", "roll_out", "snap_up", "twist", "no_hold"):
                    r[k] = bool(r.get(k))
                r["faults"] = [f for f in FAULTS if r[f]]
                r["hold_target_reached"] = "hold_target" in per_rep.get(ev.get("rep"), ())
                # stretches without samples inside the rep: its times there are not measured
                a, b = r.get("start_ms", r["t_ms"]), max(r.get("end_ms", r["t_ms"]), r["t_ms"])
                r["gap_s"] = sum(min(gb, b) - max(ga, a) for ga, gb in self.gaps if gb > a and ga < b) / 1000.0
                r["interrupted"] = bool(r.get("interrupted"))
                out.append(r)
        return out

    def incomplete_reps(self):
        """Rep numbers that started and were still open when the recording stopped."""
        open_reps = set()
        for e in self.events:
            typ = e.get("type")
            if typ == "rep_start":
                open_reps.add(e.get("rep"))
            elif typ in ("rep_end", "rep_cancel"):
                open_reps.discard(e.get("rep"))
        return sorted(r for r in open_reps if r)

    def cancelled(self):
        """[(t_ms, reason)] of the reps the engine abandoned (stepped off, side switched, ...)."""
        return [(e["t_ms"], e.get("reason", "")) for e in self.events if e.get("type") == "rep_cancel"]


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _log_magic():
    try:
        from heelcore import record
    except ImportError:
        return None
    return getattr(record, "MAGIC", None)


def detect_kind(path):
    """'log' or 'trace' by magic bytes, then by extension, then by content."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except IsADirectoryError:
        raise UserError("%s: is a folder; give session logs or trace CSV files (or use 'heeldrop import DIR')" % path)
    except OSError as e:
        raise UserError("%s: cannot read (%s); check the path" % (path, e.strerror or e))
    magic = _log_magic()
    if magic and head.startswith(magic):
        return "log"
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".txt"):
        return "trace"
    if ext in LOG_EXTENSIONS:
        return "log"
    text = head.lstrip()
    if text.startswith(b"#") or b"t_ms" in head:
        return "trace"
    raise UserError(
        "%s: neither a session log nor a trace CSV (unknown start bytes %r); give a .csv trace or a device session log"
        % (path, head[:8])
    )


def _engine_module():
    try:
        from heelcore import engine
    except ImportError:
        return None
    return engine


GAP_MS = 250          # a longer step between samples is a gap (the engine restarts its fusion after one)
KEEP_GAPS = 2000      # gaps listed for the figures and notes; all are counted


class Envelope:
    """The depth curve of a session of any length in bounded memory: a min/max
    envelope of (t_ms, depth) fed a block of samples at a time, plus the gaps
    in the samples.

    add(t, y) only appends to two arrays; flush() (after each block the
    engine read) reduces them with numpy into buckets of `step` samples, each
    kept as its lowest and highest point (their own times, NaN where the depth
    is not known yet). Past MAX_BUCKETS buckets, neighbours merge and step
    doubles, so a 10-hour trace keeps as many points as a 10-minute one:
    peaks are never lost, fine detail is (the figures cannot show it anyway).
    """

    MAX_BUCKETS = 1 << 14

    def __init__(self):
        from array import array

        self._t = array("d")
        self._y = array("d")
        self.add_t = self._t.append
        self.add_y = self._y.append
        self.step = 1
        self.parts = []          # numpy (4, k) arrays: t_lo, y_lo, t_hi, y_hi
        self.buckets = 0
        self.samples = 0
        self.gaps = []           # (t_before, t_after) of the first KEEP_GAPS gaps
        self.n_gaps = 0
        self.gap_ms = 0
        self.longest_gap = None  # (t_before, t_after)
        self.last_t = None

    def flush(self):
        import numpy as np

        n = len(self._t)
        if not n:
            return
        t = np.frombuffer(self._t, dtype=float).copy()
        y = np.frombuffer(self._y, dtype=float).copy()
        del self._t[:]
        del self._y[:]
        self.samples += n
        # gaps, also across the previous block
        prev = t[0] if self.last_t is None else self.last_t
        d = np.diff(t, prepend=prev)
        at = np.nonzero(d > GAP_MS)[0]
        if len(at):
            b = t[at]
            a = b - d[at]
            k = int(np.argmax(d[at]))
            self.n_gaps += len(at)
            self.gap_ms += float(d[at].sum())
            if self.longest_gap is None or d[at][k] > self.longest_gap[1] - self.longest_gap[0]:
                self.longest_gap = (float(a[k]), float(b[k]))
            room = KEEP_GAPS - len(self.gaps)
            if room > 0:
                self.gaps.extend(zip(a[:room].tolist(), b[:room].tolist()))
        self.last_t = t[-1]
        step = self.step
        k = -(-n // step)
        pad = k * step - n
        if pad:
            t = np.concatenate([t, np.full(pad, t[-1])])
            y = np.concatenate([y, np.full(pad, np.nan)])
        self._push(self._reduce(t.reshape(k, step), y.reshape(k, step)))
        while self.buckets > self.MAX_BUCKETS:
            self._halve()

    @staticmethod
    def _reduce(tb, yb):
        import numpy as np

        rows = np.arange(len(tb))
        known = ~np.isnan(yb)
        lo_i = np.where(known, yb, np.inf).argmin(axis=1)
        hi_i = np.where(known, yb, -np.inf).argmax(axis=1)
        any_known = known.any(axis=1)
        y_lo = np.where(any_known, yb[rows, lo_i], np.nan)
        y_hi = np.where(any_known, yb[rows, hi_i], np.nan)
        return np.vstack([tb[rows, lo_i], y_lo, tb[rows, hi_i], y_hi])

    def _push(self, part):
        self.parts.append(part)
        self.buckets += part.shape[1]

    def _halve(self):
        import numpy as np

        allp = np.concatenate(self.parts, axis=1) if len(self.parts) > 1 else self.parts[0]
        k = allp.shape[1]
        if k % 2:
            allp = np.concatenate([allp, allp[:, -1:]], axis=1)
        t_lo, y_lo, t_hi, y_hi = (x.reshape(-1, 2) for x in allp)
        rows = np.arange(len(t_lo))
        lo_i = np.where(np.isnan(y_lo), np.inf, y_lo).argmin(axis=1)
        hi_i = np.where(np.isnan(y_hi), -np.inf, y_hi).argmax(axis=1)
        merged = np.vstack([t_lo[rows, lo_i], y_lo[rows, lo_i], t_hi[rows, hi_i], y_hi[rows, hi_i]])
        self.parts = [merged]
        self.buckets = merged.shape[1]
        self.step *= 2

    def curve(self):
        """(t_ms list, depth list): each bucket's two points in time order."""
        import numpy as np

        self.flush()
        if not self.parts:
            return [], []
        p = np.concatenate(self.parts, axis=1)
        first = p[0] <= p[2]
        t = np.empty(2 * p.shape[1])
        y = np.empty(2 * p.shape[1])
        t[0::2] = np.where(first, p[0], p[2])
        y[0::2] = np.where(first, p[1], p[3])
        t[1::2] = np.where(first, p[2], p[0])
        y[1::2] = np.where(first, p[3], p[1])
        return t.tolist(), y.tolist()


def _run_with_depth(trace, config, progress=None):
    """Events, the depth curve and the gaps in one pass of the real engine, if it exposes depth.

    heeldrop.replay.run_engine calls on_sample(engine, sample) after each step;
    when heelcore's Engine has depth_deg(), the depth is read there (NaN until
    the foot axis is known) into an Envelope, reduced after each block the
    engine reads. trace: a Trace or a heeldrop.traceio.TraceStream. Returns
    None when the engine has no depth_deg(): the caller then runs the engine
    without it and the figure falls back to a schematic.
    """
    try:
        from heelcore.engine import Engine
        from heeldrop.replay import run_engine
    except ImportError as e:
        raise UserError("the detection engine is not available (%s); reinstall heeldrop with 'make setup'" % e)
    if not callable(getattr(Engine, "depth_deg", None)):
        return None
    from heeldrop.progress import Progress, tracked

    env = Envelope()
    t_add, d_add = env.add_t, env.add_y
    nan = float("nan")

    # side switches recorded in the trace are applied by run_engine itself
    def on_sample(eng, s):
        t_add(s[0])
        d_add(eng.depth_deg() if eng.axis_known else nan)

    bar = progress or Progress("report %s" % os.path.basename(getattr(trace, "path", None) or "session"),
                               total=getattr(trace, "size", None), unit="bytes" if hasattr(trace, "size") else "")
    events = run_engine(tracked(trace, bar, after_block=env.flush), config, on_sample=on_sample)
    if progress is None:
        bar.close()
    return events, env.curve(), env


def run_trace(trace, config, progress=None):
    """The real engine over a trace: (events, depth or None, Envelope or None)."""
    got = _run_with_depth(trace, config, progress)
    if got is not None:
        return got
    from heeldrop.replay import run_engine

    return run_engine(trace, config), None, None


def _run(trace, config, progress):
    """run_trace (which tests replace with a stub taking two arguments and giving two results)."""
    got = run_trace(trace, config) if progress is None else run_trace(trace, config, progress)
    return got[0], got[1], (got[2] if len(got) > 2 else None)


def _open_trace(path, notes):
    """A TraceStream over a trace CSV; bad sample lines are skipped and told in notes
    after the engine has read it (see _trace_notes). Header problems are errors."""
    from heeldrop.traceio import TraceError, open_trace

    try:
        return open_trace(path, skip_bad=True, extra=False)
    except TraceError as e:
        raise UserError("%s; fix the file or re-export it from the device" % e)


def _trace_notes(st, path, notes):
    if st.skipped:
        ln, msg = st.bad_lines[0]
        lines = ", ".join(str(n) for n, _m in st.bad_lines[:5]) + (", ..." if st.skipped > 5 else "")
        notes.append("%s:%d: %s; recovered the rest: %d bad line(s) skipped (line %s), %d samples read (%s)" % (
            path, ln, msg, st.skipped, lines, st.samples,
            _clock((st.last_t - st.first_t) / 1000.0) if st.samples else "0:00"))


def _gap_notes(env, path, t0, notes):
    if env is None or not env.n_gaps:
        return
    a, b = env.longest_gap
    notes.append("%s: %d gap(s) longer than %g s in the samples: no data for %s in all, the longest %s at %s"
                 % (path, env.n_gaps, GAP_MS / 1000.0, _duration(env.gap_ms / 1000.0), _duration((b - a) / 1000.0),
                    _clock((a - t0) / 1000.0)))


def _load_log(path, config, notes):
    """(meta, events, trace or None) from a device session log; damage is described in notes."""
    try:
        from heelcore.record import LogFormatError, LogReader
    except ImportError as e:
        raise UserError("%s: session logs need heelcore.record (%s); reinstall heeldrop with 'make setup'" % (path, e))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError("%s: cannot read (%s); check the path" % (path, e.strerror or e))
    try:
        r = LogReader(data)
    except LogFormatError as e:
        raise UserError("%s: %s; give a heeldrop session log (.hdl) or a trace CSV" % (path, e))
    header = dict(r.header or {})
    samples = r.samples()
    events = []
    bad_events = 0
    for line in r.events():
        try:
            ev = json.loads(line)
        except ValueError:
            bad_events += 1
            continue
        if isinstance(ev, dict) and "type" in ev:
            events.append(ev)
    if not any(e.get("type") == "side" for e in events):
        for side, t in r.sides():
            events.append({"type": "side", "t_ms": t, "rep": 0, "side": side})
        events.sort(key=lambda e: e.get("t_ms", 0))
    span = "%d samples (%s)" % (len(samples), _clock((samples[-1][1] - samples[0][1]) / 1000.0)) if samples \
        else "no samples"
    if r.errors or bad_events or not r.complete:
        what = list(r.errors)
        if bad_events:
            what.append("%d unreadable event record(s)" % bad_events)
        if not r.complete and not r.truncated:
            what.append("no end record (the session was not closed)")
        notes.append("%s: damaged session log: %s; recovered %s, %d events, %d reps" % (
            path, "; ".join(what) or "incomplete", span, len(events),
            sum(1 for e in events if e.get("type") == "rep_end")))
    if r.header is None:
        notes.append("%s: no readable header: scales assumed %s LSB/g and %s LSB/(deg/s)" % (path, 8192, 65.5))
    gaps = r.gaps()
    if gaps:
        notes.append("%s: %d gap(s) in the samples, %d samples lost (%s)" % (
            path, len(gaps), sum(g[1] for g in gaps), ", ".join(sorted({g[2] for g in gaps}))))
    trace = None
    if samples:
        from heeldrop.traceio import Trace

        a = float(header.get("accel_lsb_per_g") or 8192)
        g = float(header.get("gyro_lsb_per_dps") or 65.5)
        cols = list(zip(*samples))
        meta = {k: header[k] for k in ("side", "started", "imu", "board", "firmware", "uid") if header.get(k)}
        cur, flips = header.get("side"), []
        for side, t in r.sides():
            if side in ("left", "right") and side != cur:
                flips.append(str(t))
                cur = side
        if flips:
            meta["side_switch_ms"] = ",".join(flips)
        trace = Trace(t_ms=cols[1], ax=[v / a for v in cols[2]], ay=[v / a for v in cols[3]],
                      az=[v / a for v in cols[4]], gx=[v / g for v in cols[5]], gy=[v / g for v in cols[6]],
                      gz=[v / g for v in cols[7]], meta=meta, path=path)
    return header, events, trace


def load_session(path, config=None, progress=None):
    """Read a session log or trace CSV and get its events (the real engine for traces).

    A trace CSV is read a block at a time while the engine runs (memory does
    not grow with its length); the depth curve is kept as a bounded envelope."""
    if config is None:
        config = load_config()
    from heeldrop.traceio import TraceError

    kind = detect_kind(path)
    notes = []
    sha = file_sha256(path)
    env = None
    if kind == "trace":
        st = _open_trace(path, notes)
        try:
            meta = dict(st.meta)
            cfg = config
            side = meta.get("side")
            if side in ("left", "right") and side != config.side:
                cfg = _with(config, side=side)
            try:
                events, depth, env = _run(st, cfg, progress)
                st.drain()  # (the engine reads it all; a stand-in may not)
            except TraceError as e:  # nothing left, or the file went away while read
                raise UserError("%s; fix the file or re-export it from the device" % e) from None
        finally:
            st.close()
        _trace_notes(st, path, notes)
        span = (st.first_t, st.last_t) if st.first_t is not None else None
    else:
        meta, events, trace = _load_log(path, config, notes)
        depth = None
        span = (trace.t_ms[0], trace.t_ms[-1]) if trace is not None and trace.t_ms else None
        if trace is not None and not any(e.get("type") in ("rep_end", "calibrated") for e in events):
            side = meta.get("side")
            cfg = _with(config, side=side) if side in ("left", "right") and side != config.side else config
            events, depth, env = _run(trace, cfg, progress)
            notes.append("%s: no events recorded in the log; replayed its samples through the engine" % path)
        elif trace is not None and events:
            # the recorded events are the truth; the depth curve is only for the figure
            got = _run_with_depth(trace, _with(config, side=meta["side"]) if meta.get("side") in ("left", "right")
                                  else config, progress)
            if got is not None:
                depth, env = got[1], got[2]
        if trace is None and not events:
            raise UserError("%s: nothing could be recovered from this session log (%s); it holds no samples or events"
                            % (path, "; ".join(notes) or "empty"))
    if kind == "trace" and span:
        _gap_notes(env, path, span[0], notes)
    for ev in events:
        if ev.get("type") == "calibration_failed":
            notes.append("%s: calibration could not complete: %s" % (path, ev.get("reason", "")))
        elif ev.get("type") == "summary":
            if ev.get("note") and "calibration could not complete" not in ev["note"]:
                notes.append("%s: %s" % (path, ev["note"]))
            if ev.get("bad_samples"):
                notes.append("%s: the engine skipped %d bad sample(s)" % (path, ev["bad_samples"]))
    sess = Session(events, path=path, kind=kind, meta=meta, side=meta.get("side") or config.side,
                   depth=depth, notes=notes, sha256=sha, span_ms=span,
                   gaps=env.gaps if env is not None else None)
    for r in sess.incomplete_reps():
        sess.notes.append("%s: rep %d started but did not end (session cut short?); left out of the numbers"
                          % (path, r))
    gapped = [r for r in sess.reps() if r["gap_s"] >= MARK_GAP_S and not r["interrupted"]]
    if gapped:
        sess.notes.append("%s: %d rep(s) with a gap in the samples inside, counted in their hold and times though "
                          "nothing was measured then: rep %s" % (path, len(gapped), ", ".join(
                              "%s (%s)" % (r.get("rep"), _duration(r["gap_s"])) for r in gapped[:8]) +
                              (", ..." if len(gapped) > 8 else "")))
    cut = [r for r in sess.reps() if r["interrupted"]]
    if cut:
        sess.notes.append("%s: %d rep(s) interrupted (a gap in the samples ended them): rep %s" % (
            path, len(cut), ", ".join(str(r.get("rep")) for r in cut[:8]) + (", ..." if len(cut) > 8 else "")))
    gone = sess.cancelled()
    if gone:
        sess.notes.append("%s: %d rep(s) abandoned and not counted: %s" % (path, len(gone), "; ".join(
            "%s %s" % (_clock((t - sess.t0_ms) / 1000.0), why) for t, why in gone[:6]) + ("; ..." if len(gone) > 6
                                                                                         else "")))
    return sess


def _with(config, **kw):
    from heelcore.config import Config

    c = Config.from_dict(config.to_dict())
    c.update(kw)
    return c


# --------------------------------------------------------------------------
# analysis


def is_valid(rep, config):
    """A rep whose depth counts for the medians: deep enough, controlled, clean end range, not
    interrupted by a gap in the samples."""
    d = rep.get("depth_deg")
    if d is None or d < config.min_depth_deg or rep.get("interrupted"):
        return False
    return not any(rep.get(f) for f in DEPTH_FAULTS)


def _median(xs):
    return statistics.median(xs) if xs else None


HOLD_SLACK_S = 0.25  # a hold this close to the target counts (hold time error goal: 0.75 s)


def held_to_target(rep, target_s):
    """The hold reached the target (within HOLD_SLACK_S). Judged from hold_s, not from the
    hold_target event, so that a report or history with another target than the device's is right."""
    return (rep.get("hold_s") or 0.0) >= target_s - HOLD_SLACK_S


def side_summary(reps, config):
    """Numbers for one side from its rep dicts."""
    valid = [r for r in reps if r["valid"]]
    n = len(reps)
    held = sum(r.get("hold_s") or 0.0 for r in reps)
    target = config.hold_target_s
    reached = sum(1 for r in reps if held_to_target(r, target))
    counts = {f: sum(1 for r in reps if r.get(f)) for f in FAULTS}
    faulty = sum(1 for r in reps if r["faults"])
    return {
        "reps": n,
        "valid_reps": len(valid),
        "median_depth_deg": _median([r["depth_deg"] for r in valid]),
        "median_depth_all_deg": _median([r["depth_deg"] for r in reps if r.get("depth_deg") is not None]),
        "max_depth_deg": max([r["depth_deg"] for r in reps], default=None),
        "held_s": held,
        "median_hold_s": _median([r.get("hold_s") or 0.0 for r in reps]),
        "hold_target_s": target,
        "hold_reached": reached,
        "hold_adherence": (reached / n) if n else None,
        "reps_target": config.reps_per_side,
        "rep_adherence": (n / config.reps_per_side) if config.reps_per_side else None,
        "median_descent_s": _median([r["descent_s"] for r in reps if r.get("descent_s") is not None]),
        "median_descent_speed_dps": _median([r["descent_speed_dps"] for r in reps if r.get("descent_speed_dps") is not None]),
        "fault_counts": counts,
        "faulty_reps": faulty,
        "fault_rate": (faulty / n) if n else None,
    }


def verdict_for(diff_deg):
    """The 5 degree rule: 'symmetric' (< 3), 'borderline' (3 to < 5) or 'meaningful' (>= 5)."""
    if diff_deg < SYMMETRIC_BELOW_DEG:
        return "symmetric"
    if diff_deg < MEANINGFUL_DEG:
        return "borderline"
    return "meaningful"


def symmetry(left_depths, right_depths, min_reps=MIN_VALID_REPS):
    """Left/right comparison on per-side medians of valid-rep depths.

    Primary: the absolute difference in degrees, judged by the 5 degree rule
    (< 3 symmetric, 3-5 borderline, >= 5 meaningful). Secondary: the limb
    symmetry index LSI = restricted (shallower) side / other side x 100.
    verdict is one of symmetric, borderline, meaningful, too_few, one_side, none.
    """
    nl, nr = len(left_depths), len(right_depths)
    ml, mr = _median(left_depths), _median(right_depths)
    out = {"n_left": nl, "n_right": nr, "median_left": ml, "median_right": mr,
           "diff_deg": None, "restricted": None, "lsi": None, "verdict": "none", "enough": False}
    if ml is None and mr is None:
        out["message"] = "No valid reps yet: nothing to compare."
        return out
    if ml is None or mr is None:
        have = "left" if ml is not None else "right"
        missing = "right" if have == "left" else "left"
        out["verdict"] = "one_side"
        out["message"] = ("Only the %s side has valid reps: record the %s side too to compare them."
                          % (have, missing))
        return out
    diff = abs(ml - mr)
    out["diff_deg"] = diff
    if ml != mr:
        out["restricted"] = "left" if ml < mr else "right"
    deeper = max(ml, mr)
    out["lsi"] = (min(ml, mr) / deeper * 100.0) if deeper > 0 else None
    few = [s for s, n in (("left", nl), ("right", nr)) if n < min_reps]
    verdict = verdict_for(diff)
    if verdict == "symmetric":
        msg = "Difference %.1f\u00b0 (< %g\u00b0): symmetric, within normal variation." % (diff, SYMMETRIC_BELOW_DEG)
    elif verdict == "borderline":
        msg = ("Difference %.1f\u00b0 (%g\u2013%g\u00b0): borderline, within measurement error; the %s side is "
               "the shallower one, keep an eye on it." % (diff, SYMMETRIC_BELOW_DEG, MEANINGFUL_DEG, out["restricted"]))
    else:
        msg = ("Difference %.1f\u00b0 (\u2265 %g\u00b0): a meaningful difference, beyond measurement error. "
               "Spend extra time on the restricted side: the %s side." % (diff, MEANINGFUL_DEG, out["restricted"]))
    if few:
        out["verdict"] = "too_few"
        out["judged_as"] = verdict
        out["message"] = ("Fewer than %d valid reps on the %s side (%s): not judged yet; the medians need at least %d "
                          "valid reps per side. Provisional: %s" % (
                              min_reps, " and ".join(few),
                              ", ".join("%s %d" % (s, nl if s == "left" else nr) for s in few),
                              min_reps, msg))
    else:
        out["verdict"] = verdict
        out["enough"] = True
        out["message"] = msg
    return out


class Analysis:
    def __init__(self, sessions, config):
        self.sessions = sessions
        self.config = config
        self.reps = []
        for s in sessions:
            for r in s.reps():
                r["valid"] = is_valid(r, config)
                self.reps.append(r)
        self.sides = {}
        for side in ("left", "right"):
            rs = [r for r in self.reps if r["side"] == side]
            if rs:
                self.sides[side] = side_summary(rs, config)
        self.symmetry = symmetry(
            [r["depth_deg"] for r in self.reps if r["side"] == "left" and r["valid"]],
            [r["depth_deg"] for r in self.reps if r["side"] == "right" and r["valid"]],
        )
        seen = []
        for f in FAULTS:
            if any(r.get(f) for r in self.reps):
                seen.append(f)
        self.faults_seen = seen
        self.notes = [n for s in sessions for n in s.notes]

    def tip_groups(self):
        """[([label, ...], [tip text, ...])]: each guide tip once, under every fault seen that it answers
        (tips answering the same faults share one entry)."""
        order, labels = [], {}
        for label, n, texts in self.tips():
            lab = label if n is None else "%s (%d rep%s)" % (label, n, "" if n == 1 else "s")
            for t in texts:
                if t not in labels:
                    labels[t] = []
                    order.append(t)
                labels[t].append(lab)
        groups = []
        for t in order:
            if groups and groups[-1][0] == labels[t]:
                groups[-1][1].append(t)
            else:
                groups.append((labels[t], [t]))
        return groups

    def tips(self):
        """[(fault label, count, [tip text, ...])] for every fault seen, plus asymmetry."""
        out = []
        for f in self.faults_seen:
            n = sum(1 for r in self.reps if r.get(f))
            out.append((FAULT_LABELS[f], n, TIPS[f]))
        if self.symmetry["verdict"] == "meaningful" or self.symmetry.get("judged_as") == "meaningful":
            out.append(("restricted %s side" % self.symmetry["restricted"], None, [ASYMMETRY_TIP]))
        return out


def analyse(sessions, config=None):
    return Analysis(sessions, config or load_config())


# --------------------------------------------------------------------------
# text


def _f(x, fmt="%.1f", none="-"):
    return none if x is None else fmt % x


def _pct(x):
    return "-" if x is None else "%d%%" % round(100 * x)


def rep_faults_text(r):
    parts = []
    for f in r["faults"]:
        if f == "bounce":
            parts.append("bounce x%d" % r["bounces"])
        else:
            parts.append(FAULT_LABELS[f])
    if r.get("interrupted"):
        parts.append("interrupted")
    if r.get("gap_s", 0) >= GAP_MS / 1000.0:
        parts.append("no data for %s inside" % _duration(r["gap_s"]))
    return ", ".join(parts) or "-"


def render_text(a):
    lines = []
    for s in a.sessions:
        lines.append("%s: %s, %d reps, %s" % (s.name, s.kind, len(s.reps()), _clock(s.duration_s)))
    for side, m in a.sides.items():
        fc = ", ".join("%s %d" % (FAULT_LABELS[f], n) for f, n in m["fault_counts"].items() if n) or "no faults"
        lines.append(
            "%-5s  reps %d/%d  valid %d  median depth %s\u00b0  held %s s  holds \u2265 %gs %s  faults: %s (%s of reps)"
            % (side, m["reps"], m["reps_target"], m["valid_reps"], _f(m["median_depth_deg"]), _f(m["held_s"], "%.0f"),
               m["hold_target_s"], _pct(m["hold_adherence"]), fc, _pct(m["fault_rate"]))
        )
    sy = a.symmetry
    if sy["diff_deg"] is not None:
        lines.append("left/right: %.1f\u00b0 difference, LSI %s  \u2014 %s" % (
            sy["diff_deg"], _f(sy["lsi"], "%.0f%%"), sy["message"]))
    else:
        lines.append("left/right: " + sy["message"])
    for labels, texts in a.tip_groups():
        lines.append("tip (%s): %s" % (", ".join(labels), texts[0]))
    for n in a.notes:
        lines.append("note: " + n)
    return "\n".join(lines) + "\n"


def _clock(seconds):
    """m:ss, or h:mm:ss from an hour on."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)
    return "%d:%02d" % (seconds // 60, seconds % 60)


def _duration(seconds):
    """A length of time in words: 0.4 s, 12 s, 3 min 20 s, 2 h 05 min, 11 days 13 h."""
    if seconds < 10:
        return "%.1f s" % seconds
    s = int(round(seconds))
    if s < 60:
        return "%d s" % s
    if s < 3600:
        return "%d min %02d s" % (s // 60, s % 60)
    if s < 86400:
        return "%d h %02d min" % (s // 3600, s // 60 % 60)
    return "%d days %d h" % (s // 86400, s // 3600 % 24)


# --------------------------------------------------------------------------
# figures

PHASE_COLOURS = {"descent": "#9ecae1", "hold": "#a1d99b", "rise": "#fdd0a2"}
SIDE_COLOURS = {"left": "#1f77b4", "right": "#d62728"}
# event type -> (marker, colour, label); faults in warm colours
EVENT_STYLE = {
    "calibrated": ("s", "#555555", "calibrated"),
    "calibration_failed": ("X", "#000000", "calibration failed"),
    "side": ("P", "#7b3294", "side change"),
    "rep_start": ("|", "#08519c", "rep start"),
    "descent_too_fast": (">", "#e6550d", "too-fast descent"),
    "hold_start": ("v", "#238b45", "hold start"),
    "hold_tick": (".", "#74c476", "hold tick (1 s)"),
    "hold_target": ("*", "#006d2c", "hold target"),
    "bounce": ("x", "#de2d26", "bounce"),
    "roll_out": ("<", "#a50f15", "roll-out"),
    "twist": ("D", "#c51b8a", "twist"),
    "rise_start": ("^", "#8c6d31", "rise start"),
    "snap_up": ("^", "#fd8d3c", "snap-up"),
    "rep_end": ("|", "#3f007d", "rep end"),
    "reset_ready": ("o", "#969696", "ready"),
    "sensor_gap": ("$\u2205$", "#000000", "sensor gap"),
    "rep_cancel": ("o", "#000000", "rep cancelled"),
}
PANEL_S = 300.0  # seconds of session per timeline panel


def _phases(r):
    s = r["start_ms"]
    d = (r.get("descent_s") or 0.0) * 1000.0
    h = (r.get("hold_s") or 0.0) * 1000.0
    u = (r.get("rise_s") or 0.0) * 1000.0
    end = r.get("end_ms", s + d + h + u)
    a, b = s, min(s + d, end)
    c = min(b + h, end)
    e = min(c + u, end)
    return [("descent", a, b), ("hold", b, c), ("rise", c, e)]


def schematic_depth(reps):
    """(t_ms, depth) polyline through each rep's phases: level, bottom, held, back to level."""
    t, y = [], []
    for r in sorted(reps, key=lambda r: r["start_ms"]):
        ph = _phases(r)
        dep = r.get("depth_deg") or 0.0
        t += [ph[0][1], ph[0][2], ph[1][2], ph[2][2]]
        y += [0.0, dep, dep, 0.0]
    return t, y


def _decimate(t, y, max_points=6000):
    """Min/max envelope so a long trace plots fast and keeps its peaks (NaN: depth not known,
    kept only where a whole bin is unknown, so the line breaks there)."""
    import numpy as np

    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(t)
    if n <= max_points:
        return t, y
    step = -(-n // (max_points // 2))
    bins = -(-n // step)
    pad = bins * step - n
    if pad:
        t = np.concatenate([t, np.full(pad, t[-1])])
        y = np.concatenate([y, np.full(pad, np.nan)])
    red = Envelope._reduce(t.reshape(bins, step), y.reshape(bins, step))
    first = red[0] <= red[2]
    tt = np.empty(2 * bins)
    yy = np.empty(2 * bins)
    tt[0::2] = np.where(first, red[0], red[2])
    yy[0::2] = np.where(first, red[1], red[3])
    tt[1::2] = np.where(first, red[2], red[0])
    yy[1::2] = np.where(first, red[3], red[1])
    return tt, yy


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# (figure width in, seconds per panel, panel height in, legend columns, font size)
LAYOUTS = {"wide": (10.0, PANEL_S, 2.1, 7, 8), "phone": (4.3, 180.0, 1.9, 3, 8)}
NOT_MARKED = ("summary",)  # the end-of-replay totals: not a moment in the session


def _tick_step(span_s, most):
    """A clock-friendly tick step (s) giving at most `most` ticks over span_s."""
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800, 3600):
        if span_s / step <= most:
            return step
    return span_s / most


def n_panels(total_s, panel_s, most=None):
    """Panels of equal length, none longer than panel_s by more than 10%; at most `most`
    (a longer session gets longer panels: the figure stays a page, whatever the length)."""
    import math

    n = max(1, int(math.ceil(total_s / panel_s - 0.1)))
    return min(n, most) if most else n


CUT_GAP_S = 30.0    # a gap in the samples longer than this is cut out of the time axis...
BREAK_S = 6.0       # ...and drawn as a hatched break this wide (seconds of axis)
MARK_GAP_S = 1.0    # shorter gaps are drawn where they are, hatched; shorter than this, only the line breaks
MAX_PANELS = {"wide": 8, "phone": 10}
MAX_POINTS_PER_PANEL = 2400  # the min/max envelope is thinned to this for each panel


class TimeAxis:
    """Session time (ms) -> the timeline's x (s): long gaps cut out.

    A gap in the samples longer than CUT_S becomes a break BREAK_S wide, so a
    recording with an hour (or 10^6 s) without data draws the data that is
    there, at the usual scale, and says how long the break was. x() and
    real_s() are piecewise linear through the cut points (numpy interp):
    whatever the timestamps, nothing is allocated per millisecond or per
    second of session."""

    def __init__(self, t0_ms, t1_ms, gaps=(), cut_s=CUT_GAP_S, break_s=BREAK_S):
        self.t0 = t0_ms
        real = [float(t0_ms)]
        axis = [0.0]
        self.cuts = []  # (x_start, x_end, gap seconds)
        self._cut_k = set()  # segments k..k+1 of the breakpoints that are breaks
        for a, b in sorted(gaps):
            if (b - a) / 1000.0 <= cut_s or a < real[-1] or b > t1_ms:
                continue
            x_a = axis[-1] + (a - real[-1]) / 1000.0
            real += [float(a), float(b)]
            axis += [x_a, x_a + break_s]
            self._cut_k.add(len(real) - 2)
            self.cuts.append((x_a, x_a + break_s, (b - a) / 1000.0))
        real.append(float(max(t1_ms, real[-1])))
        axis.append(axis[-1] + (real[-1] - real[-2]) / 1000.0)
        self._real = real
        self._axis = axis
        self.total_s = axis[-1]

    def x(self, t_ms):
        import numpy as np

        return np.interp(np.asarray(t_ms, dtype=float), self._real, self._axis)

    def real_s(self, x):
        """Seconds since the start of the session at axis position x."""
        import numpy as np

        return (float(np.interp(x, self._axis, self._real)) - self.t0) / 1000.0

    def ticks(self, lo, hi, step):
        """Axis positions in [lo, hi] of round session times (multiples of step seconds),
        on the stretches with data (not in the breaks), never closer than step / 2."""
        import math

        out = []
        for k in range(len(self._axis) - 1):
            xa, xb = self._axis[k], self._axis[k + 1]
            if xb < lo or xa > hi or k in self._cut_k:
                continue
            off = (self._real[k] - self.t0) / 1000.0 - xa  # real seconds = x + off on this stretch
            r = math.ceil((max(lo, xa) + off) / step - 1e-9) * step
            while r - off <= min(hi, xb) + 1e-9:
                x = r - off
                if not out or x - out[-1] >= step / 2.0:
                    out.append(x)
                r += step
                if len(out) > 200:
                    return out
        return out


def _break_lines(xs, ys, gaps_x):
    """Insert NaN points inside each gap so the line is not drawn across it."""
    import numpy as np

    if not len(gaps_x) or not len(xs):
        return xs, ys
    mids = np.array([(a + b) / 2.0 for a, b in gaps_x])
    at = np.searchsorted(xs, mids)
    return np.insert(xs, at, mids), np.insert(ys, at, np.nan)


def timeline_figure(session, reps, layout="wide"):
    """The depth trace (or the schematic from rep numbers) with phases shaded, every event marked,
    and gaps in the samples shown as gaps (long ones cut out of the time axis)."""
    import numpy as np

    plt = _mpl()
    from matplotlib.ticker import FixedLocator, FuncFormatter, MultipleLocator

    width, panel_s, panel_h, ncol, fs = LAYOUTS[layout]
    t0 = session.t0_ms
    if session.depth is not None:
        dt, dy = session.depth
        measured = True
    else:
        dt, dy = schematic_depth(reps)
        measured = False
    dt = np.asarray(dt, dtype=float)
    dy = np.asarray(dy, dtype=float)
    gaps = [(a, b) for a, b in session.gaps if b - a >= GAP_MS]
    axis = TimeAxis(t0, session.t1_ms, gaps)
    total_s = max(axis.total_s, 1.0)
    npan = n_panels(total_s, panel_s, MAX_PANELS[layout])
    span = total_s / npan
    by_type = {}
    for ev in session.events:
        if ev.get("type") not in NOT_MARKED:
            by_type.setdefault(ev.get("type"), []).append(ev)
    gaps_x = [(float(axis.x(a)), float(axis.x(b)), (b - a) / 1000.0) for a, b in gaps]
    marked = [g for g in gaps_x if g[2] >= MARK_GAP_S]
    n_labels = 4 + len(by_type) + (1 if marked else 0)
    legend_h = 0.2 + 0.17 * ((n_labels + ncol - 1) // ncol)
    fig_h = 0.75 + panel_h * npan + legend_h
    fig, axes = plt.subplots(npan, 1, figsize=(width, fig_h), squeeze=False)
    axes = axes[:, 0]
    xs = axis.x(dt)
    breaks = [(a, b) for a, b, _ in gaps_x]
    # robust range: the reps' depths and the bulk of the curve, never wider than -45..90 deg,
    # so a stretch of nonsense (e.g. a sensor knocked loose) cannot flatten the real reps
    finite = dy[np.isfinite(dy)]
    deepest = max([r.get("depth_deg") or 0.0 for r in reps] + [10.0])
    hi = float(np.percentile(finite, 99.5)) if len(finite) else 0.0
    lo = float(np.percentile(finite, 0.5)) if len(finite) else 0.0
    ymax = min(max(deepest, hi), 90.0) * 1.15
    ymin = max(min(lo, 0.0), -45.0) - 2.0
    known = np.isfinite(dy)
    mt, my = (dt[known], dy[known]) if known.any() else (np.array([t0]), np.array([0.0]))
    # phases as one bar collection per phase and panel; events as marker-only lines (cheap to draw)
    phase_x = {name: [] for name in PHASE_COLOURS}
    for r in reps:
        for name, a, b in _phases(r):
            if b > a:
                xa, xb = float(axis.x(a)), float(axis.x(b))
                phase_x[name].append((xa, xb - xa))
    ev_xy = []
    for typ, evs in by_type.items():
        et = np.array([e["t_ms"] for e in evs if isinstance(e.get("t_ms"), (int, float))], dtype=float)
        if len(et):
            ev_xy.append((typ, axis.x(et), np.interp(et, mt, my, left=0.0)))
    handles = {}
    for i, ax in enumerate(axes):
        lo, hi = i * span, (i + 1) * span
        for name, xr in phase_x.items():
            xr = [(a, w) for a, w in xr if a + w >= lo and a <= hi]
            if xr:
                h = ax.broken_barh(xr, (ymin, ymax - ymin), facecolors=PHASE_COLOURS[name], alpha=0.6, lw=0)
                handles.setdefault(name, h)
        for a, b, secs in marked:
            if b < lo or a > hi:
                continue
            h = ax.axvspan(a, max(b, a + span / 400.0), facecolor="#eeeeee", edgecolor="#777777", hatch="////",
                           lw=0.6, zorder=2)
            handles.setdefault("no data (gap)", h)
            if secs > CUT_GAP_S or b - a > span / 25.0:
                ax.text(min(max((a + b) / 2.0, lo + span / 60.0), hi - span / 60.0), ymin + (ymax - ymin) * 0.04, "gap %s" % _duration(secs), rotation=90,
                        ha="center", va="top", fontsize=fs - 2, color="#333333", zorder=4, clip_on=True,
                        bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        sel = np.nonzero((xs >= lo - 1) & (xs <= hi + 1))[0]
        px, py = _decimate(xs[sel], dy[sel], MAX_POINTS_PER_PANEL)
        px, py = _break_lines(px, py, [g for g in breaks if g[1] >= lo - 1 and g[0] <= hi + 1])
        (line,) = ax.plot(px, py, color="#222222", lw=1.0 if measured else 1.2, ls="-" if measured else "--")
        handles.setdefault("depth" if measured else "depth (schematic)", line)
        for typ, et, ey in ev_xy:
            marker, colour, label = EVENT_STYLE.get(typ, ("o", "#000000", typ))
            m = (et >= lo) & (et <= hi)
            if not m.any():
                continue
            (mk,) = ax.plot(et[m], ey[m], ls="none", marker=marker, color=colour, zorder=3,
                            ms=2.5 if typ == "hold_tick" else 6.5, mew=1.5 if marker in ("|", "x") else 0.8)
            handles.setdefault(label, mk)
        ax.set_xlim(lo, hi)
        ax.set_ylim(ymax, ymin)  # heel down is down
        ax.xaxis.set_major_locator(FixedLocator(axis.ticks(lo, hi, _tick_step(span, 6 if layout == "wide" else 4))))
        ax.yaxis.set_major_locator(MultipleLocator(_tick_step(ymax - ymin, 4)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _clock(axis.real_s(v))))
        ax.tick_params(labelsize=fs)
        ax.set_ylabel("depth \u00b0", fontsize=fs)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("session time (%s)" % ("h:mm:ss" if axis.real_s(total_s) >= 3600 else "m:ss"), fontsize=fs)
    title = "%s: heel depth below level%s" % (session.name, "" if measured else " (schematic from rep numbers)")
    axes[0].set_title(title, fontsize=fs + 1, loc="left")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=ncol, fontsize=fs - 1,
               frameon=False)
    # fixed margins in inches (tight_layout costs a full extra draw on long sessions)
    fig.subplots_adjust(left=0.62 / width, right=1 - 0.12 / width, top=1 - 0.3 / fig_h,
                        bottom=(legend_h + 0.45) / fig_h, hspace=0.42 / panel_h * 1.0)
    return fig


def reps_figure(a, layout="wide"):
    """Depth per rep by side (valid filled, others hollow) with medians; hold per rep vs the target."""
    plt = _mpl()
    # the legends sit outside the plotting area (right of it, or under it on a phone): never over a point
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5.6) if layout == "wide" else (4.3, 7.6), sharex=False,
                                   layout="constrained")
    for side in ("left", "right"):
        rs = [r for r in a.reps if r["side"] == side]
        if not rs:
            continue
        col = SIDE_COLOURS[side]
        xs = list(range(1, len(rs) + 1))
        v = [(x, r["depth_deg"]) for x, r in zip(xs, rs) if r["valid"]]
        nv = [(x, r["depth_deg"]) for x, r in zip(xs, rs) if not r["valid"]]
        if v:
            ax1.plot([p[0] for p in v], [p[1] for p in v], "o", color=col, label="%s (valid)" % side)
        if nv:
            ax1.plot([p[0] for p in nv], [p[1] for p in nv], "o", mfc="none", color=col,
                     label="%s (fault or shallow)" % side)
        med = a.sides[side]["median_depth_deg"]
        if med is not None:
            ax1.axhline(med, color=col, ls="--", lw=1, label="%s median %.1f\u00b0" % (side, med))
        off = -0.2 if side == "left" else 0.2
        ax2.bar([x + off for x in xs], [r.get("hold_s") or 0.0 for r in rs], width=0.4, color=col, label=side)
    ax1.set_ylabel("depth \u00b0")
    ax1.set_title("Depth per rep", fontsize=10, loc="left")
    ax1.grid(True, alpha=0.3)
    ax2.axhline(a.config.hold_target_s, color="#006d2c", ls=":", lw=1.2,
                label="target %g s" % a.config.hold_target_s)
    ax2.set_ylabel("hold s")
    ax2.set_xlabel("rep (per side)")
    ax2.set_title("Hold per rep", fontsize=10, loc="left")
    ax2.grid(True, alpha=0.3)
    for ax in (ax1, ax2):
        if not ax.get_legend_handles_labels()[0]:
            continue
        if layout == "wide":
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
        else:
            ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2 if ax is ax2 else -0.12),
                      borderaxespad=0.0, frameon=False)
    return fig


def _png(fig, dpi=90):
    plt = _mpl()
    buf = io.BytesIO()
    # zlib level 3: about twice as fast as the default 6 for 10-15% more bytes
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return buf.getvalue()


def _render(job):
    """One figure as PNG bytes; job = (kind, layout, payload). Runs in a worker process or inline."""
    kind, layout, payload = job
    dpi = PHONE_DPI if layout == "phone" else 90
    if kind == "warm":
        _mpl()
        return None
    if kind == "timeline":
        session, reps = payload
        return _png(timeline_figure(session, reps, layout), dpi=dpi)
    return _png(reps_figure(payload, layout), dpi=dpi)


def _worker_init():
    """A figure worker leaves Ctrl-C to the command (which stops it): no traceback from a worker."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class FigurePool:
    """Render figures in two worker processes when the session is long (fork only; else inline).

    start() forks the workers before the engine runs, so that they import
    matplotlib (about 0.5 s) while the engine works in this process; the
    figures are then drawn two at a time and this process never loads
    matplotlib at all.
    """

    WORKERS = 2

    def __init__(self):
        self.ex = None

    def start(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return self
        try:
            self.ex = ProcessPoolExecutor(max_workers=self.WORKERS, mp_context=multiprocessing.get_context("fork"),
                                          initializer=_worker_init)
            for _ in range(self.WORKERS):
                self.ex.submit(_render, ("warm", None, None))
        except (OSError, ValueError, RuntimeError):
            self.ex = None
        return self

    def map(self, jobs):
        """PNG bytes for each job, in job order."""
        if self.ex is None or len(jobs) < 2:
            return [_render(j) for j in jobs]
        try:
            # heaviest first, so the two workers finish together
            order = sorted(range(len(jobs)), key=lambda i: jobs[i][0] != "timeline")
            futs = {i: self.ex.submit(_render, jobs[i]) for i in order}
            return [futs[i].result() for i in range(len(jobs))]
        except Exception:  # a broken pool (worker killed, no fork): draw here instead
            return [_render(j) for j in jobs]

    def close(self):
        if self.ex is not None:
            self.ex.shutdown(wait=True, cancel_futures=True)
            self.ex = None


def figures(a, phone=True, pool=None):
    """[(file name, title, PNG bytes, phone PNG bytes or None)]: a timeline per session, then the per-rep figure.

    The phone variant (narrow, shorter panels) is what a <picture> shows on screens up to 640 px wide.
    """
    heads, jobs = [], []
    used = set()
    for i, s in enumerate(a.sessions, 1):
        reps = [r for r in a.reps if r["session"] == s.name]
        stem = _safe(os.path.splitext(s.name)[0]) or "session"
        name = "timeline-%s.png" % stem
        if name in used:
            name = "timeline-%d-%s.png" % (i, stem)
        used.add(name)
        heads.append((name, "Session %s" % s.name))
        jobs.append(("timeline", "wide", (s, reps)))
        jobs.append(("timeline", "phone", (s, reps)) if phone else None)
    if a.reps:
        heads.append(("reps.png", "Depth and hold per rep"))
        jobs.append(("reps", "wide", a))
        jobs.append(("reps", "phone", a) if phone else None)
    real = [j for j in jobs if j is not None]
    done = iter((pool or FigurePool()).map(real))
    pngs = [next(done) if j is not None else None for j in jobs]
    return [(name, cap, pngs[2 * k], pngs[2 * k + 1]) for k, (name, cap) in enumerate(heads)]


PHONE_DPI = 130


def _safe(s):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)


# --------------------------------------------------------------------------
# HTML

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:12px;color:#1a1a1a;
background:#fafafa;line-height:1.4;font-size:16px}
main{max-width:1100px;margin:0 auto}
h1{font-size:1.35rem;margin:.2em 0 .4em}
h2{font-size:1.1rem;margin:1.4em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:.85rem;overflow-wrap:anywhere}
.verdict{border-radius:8px;padding:10px 12px;margin:10px 0;border-left:6px solid #888;background:#fff}
.verdict.symmetric{border-color:#2ca25f}.verdict.borderline{border-color:#fec44f}
.verdict.meaningful{border-color:#de2d26}.verdict.too_few,.verdict.one_side,.verdict.none{border-color:#999}
.big{font-size:1.6rem;font-weight:700}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%;margin:6px 0;border:1px solid #e3e3e3;
background:#fff}
.scroll.overflowing{background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)) left/40px 100% no-repeat local,
linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) right/40px 100% no-repeat local,
radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.25),transparent) right/14px 100% no-repeat scroll,#fff}
.scrollhint{display:none;font-size:.8rem;color:#555;margin:2px 0 0}
.scroll.overflowing+.scrollhint{display:block}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{padding:4px 6px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f0f0f0;position:sticky;top:0;white-space:normal;vertical-align:bottom;font-weight:600}
td.l,th.l{text-align:left}
td.w{white-space:normal;min-width:8em}
.scroll[data-name=sides]{width:fit-content}
table.sides{width:auto;min-width:24em}
table.sides td:not(.l),table.sides th:not(.l){min-width:7em}
table.sides td.l{white-space:normal}
tr.fault td{background:#fff5f0}
@media (max-width:700px){
 .scroll[data-name=sides]{width:auto}
 table.sides{min-width:100%}
 table.cards thead{display:none}
 table.cards,table.cards tbody,table.cards tr{display:block;width:100%}
 table.cards tr{display:grid;grid-template-columns:1fr 1fr;column-gap:12px;border:1px solid #ddd;border-radius:6px;
  margin:8px 0;padding:4px 8px;background:#fff}
 table.cards tr.fault{border-color:#f4b69c;background:#fff5f0}
 table.cards td{display:flex;justify-content:space-between;gap:6px;border:none;padding:2px 0;white-space:normal;
  text-align:right;min-width:0;background:none!important}
 table.cards td::before{content:attr(data-label);color:#555;text-align:left}
 table.cards td.span{grid-column:1/-1}
 .scroll.cardbox{border:none;background:none;overflow:visible}
}
figure{margin:10px 0}
figure picture{display:block}
figure img{display:block;width:100%;max-width:100%;height:auto;background:#fff}
figcaption{font-size:.8rem;color:#555}
ul.tips{padding-left:1.1em}
ul.tips li{margin:.3em 0}
blockquote{margin:.2em 0 .2em .3em;padding-left:.6em;border-left:3px solid #ccc;color:#333;font-size:.92rem}
.notes li{color:#8a4b00}
.small{font-size:.8rem;color:#555}
a.dl{margin-right:1em}
"""

# Sets data-figures-ok on <html> once every figure decoded (the browser test reads it),
# and records any script error in data-errors. Marks each table box that has to scroll
# sideways (class "overflowing": a shadow and a "scroll sideways" line show it) and
# records, for the browser test: data-overflow (the boxes that scroll), data-cells-outside
# (table cells not wholly inside the window: cut off), data-page-width.
CHECK_JS = """
(function(){
  var root=document.documentElement, errs=[];
  window.addEventListener('error',function(e){errs.push(String(e.message||e));root.setAttribute('data-errors',errs.join(' | '));});
  function check(){
    var imgs=document.querySelectorAll('img'), bad=[];
    for(var i=0;i<imgs.length;i++){var im=imgs[i];
      if(!(im.complete&&im.naturalWidth>0)){bad.push(im.getAttribute('alt')||('img'+i));}}
    var boxes=document.querySelectorAll('.scroll'), over=[];
    for(var j=0;j<boxes.length;j++){var b=boxes[j];
      if(b.scrollWidth>b.clientWidth+1){b.classList.add('overflowing');over.push(b.getAttribute('data-name')||('box'+j));}
      else{b.classList.remove('overflowing');}}
    var cells=document.querySelectorAll('td,th'), out=0, w=window.innerWidth;
    for(var k=0;k<cells.length;k++){var r=cells[k].getBoundingClientRect();
      if(r.width>0&&(r.left<-1||r.right>w+1)){out++;}}
    root.setAttribute('data-figures', String(imgs.length));
    root.setAttribute('data-page-width', document.documentElement.scrollWidth+'/'+window.innerWidth);
    root.setAttribute('data-overflow', over.join(' '));
    root.setAttribute('data-cells-outside', String(out));
    root.setAttribute('data-figures-ok', bad.length?('no: '+bad.join(', ')):'yes');
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
  window.addEventListener('resize',check);
})();
"""


def _e(x):
    return html.escape(str(x), quote=True)


def _table(headers, rows, row_classes=None, name="table", cls="", wide=(), spans=()):
    """A table in a box that scrolls sideways when it must (and then says so). cls "cards": on a
    phone each row becomes a card of label: value pairs, so no column is ever out of sight.
    wide: indexes of columns whose text may wrap; spans: columns that take a card's whole width."""
    out = ['<div class="scroll%s" data-name="%s"><table class="%s"><thead><tr>' % (
        " cardbox" if "cards" in cls else "", _e(name), _e(cls))]
    for i, h in enumerate(headers):
        out.append('<th%s>%s</th>' % (' class="l"' if i == 0 or i in wide else "", _e(h)))
    out.append("</tr></thead><tbody>")
    for j, row in enumerate(rows):
        rc = (row_classes or [None] * len(rows))[j]
        out.append("<tr%s>" % (' class="%s"' % rc if rc else ""))
        for i, c in enumerate(row):
            klass = [k for k, on in (("l", i == 0 or i in wide), ("w", i in wide),
                                     ("span", (i in wide or i in spans) and "cards" in cls)) if on]
            out.append('<td%s data-label="%s">%s</td>' % (
                ' class="%s"' % " ".join(klass) if klass else "", _e(headers[i]), _e(c)))
        out.append("</tr>")
    out.append('</tbody></table></div><p class="scrollhint">\u2194 the table is wider than the screen: '
               'scroll it sideways</p>')
    return "".join(out)


def side_rows(a):
    """(headers, rows): one row per side (the text summary and the CSV use this)."""
    heads = ["side", "reps", "valid reps", "median depth (valid)", "deepest", "time held", "median hold",
             "holds \u2265 target", "median descent", "descent speed"] + \
            [FAULT_LABELS[f] for f in FAULTS] + ["fault rate"]
    rows = []
    for side, m in a.sides.items():
        rows.append([
            side, "%d / %d" % (m["reps"], m["reps_target"]), m["valid_reps"],
            _f(m["median_depth_deg"], "%.1f\u00b0"), _f(m["max_depth_deg"], "%.1f\u00b0"),
            _f(m["held_s"], "%.0f s"), _f(m["median_hold_s"], "%.1f s"),
            "%d (%s) of %g s" % (m["hold_reached"], _pct(m["hold_adherence"]), m["hold_target_s"]),
            _f(m["median_descent_s"], "%.1f s"), _f(m["median_descent_speed_dps"], "%.1f \u00b0/s"),
        ] + [m["fault_counts"][f] for f in FAULTS] + [_pct(m["fault_rate"])])
    return heads, rows


def side_columns(a):
    """side_rows turned on its side, as the page shows it: one row per measure, one column per side
    (3 columns fit any screen; 17 did not)."""
    heads, rows = side_rows(a)
    return ["measure"] + [r[0] for r in rows], [[h] + [r[i] for r in rows] for i, h in enumerate(heads) if i]


def rep_rows(a):
    heads = ["session", "side", "rep", "depth", "hold", "descent", "descent speed", "rise", "rise speed",
             "bounces", "max roll", "valid", "faults"]
    rows, cls = [], []
    for r in a.reps:
        rows.append([
            r["session"], r["side"], r.get("rep"), _f(r.get("depth_deg"), "%.1f\u00b0"),
            _f(r.get("hold_s"), "%.1f s"), _f(r.get("descent_s"), "%.1f s"),
            _f(r.get("descent_speed_dps"), "%.1f \u00b0/s"), _f(r.get("rise_s"), "%.1f s"),
            _f(r.get("rise_speed_dps"), "%.1f \u00b0/s"), r["bounces"], _f(r.get("max_roll_deg"), "%.1f\u00b0"),
            "yes" if r["valid"] else "no", rep_faults_text(r),
        ])
        cls.append("fault" if r["faults"] else None)
    return heads, rows, cls


REP_FIELDS = ("session", "side", "rep", "start_ms", "end_ms", "depth_deg", "hold_s", "descent_s",
              "descent_speed_dps", "rise_s", "rise_speed_dps", "bounces", "max_roll_deg", "valid", "faults",
              "hold_target_reached", "gap_s", "interrupted")


def rep_records(a):
    """The per-rep table as plain values (numbers, booleans, a list of faults), one dict a rep."""
    out = []
    for r in a.reps:
        d = {k: r.get(k) for k in REP_FIELDS}
        d["faults"] = list(r["faults"])
        d["gap_s"] = round(r.get("gap_s") or 0.0, 3)
        out.append(d)
    return out


def reps_csv(a):
    """The per-rep table as CSV text (faults joined with ';', booleans as true/false)."""
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REP_FIELDS)
    for d in rep_records(a):
        w.writerow(["" if d[k] is None else ";".join(d[k]) if k == "faults" else
                    ("true" if d[k] else "false") if isinstance(d[k], bool) else d[k] for k in REP_FIELDS])
    return buf.getvalue()


def reps_json(a):
    return json.dumps({"reps": rep_records(a)}, indent=1, allow_nan=False) + "\n"


def analysis_json(a):
    """Everything the report says, as one JSON document (heeldrop report --json)."""
    doc = {
        "sessions": [{"name": x.name, "path": x.path, "kind": x.kind, "started": x.started, "side": x.side,
                      "duration_s": round(x.duration_s, 3), "reps": len(x.reps()), "sha256": x.sha256,
                      "gaps": len(x.gaps)} for x in a.sessions],
        "config": {"hold_target_s": a.config.hold_target_s, "reps_per_side": a.config.reps_per_side,
                   "min_depth_deg": a.config.min_depth_deg},
        "sides": a.sides,
        "symmetry": a.symmetry,
        "tips": [{"for": labels, "tips": texts} for labels, texts in a.tip_groups()],
        "notes": a.notes,
        "reps": rep_records(a),
    }
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def table_paths(html_path):
    """Where the per-rep table goes beside the page: report.html -> report-reps.csv, report-reps.json."""
    base = html_path[:-5] if html_path.lower().endswith(".html") else html_path
    return base + "-reps.csv", base + "-reps.json"


def render_html(a, figs=None, title="heeldrop session report", tables=None):
    """The whole page as a string: inline CSS, figures as base64 PNG, no external URL."""
    if figs is None:
        figs = figures(a)
    sy = a.symmetry
    p = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         "<title>%s</title><style>%s</style><script>%s</script></head><body><main>" % (_e(title), CSS, CHECK_JS),
         "<h1>%s</h1>" % _e(title)]
    p.append('<p class="meta">%s</p>' % "<br>".join(
        _e("%s \u2014 %s, %s, %d reps%s" % (s.name, s.kind, _clock(s.duration_s), len(s.reps()),
                                             (", started " + s.started) if s.started else ""))
        for s in a.sessions))
    # the left/right comparison first: it is the headline
    p.append("<h2>Left / right</h2>")
    p.append('<div class="verdict %s">' % _e(sy["verdict"]))
    if sy["diff_deg"] is not None:
        p.append('<div><span class="big">%s\u00b0</span> difference &nbsp; <span>LSI %s</span></div>' % (
            _e("%.1f" % sy["diff_deg"]), _e(_f(sy["lsi"], "%.0f%%"))))
        p.append('<div class="small">medians of valid reps: left %s (%d reps), right %s (%d reps)</div>' % (
            _e(_f(sy["median_left"], "%.1f\u00b0")), sy["n_left"], _e(_f(sy["median_right"], "%.1f\u00b0")),
            sy["n_right"]))
    p.append("<p>%s</p>" % _e(sy["message"]))
    p.append('<div class="small">The difference in degrees is the primary measure: under 3\u00b0 is symmetric, '
             '3\u20135\u00b0 borderline, 5\u00b0 or more is meaningful (beyond the 4.6\u20134.7\u00b0 measurement '
             'error). LSI = shallower side \u00f7 deeper side \u00d7 100. Computed on per-side medians of at least '
             '%d valid reps (deep enough, no too-fast descent, bounce, roll-out or twist).</div></div>'
             % MIN_VALID_REPS)
    p.append("<h2>Per side</h2>")
    if a.sides:
        heads, rows = side_columns(a)
        p.append(_table(heads, rows, name="sides", cls="sides"))
        p.append('<p class="small">Prescription: %d reps per side, hold %g s.</p>' % (
            a.config.reps_per_side, a.config.hold_target_s))
    else:
        p.append("<p>No completed reps.</p>")
    tips = a.tip_groups()
    p.append("<h2>Tips</h2>")
    if tips:
        p.append('<p class="small">From the exercise guide, for what was seen in this session.</p><ul class="tips">')
        for labels, texts in tips:
            p.append("<li><b>%s</b>%s</li>" % (
                _e(", ".join(labels)), "".join("<blockquote>%s</blockquote>" % _e(t) for t in texts)))
        p.append("</ul>")
    else:
        p.append("<p>No faults seen: smooth, even reps.</p>")
    p.append("<h2>Figures</h2>")
    for name, cap, data, phone in figs:
        p.append("<figure><picture>")
        if phone:
            p.append('<source media="(max-width: 640px)" srcset="data:image/png;base64,%s">'
                     % base64.b64encode(phone).decode("ascii"))
        p.append('<img alt="%s" src="data:image/png;base64,%s"></picture><figcaption>%s</figcaption></figure>' % (
            _e(name), base64.b64encode(data).decode("ascii"), _e(cap)))
    p.append('<p class="small">Shading: blue descent, green hold, orange rise. Markers: every detector event '
             '(faults in red and orange).</p>')
    p.append("<h2>Reps</h2>")
    if a.reps:
        csv_name, json_name = [os.path.basename(x) for x in (tables or table_paths("report.html"))]
        p.append('<p class="small">The table as data: <a class="dl" download="%s" href="data:text/csv;charset=utf-8;'
                 'base64,%s">%s</a><a class="dl" download="%s" href="data:application/json;base64,%s">%s</a>'
                 '%s</p>' % (
                     _e(csv_name), base64.b64encode(reps_csv(a).encode()).decode("ascii"), _e(csv_name),
                     _e(json_name), base64.b64encode(reps_json(a).encode()).decode("ascii"), _e(json_name),
                     "(also written beside this page)" if tables else ""))
        heads, rows, cls = rep_rows(a)
        p.append(_table(heads, rows, cls, name="reps", cls="cards", wide=(len(heads) - 1,),
                        spans=(heads.index("session"),)))
    else:
        p.append("<p>No completed reps.</p>")
    if a.notes:
        p.append('<h2>Notes</h2><ul class="notes">%s</ul>' % "".join("<li>%s</li>" % _e(n) for n in a.notes))
    p.append('<p class="small">Made by heeldrop on %s.</p>' % _e(
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M")))
    p.append("</main></body></html>\n")
    return "".join(p)


# --------------------------------------------------------------------------
# the whole job


def one_per_session(sessions, out=None):
    """Each session once: files with the same identity (uid) or the same bytes are one
    session (a download's .hdl and .csv); the session log is kept over a CSV made from it."""
    keep = {}
    order = []
    for s in sessions:
        key = ("uid", s.uid) if s.uid else ("sha256", s.sha256 or id(s))
        if key not in keep:
            keep[key] = s
            order.append(key)
            continue
        first = keep[key]
        if first.kind != "log" and s.kind == "log":
            keep[key] = s
            first, s = s, first
        if out is not None:
            out.write("note: %s is the same session as %s: counted once\n" % (s.path, first.path))
    return [keep[k] for k in order]


def make_report(paths, config=None, html_path=None, png_dir=None, out=None, as_json=False):
    """Load, analyse, write the requested outputs; return the Analysis. Prints the text summary
    (as_json: the whole analysis as JSON) to out."""
    config = config or load_config()
    pool = FigurePool()
    try:
        if (html_path or png_dir) and sum(_size(p) for p in paths) > PARALLEL_FIGURES_BYTES:
            pool.start()
        # (with as_json, stdout holds only the JSON document: such notes go to stderr)
        sessions = one_per_session([load_session(p, config) for p in paths],
                                   sys.stderr if as_json and out is not None else out)
        a = analyse(sessions, config)
        figs = figures(a, pool=pool) if (html_path or png_dir) else None
    finally:
        pool.close()
    if png_dir:
        try:
            os.makedirs(png_dir, exist_ok=True)
            for name, _cap, data, phone in figs:
                with open(os.path.join(png_dir, name), "wb") as f:
                    f.write(data)
                if phone:
                    with open(os.path.join(png_dir, name[:-4] + "-phone.png"), "wb") as f:
                        f.write(phone)
        except OSError as e:
            raise UserError("%s: cannot write figures (%s); pick a writable folder with --png" % (png_dir, e.strerror or e))
    if html_path:
        tables = table_paths(html_path)
        page = render_html(a, figs, tables=tables)
        try:
            d = os.path.dirname(os.path.abspath(html_path))
            os.makedirs(d, exist_ok=True)
            with open(html_path, "w", encoding="utf-8") as f:
                f.write(page)
            if a.reps:
                for path, text in zip(tables, (reps_csv(a), reps_json(a))):
                    with open(path, "w", encoding="utf-8", newline="") as f:
                        f.write(text)
        except OSError as e:
            raise UserError("%s: cannot write the report (%s); pick a writable path with --html" % (html_path, e.strerror or e))
    if out is not None:
        out.write(analysis_json(a) if as_json else render_text(a))
    return a


PARALLEL_FIGURES_BYTES = 2 << 20  # inputs above this (about 5 min at 100 Hz) draw figures on two cores


def _size(p):
    try:
        return os.path.getsize(p)
    except OSError:
        return 0


def bench_report(path, html_path=None, png_dir=None):
    """Seconds to report on one session file end to end (read, engine, analysis, figures, HTML)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        make_report([path], html_path=html_path or os.path.join(tmp, "r.html"),
                    png_dir=png_dir or os.path.join(tmp, "png"))
        return time.perf_counter() - t


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_TRACE = os.path.join(_ROOT if os.path.exists(os.path.join(_ROOT, "Makefile")) else os.getcwd(),
                           "build", "bench", "session-30min.csv")


def bench_trace(path=BENCH_TRACE, minutes=30.0, seed=1000):
    """A >= 30-minute trace for bench_report, made once by the simulator and kept at path.

    Simulated sessions (left then right, 12 reps each render, about 5.5 min)
    from consecutive seeds, all with the recommended mounting, are joined end
    to end with their times shifted, so the engine sees one long recording.
    """
    if os.path.exists(path):
        return path
    from heeldrop.synth import render
    from heeldrop.traceio import write_trace

    cols = {k: [] for k in ("t_ms", "ax", "ay", "az", "gx", "gy", "gz")}
    meta = None
    t_end = 0
    k = 0
    switches = []  # left -> right inside each render, right -> left at each join
    while t_end < minutes * 60000:
        r = render("session", seed=seed + k, side="left", rate=100, mounting=0, demo=True)
        c = r.columns()
        off = t_end + 10 if cols["t_ms"] else 0
        if cols["t_ms"]:
            switches.append(off)
        if r.meta.get("side_switch_ms") is not None:
            switches.append(int(r.meta["side_switch_ms"]) + off)
        cols["t_ms"].extend(int(t) + off for t in c["t_ms"])
        for key in ("ax", "ay", "az", "gx", "gy", "gz"):
            cols[key].extend(c[key])
        t_end = cols["t_ms"][-1]
        if meta is None:
            meta = {"sample_rate_hz": 100, "side": "left", "imu": r.meta.get("imu", "mpu6050"),
                    "source": "heeldrop-synth session x%d (bench)"}
        k += 1
    meta["source"] = meta["source"] % k
    meta["side_switch_ms"] = ",".join(str(t) for t in switches)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    write_trace(tmp, cols, meta)
    os.replace(tmp, path)
    return path
