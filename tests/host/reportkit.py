"""Helpers for the report/history tests: contract event lists built from rep numbers."""
import json


def rep_events(rep, start_ms, depth=24.0, hold=30.0, descent=3.0, rise=1.5, bounces=0, **flags):
    """The events of one rep as the engine would emit them (contract fields)."""
    d_end = start_ms + int(descent * 1000)
    h_end = d_end + int(hold * 1000)
    end = h_end + int(rise * 1000) + 300
    evs = [{"type": "rep_start", "t_ms": start_ms + 250, "rep": rep, "onset_ms": start_ms}]
    if flags.get("fast_descent"):
        evs.append({"type": "descent_too_fast", "t_ms": start_ms + 400, "rep": rep, "speed_dps": 35.0})
    evs.append({"type": "hold_start", "t_ms": d_end + 1000, "rep": rep, "depth_deg": depth})
    for k in range(bounces):
        evs.append({"type": "bounce", "t_ms": d_end + 200 + 400 * k, "rep": rep, "amplitude_deg": 3.0})
    for s in range(1, int(hold) + 1):
        evs.append({"type": "hold_tick", "t_ms": d_end + s * 1000, "rep": rep, "hold_s": float(s)})
        if s == 30:
            evs.append({"type": "hold_target", "t_ms": d_end + s * 1000, "rep": rep, "hold_s": 30.0})
    if flags.get("roll_out"):
        evs.append({"type": "roll_out", "t_ms": d_end + 500, "rep": rep, "roll_deg": 18.0})
    if flags.get("twist"):
        evs.append({"type": "twist", "t_ms": d_end + 700, "rep": rep, "yaw_deg": 22.0})
    evs.append({"type": "rise_start", "t_ms": h_end + 200, "rep": rep, "hold_s": hold})
    if flags.get("snap_up"):
        evs.append({"type": "snap_up", "t_ms": h_end + 300, "rep": rep, "speed_dps": 70.0})
    evs.append({
        "type": "rep_end", "t_ms": end, "rep": rep, "start_ms": start_ms, "end_ms": end, "depth_deg": depth,
        "hold_s": hold, "descent_s": descent, "rise_s": rise, "descent_speed_dps": round(depth / descent, 2),
        "rise_speed_dps": round(depth / rise, 2), "bounces": bounces, "max_roll_deg": 4.0,
        "fast_descent": bool(flags.get("fast_descent")), "roll_out": bool(flags.get("roll_out")),
        "snap_up": bool(flags.get("snap_up")), "twist": bool(flags.get("twist")),
        "no_hold": bool(flags.get("no_hold")),
    })
    evs.append({"type": "reset_ready", "t_ms": end + 500, "rep": rep})
    return evs


def set_events(depths, side=None, first_rep=1, t0=2000, hold=30.0, gap_ms=3000, **flags):
    """Events for a set of reps of the given depths; a side event first when side is given."""
    evs = [{"type": "calibrated", "t_ms": t0 - 1000, "rep": 0, "level_tilt_deg": 1.0, "axis": [0.0, 1.0, 0.0]}]
    if side:
        evs.append({"type": "side", "t_ms": t0 - 500, "rep": 0, "side": side})
    t = t0
    for i, d in enumerate(depths):
        evs += rep_events(first_rep + i, t, depth=d, hold=hold, **flags)
        t = evs[-1]["t_ms"] + gap_ms
    return evs


def write_truth_like(path, events):
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")


def kinematic_trace(path, reps, side="left", rate_hz=100, still_s=4.0, rest_s=3.0, seed=1, started=None):
    """A simple rigid heel drop trace CSV (sensor z up, x forward): still start, then each rep
    (depth_deg, descent_s, hold_s, rise_s) as minimum-jerk moves about the sensor's y axis, with
    a little noise. Enough for the engine to calibrate and count reps; the corpus has the physics."""
    import math
    import random

    rnd = random.Random(seed)
    segs = [(0.0, 0.0, still_s)]
    for depth, descent, hold, rise in reps:
        segs += [(0.0, depth, descent), (depth, depth, hold), (depth, 0.0, rise), (0.0, 0.0, rest_s)]
    dt = 1000.0 / rate_hz
    lines = ["# sample_rate_hz=%d" % rate_hz, "# side=%s" % side, "# imu=mpu6050"]
    if started:
        lines.append("# started=%s" % started)
    lines.append("t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps")
    t = 0.0
    for a, b, dur in segs:
        n = max(1, int(round(dur * rate_hz)))
        for i in range(n):
            s = i / n
            mj = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5
            dmj = (30 * s ** 2 - 60 * s ** 3 + 30 * s ** 4) / dur
            th = a + (b - a) * mj
            w = (b - a) * dmj
            r = math.radians(th)
            ax = -math.sin(r) + rnd.gauss(0, 0.004)
            az = math.cos(r) + rnd.gauss(0, 0.004)
            ay = rnd.gauss(0, 0.004)
            lines.append("%d,%.5f,%.5f,%.5f,%.3f,%.3f,%.3f" % (
                int(round(t)), ax, ay, az, rnd.gauss(0, 0.1), w + rnd.gauss(0, 0.1), rnd.gauss(0, 0.1)))
            t += dt
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def write_log(path, trace, events, side="left", started="2026-11-02T07:30:00", close=True, uid=None):
    """A device session log (heelcore.record) holding a trace's samples (as counts) and the given events."""
    from heelcore.events import to_json
    from heelcore.record import LogWriter

    out = bytearray()
    w = LogWriter(out.extend, {"firmware": "test", "board": "sim", "imu": "mpu6050", "rate_hz": 100,
                               "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "accel_range_g": 4,
                               "gyro_range_dps": 500, "side": side, "started": started,
                               "calibration": {}, "config": {}, "uid": uid})
    evs = sorted((e for e in events if e.get("type") != "summary"), key=lambda e: e["t_ms"])
    k = 0
    for i in range(len(trace.t_ms)):
        t = trace.t_ms[i]
        w.add_sample(i, t, int(round(trace.ax[i] * 8192)), int(round(trace.ay[i] * 8192)),
                     int(round(trace.az[i] * 8192)), int(round(trace.gx[i] * 65.5)),
                     int(round(trace.gy[i] * 65.5)), int(round(trace.gz[i] * 65.5)))
        while k < len(evs) and evs[k]["t_ms"] <= t:
            w.flush()
            w.add_event(to_json(evs[k]))
            k += 1
    w.flush()
    for e in evs[k:]:
        w.add_event(to_json(e))
    if close:
        w.close(trace.t_ms[-1])
    with open(path, "wb") as f:
        f.write(bytes(out))
    return bytes(out)
