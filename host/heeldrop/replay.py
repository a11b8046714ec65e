"""Run the shared engine over a trace, on CPython or inside the MicroPython unix port.

Trace values (g, deg/s) are converted to integer counts at the trace's own
scale (a converted device log records its sensor's) or that of an MPU-6050 at
+-4 g and +-500 deg/s, and clipped to the 16-bit range as the chip itself
would saturate: the engine's input on the board. The conversion is done here,
once, for both interpreters, so that the two engines see the same integers
and must print the same events. Trace times go to the engine through
heelcore.events.TraceClock (wrap-safe ticks; a jump of days becomes a gap)
and come back in the events as the trace's own times, in both interpreters.
"""
import io
import os
import subprocess
import sys
import tempfile

from heelcore.config import Config
from heelcore.engine import Engine
from heelcore.events import TraceClock, to_json

ACCEL_LSB_PER_G = 8192
GYRO_LSB_PER_DPS = 65.5

from heeldrop import resources

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout (tests, dev tools)
FIRMWARE_LIB = resources.firmware_lib()
MP_RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp_replay.py")


def scales(trace):
    """(accel LSB per g, gyro LSB per deg/s): the trace's own (a converted
    device log records its sensor's) or the MPU-6050 at +-4 g / +-500 deg/s."""
    try:
        a = float(trace.meta.get("accel_lsb_per_g") or ACCEL_LSB_PER_G)
        g = float(trace.meta.get("gyro_lsb_per_dps") or GYRO_LSB_PER_DPS)
    except (TypeError, ValueError):
        return ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS
    if not (100 <= a <= 100000 and 1 <= g <= 10000):
        return ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS
    return (int(a) if a == int(a) else a), g


def _count(x, scale):
    # a value in g or deg/s as the 16-bit chip reports it: rounded, and
    # saturated at its rails (a reading beyond the configured range)
    v = int(round(x * scale))
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


def to_counts(trace, scale=None):
    """[(t, ax, ay, az, gx, gy, gz) integer tuples], clipped to int16 as the
    chip saturates; a sample with a NaN/inf value becomes None. scale:
    (accel LSB per g, gyro LSB per deg/s) to count at instead of the
    trace's own (scales())."""
    return list(iter_counts(trace, scale))


def iter_counts(trace, scale=None):
    """to_counts one sample at a time. A heeldrop.traceio.TraceStream (anything
    with blocks()) is read a block at a time, so memory does not grow with it."""
    a, g = scales(trace) if scale is None else scale
    if hasattr(trace, "blocks"):
        blocks = trace.blocks()
    else:
        blocks = ((trace.t_ms, trace.ax, trace.ay, trace.az, trace.gx, trace.gy, trace.gz),)
    for b in blocks:
        for t, ax, ay, az, gx, gy, gz in zip(b[0], b[1], b[2], b[3], b[4], b[5], b[6]):
            try:
                yield (int(t), _count(ax, a), _count(ay, a), _count(az, a),
                       _count(gx, g), _count(gy, g), _count(gz, g))
            except (ValueError, OverflowError):
                yield None


def config_for(trace, config=None, side=None):
    cfg = Config() if config is None else Config.from_dict(config.to_dict())
    s = side or trace.meta.get("side")
    if s in ("left", "right"):
        cfg.update({"side": s})
    return cfg


def side_switches(trace):
    """Times (ms) of side switches recorded in the trace metadata (side_switch_ms=t1,t2...)."""
    raw = trace.meta.get("side_switch_ms")
    if raw in (None, ""):
        return []
    out = []
    for part in str(raw).replace(";", ",").split(","):
        part = part.strip().strip("[]")
        if part:
            try:
                out.append(int(float(part)))
            except ValueError:
                pass
    return sorted(out)


def run_engine(trace, config=None, side=None, with_summary=True, on_sample=None, heelcore=None):
    """Events (contract dicts) of the engine over a trace, in order, ending with a summary.

    Side switches recorded in the trace (side_switch_ms) are applied as the
    button would: the engine switches side and recalibrates. ``heelcore``:
    another load of the engine to drive the same way, as (Engine, Config,
    TraceClock) (a test's model of a board's arithmetic); default this one."""
    cfg = config_for(trace, config, side)
    a, g = scales(trace)
    if heelcore is None:
        eng, clock = Engine(cfg, a, g), TraceClock()
    else:
        eng_cls, cfg_cls, clock_cls = heelcore
        eng, clock = eng_cls(cfg_cls.from_dict(cfg.to_dict()), a, g), clock_cls()
    events = []
    bad = 0
    switches = side_switches(trace)
    for s in iter_counts(trace):
        if s is None:
            bad += 1
            continue
        t = clock.tick(s[0])
        while switches and s[0] >= switches[0]:
            switches.pop(0)
            n = eng.set_side("right" if eng.side == "left" else "left", t)
            while n:
                events.append(clock.event(eng.pop_event()))
                n -= 1
        n = eng.step(t, s[1], s[2], s[3], s[4], s[5], s[6])
        while n:
            events.append(clock.event(eng.pop_event()))
            n -= 1
        if on_sample is not None:
            on_sample(eng, s)
    eng.finish()
    ev = eng.pop_event()
    while ev is not None:
        events.append(clock.event(ev))
        ev = eng.pop_event()
    if with_summary:
        summ = clock.event(eng.summary())
        if bad:
            summ["bad_samples"] = summ.get("bad_samples", 0) + bad
        events.append(summ)
    return events


def micropython_bin():
    return os.path.join(os.path.dirname(sys.executable), "micropython")


def run_engine_micropython(trace, config=None, side=None, heap="8m", micropython=None):
    """The same, inside the MicroPython unix port (or the given MicroPython
    binary, e.g. the 32-bit single-float build of `make unix32`): returns
    the JSON lines it printed."""
    cfg = config_for(trace, config, side)
    mp = micropython or micropython_bin()
    if not os.path.exists(mp):
        raise RuntimeError("MicroPython unix port not found at %s: run `make setup`" % mp)
    bad = 0
    switches = side_switches(trace)
    a, g = scales(trace)
    # the samples go through a temporary file, not memory: a trace of any length
    with tempfile.TemporaryFile() as f:
        w = io.TextIOWrapper(f, encoding="utf-8", newline="\n")
        w.write(to_json({"type": "config", "t_ms": 0, "rep": 0, "config": cfg.to_dict()}) + "\n")
        for s in iter_counts(trace):
            if s is None:
                bad += 1
                continue
            while switches and s[0] >= switches[0]:
                switches.pop(0)
                w.write("S\n")
            w.write("%d %d %d %d %d %d %d\n" % s)
        w.flush()
        w.detach()
        f.seek(0)
        env = dict(os.environ, MICROPYPATH=FIRMWARE_LIB + ":.frozen")
        r = subprocess.run([mp, "-X", "heapsize=" + heap, MP_RUNNER, repr(a), repr(g), str(bad)],
                           stdin=f, capture_output=True, env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("micropython engine failed: %s" % r.stderr.decode(errors="replace").strip()[-2000:])
    return r.stdout.decode().splitlines()
