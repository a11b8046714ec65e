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
