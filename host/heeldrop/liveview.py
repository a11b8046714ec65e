"""The live view of a set: phase, depth, rep, hold timer, side, faults, a short
depth plot and each cue as text. Used by `heeldrop live` and `heeldrop demo`.

    view = LiveView(title="COM3", plain=None)   # None: rich when stdout is a terminal
    with view:
        view.status({"phase": "hold", "depth_deg": 18.2, ...})   # device STATUS
        view.depth(t_ms, depth_deg)                               # one plot point
        view.event(ev)                                            # an event dict: shown as a cue
        view.note("3 garbage bytes skipped")
    print(rep_summary(events))

Without a terminal (CI, a pipe) the view prints plain lines instead: one per
cue and one when the phase changes, nothing redrawn.
"""
import sys
import time

SPARK = " ▁▂▃▄▅▆▇█"
FAULTS = ("descent_too_fast", "bounce", "roll_out", "twist", "snap_up", "no_hold",
          "calibration_failed", "sensor_fault", "i2c_error", "unplugged", "flash_low", "flash_full")


def _f(ev, key, fmt="%.1f"):
    v = ev.get(key)
    return (fmt % v) if isinstance(v, (int, float)) else "?"


def cue_text(ev):
    """One line of coaching text for an event (None for events that are not cues)."""
    t = ev.get("type")
    rep = ev.get("rep", 0)
    if t == "calibrated":
        # two stages: level (standing still at the top), then the foot's axis, learned
        # from the first drop while the heel is already down: no "lower the heel" then
        if ev.get("stage") == "axis":
            return "Foot axis learned from this drop: coaching from here"
        return "Level learned: stand tall on the forefoot, then lower the heel slowly"
    if t == "calibration_failed":
        return "Calibration failed: " + str(ev.get("reason", "stand still on the step"))
    if t == "reset_ready":
        return "Ready for the next rep"
    if t == "rep_start":
        return "Rep %d: lowering" % rep
    if t == "descent_too_fast":
        return "Slower! lowering at %s°/s" % _f(ev, "speed_dps", "%.0f")
    if t == "hold_start":
        return "Hold at %s°" % _f(ev, "depth_deg")
    if t == "hold_tick":
        return "  %s s" % _f(ev, "hold_s", "%.0f")
    if t == "hold_target":
        return "Target reached: %s s held. Rise slowly." % _f(ev, "hold_s", "%.0f")
    if t == "bounce":
        return "Don't bounce (%s°)" % _f(ev, "amplitude_deg")
    if t == "roll_out":
        return "Ankle rolling out (%s°): keep the weight over the big toe" % _f(ev, "roll_deg")
    if t == "twist":
        return "Foot twisting (%s°): keep it pointing ahead" % _f(ev, "yaw_deg")
    if t == "rise_start":
        return "Rising"
    if t == "snap_up":
        return "Rise slower (%s°/s)" % _f(ev, "speed_dps", "%.0f")
    if t == "rep_end":
        faults = [k for k in ("fast_descent", "roll_out", "snap_up", "twist", "no_hold") if ev.get(k)]
        return "Rep %d done: %s° deep, %s s held%s" % (
            rep, _f(ev, "depth_deg"), _f(ev, "hold_s"), ("; " + ", ".join(faults)) if faults else "")
    if t == "no_hold":
        return "No hold at the bottom"
    if t == "side":
        return "Side: %s (recalibrating: stand still)" % ev.get("side")
    if t in ("sensor_fault", "i2c_error", "unplugged"):
        return "Sensor problem: %s %s" % (t.replace("_", " "), ev.get("message", "")).strip()
    if t == "sensor_ok":
        return "Sensor back"
    if t == "flash_low":
        return "Flash almost full: download the sessions soon"
    if t == "flash_full":
        return "Flash full: recording stopped"
    if t == "session_start":
        return "Session %s started" % ev.get("session", "")
    if t == "session_stop":
        return "Session %s stopped" % ev.get("session", "")
    if t in ("summary", "config"):
        return None
    return t


def sparkline(values, width, top=None):
    """Block-character plot of the last `width` values (depth grows upward)."""
    vals = list(values)[-width:]
    if not vals:
        return ""
    hi = max(top or 0.0, max(vals), 1.0)
    out = []
    for v in vals:
        k = int(round(max(0.0, v) / hi * (len(SPARK) - 1)))
        out.append(SPARK[k])
    return "".join(out)


def rep_summary(events, side=None):
    """Per-rep table (plain text) of the rep_end events, then totals."""
    reps = [e for e in events if e.get("type") == "rep_end"]
    lines = []
    if not reps:
        lines.append("no complete rep")
    else:
        lines.append("%4s %6s %8s %7s %9s %7s  %s" % ("rep", "side", "depth", "hold s", "descent s", "bounces", "faults"))
        sides = {}
        for e in events:
            if e.get("type") == "side":
                side = e.get("side")
            if e.get("type") == "rep_end":
                sides[e.get("rep")] = side
        for r in reps:
            faults = [k for k in ("fast_descent", "roll_out", "snap_up", "twist", "no_hold") if r.get(k)]
            lines.append("%4d %6s %7s° %7s %9s %7s  %s" % (
                r.get("rep", 0), sides.get(r.get("rep")) or "", _f(r, "depth_deg"), _f(r, "hold_s"),
                _f(r, "descent_s"), r.get("bounces", 0), ", ".join(faults) or "-"))
    s = [e for e in events if e.get("type") == "summary"]
    if s:
        s = s[-1]
        lines.append("reps: %d%s" % (s.get("reps", 0), ("  (" + s["note"] + ")") if s.get("note") else ""))
    return "\n".join(lines)


class LiveView:
    """A live terminal view (rich) or, without a terminal, plain lines."""

    def __init__(self, title="heeldrop", plain=None, bell=None, out=None, plot_s=20.0, refresh_hz=8):
        self.out = out or sys.stdout
        tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.plain = (not tty) if plain is None else plain
        self.bell = tty if bell is None else bell
        self.title = title
        self.plot_s = plot_s
        self.state = {"phase": "idle", "side": None, "rep": 0, "depth_deg": 0.0, "hold_s": 0.0,
                      "recording": None, "session": None}
        self.cues = []  # (t_ms, text)
        self.faults = {}  # name -> count
        self.notes = []
        self.points = []  # (t_ms, depth)
        self.t_ms = 0
        self.samples = 0
        self.lost = 0  # lost on the link
        self.device_lost = 0  # lost by the sensor itself (GAP frames)
        self.tx_dropped = 0  # frames the device's serial write could not send (its STATUS)
        self.extra = ""
        self._live = None
        self._session = False  # a session was seen: idle STATUS then keeps its last side and rep
        self._last = 0.0
        self._period = 1.0 / refresh_hz
        self._phase_shown = None
        self._fault_shown = None

    # -- context: start/stop the rich display
    def __enter__(self):
        if not self.plain:
            from rich.console import Console
            from rich.live import Live
            self._console = Console(file=self.out)
            self._live = Live(self._render(), console=self._console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.__exit__(*exc)
            self._live = None
        return False

    # -- inputs
    def status(self, st):
        idle = st.get("phase") in ("idle", None)
        if not idle:
            self._session = True
        for k, v in st.items():
            if idle and self._session and k in ("side", "rep"):
                # a device not running reports its configured side and rep 0: the view keeps
                # the side and rep the session ended on (shown as such)
                continue
            self.state[k] = v
        if "depth_deg" in st and isinstance(st["depth_deg"], (int, float)) and "t_ms" in st:
            self.depth(st["t_ms"], st["depth_deg"])
        if self.plain and st.get("config_fault") and st.get("config_fault") != self._fault_shown:
            self._fault_shown = st.get("config_fault")
            self._line("the device runs on default settings: %s" % self._fault_shown)
        if self.plain and self.state.get("phase") != self._phase_shown:
            self._phase_shown = self.state.get("phase")
            self._line("phase %s" % self._phase_shown)
        self.refresh()

    def depth(self, t_ms, depth_deg):
        self.t_ms = t_ms
        self.points.append((t_ms, depth_deg))
        if len(self.points) > 4096:
            del self.points[:2048]

    def event(self, ev):
        t = ev.get("type")
        if "t_ms" in ev and isinstance(ev["t_ms"], int):
            self.t_ms = max(self.t_ms, ev["t_ms"])
        if t in FAULTS or t in ("fast_descent",):
            self.faults[t] = self.faults.get(t, 0) + 1
        if t == "side":
            self.state["side"] = ev.get("side")
        if t in ("rep_start", "rep_end"):
            self.state["rep"] = ev.get("rep", self.state["rep"])
        if t in ("side", "rep_start", "rep_end", "calibrated", "session_start"):
            self._session = True
        text = cue_text(ev)
        if text is None:
            return
        self.cues.append((self.t_ms, text))
        del self.cues[:-6]
        if self.plain:
            self._line(text)
        elif self.bell and t not in ("hold_tick", "rise_start", "session_start", "session_stop"):
            self._console.bell()
        self.refresh(force=True)

    def note(self, text):
        self.notes.append(text)
        del self.notes[:-3]
        if self.plain:
            self._line("note: " + text)
        self.refresh(force=True)

    def refresh(self, force=False):
        if self._live is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self._period:
            self._last = now
            self._live.update(self._render(), refresh=True)

    # -- output
    def _line(self, text):
        self.out.write("%8.1f s  %s\n" % (self.t_ms / 1000.0, text))
        self.out.flush()

    def _plot(self, width):
        if not self.points:
            return ""
        t_end = self.points[-1][0]
        span = self.plot_s * 1000.0
        # one column per span/width ms: the deepest point in each
        cols = [None] * width
        for t, d in reversed(self.points):
            age = t_end - t
            if age > span:
                break
            k = width - 1 - int(age * width / span)
            if k >= 0 and (cols[k] is None or d > cols[k]):
                cols[k] = d
        last = 0.0
        vals = []
        for c in cols:
            if c is not None:
                last = c
            vals.append(last)
        return sparkline(vals, width, top=30.0)

    def _render(self):
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        st = self.state
        g = Table.grid(padding=(0, 2))
        g.add_column(style="bold")
        g.add_column()
        phase = str(st.get("phase") or "?")
        colour = {"hold": "blue", "descent": "cyan", "rise": "magenta", "top": "green"}.get(phase, "white")
        g.add_row("phase", Text(phase.upper(), style="bold " + colour))
        depth = st.get("depth_deg")
        g.add_row("depth", "%.1f°" % depth if isinstance(depth, (int, float)) else "?")
        ended = phase == "idle" and self._session
        g.add_row("rep", str(st.get("rep", 0)) + (" (last of the session)" if ended else ""))
        hold = st.get("hold_s")
        g.add_row("hold", ("%.1f s" % hold) if isinstance(hold, (int, float)) and hold else "-")
        g.add_row("side", str(st.get("side") or "?") + (" (at the end of the session)" if ended else ""))
        if st.get("recording") is not None:
            g.add_row("recording", ("session %s" % st.get("session")) if st.get("recording") else "no")
        if st.get("config_fault"):
            g.add_row("settings", Text("DEFAULTS: %s" % st["config_fault"], style="bold red"))
        g.add_row("faults", ", ".join("%s ×%d" % (k.replace("_", " "), v) for k, v in self.faults.items()) or "none")
        g.add_row("depth %ds" % self.plot_s, Text(self._plot(48), style="cyan"))
        for t, c in self.cues[-5:]:
            g.add_row("%7.1f s" % (t / 1000.0), c)
        for n in self.notes:
            g.add_row("note", Text(n, style="yellow"))
        sub = "t %.1f s" % (self.t_ms / 1000.0)
        if self.samples:
            sub += "  samples %d  link lost %d  sensor gaps %d" % (self.samples, self.lost, self.device_lost)
            if self.tx_dropped:
                sub += "  device dropped %d frames" % self.tx_dropped
        if self.extra:
            sub += "  " + self.extra
        return Panel(g, title=self.title, subtitle=sub, width=78)
