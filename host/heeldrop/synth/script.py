"""Scripted foot motion at the internal rate (1 sample = 1 ms).

A ``Script`` is built by appending segments: still stance, reps, partial
(shallow) drops, rises onto the toes, weight shifts, walking to / from the
step (stepping up onto it and down off it), rests between sets (a sequence
of poses: level, on the toes, heel hanging relaxed, the foot moved on the
step, the strap redone with the foot lifted, off the step), a re-strap
between sides. Each rep follows a plan dict (see ``scenarios.rep_plan``):
minimum-jerk descent from wherever the heel is (level or a raised top),
optional catch overshoot and rebounds, a hold with creep and fidgets, a
minimum-jerk rise to the plan's top and a dwell there (none: continuous
pumping). Roll and yaw excursions are layered afterwards at the recorded
indices. Every segment that is not a rep is recorded as a labelled span
(``spans``) so that the evaluation can count reps detected inside it.
``finish()`` returns the arrays; ``truth.py`` turns them into labels.
"""
import math

import numpy as np

from .physics import FS

# minimum-jerk profile: mean speed over 10-90 % of the travel = MJ_MEAN * D / T,
# peak speed = MJ_PEAK * D / T
MJ_T10, MJ_T90 = 0.246637, 0.753364
MJ_MEAN = 0.8 / (MJ_T90 - MJ_T10)
MJ_PEAK = 1.875

# kinds of span that are not reps (truth "spans"); "still_start" marks the
# still stance the device should calibrate in
SPAN_KINDS = ("still_start", "walk", "step_on", "step_off", "fidget", "toe_rise", "partial",
              "rest", "restrap")


def minjerk(n):
    """n samples of the minimum-jerk profile from just after 0 to exactly 1."""
    if n <= 0:
        return np.zeros(0)
    t = np.arange(1, n + 1) / n
    return t * t * t * (10 - 15 * t + 6 * t * t)


def smooth_bump(n_total, n_up, n_plateau, n_down):
    """0 -> 1 (min-jerk, n_up) -> 1 (n_plateau) -> 0 (n_down), padded with zeros to n_total."""
    b = np.concatenate([minjerk(n_up), np.ones(n_plateau), 1 - minjerk(n_down)])
    out = np.zeros(n_total)
    out[:min(n_total, len(b))] = b[:n_total]
    return out


def ms(seconds):
    return int(round(seconds * FS))


class Script:
    def __init__(self, side, rng, heel_radius=0.17):
        self.side = side
        self.rng = rng
        self.r = heel_radius
        self._theta = []
        self._psi = []      # yaw from walking turns (reps add yaw later)
        self._pivot = []    # (n, 3)
        self._acc = []      # extra world acceleration (n, 3), m/s^2
        self.n = 0
        self.last = 0.0     # pitch of the last sample
        self.pos = np.zeros(3)
        self.heading = 0.0  # deg
        self.reps = []      # rep records
        self.partials = []  # shallow drops (< the valid-rep depth): not reps
        self.roll_bumps = []  # (start, array) extra side-corrected roll
        self.yaw_bumps = []
        self.wobbles = []   # (index, amp_deg, freq, tau)
        self.shuffles = []
        self.walks = []
        self.spans = []     # {"kind", "start_ms", "end_ms"}
        self.sides = []     # (start index, side)
        self.restraps = []  # {"start", "end", "angle" (deg), "turn_s"}
        self.on_floor = []  # (start, end): standing on the floor (rest)
        self.sides.append((0, side))

    # -- low level -------------------------------------------------------
    def _append(self, theta, pivot=None, acc=None, psi=None):
        theta = np.asarray(theta, dtype=float)
        n = len(theta)
        if n == 0:
            return
        self._theta.append(theta)
        self._psi.append(np.full(n, self.heading) if psi is None else psi)
        self._pivot.append(np.tile(self.pos, (n, 1)) if pivot is None else pivot)
        self._acc.append(np.zeros((n, 3)) if acc is None else acc)
        self.n += n
        self.last = float(theta[-1])

    def span(self, kind, start, end=None, **extra):
        d = {"kind": kind, "start_ms": int(start), "end_ms": int(self.n - 1 if end is None else end)}
        d.update(extra)
        self.spans.append(d)
        return d

    def still_start(self, seconds, side=None):
        """The still stance a device calibrates in: at level (the heel moves
        there first if it is elsewhere), then ``seconds`` of standing still
        (sway and tremor come on top at render time). Returns (start, end)."""
        if self.n and abs(self.last) > 1e-9:
            self.move(0.0, 0.4)
        i0 = self.n
        self._append(np.zeros(ms(seconds)))
        self.span("still_start", i0, side=side or self.side)
        return i0, self.n - 1

    def still(self, seconds, theta=None):
        """Stand still at ``theta`` (default: where the heel is); a heel
        elsewhere moves there first (0.4 s, min-jerk): the foot never jumps."""
        if theta is not None and self.n and abs(theta - self.last) > 1e-9:
            self.move(theta, 0.4)
        self._append(np.full(ms(seconds), self.last if theta is None else theta))

    def move(self, to, seconds):
        """Min-jerk from the current pitch to ``to``."""
        a = self.last
        self._append(a + (to - a) * minjerk(ms(seconds)))

    # -- one rep ---------------------------------------------------------
    def rep(self, p, count=True, min_depth=None):
        """Append one drop following plan ``p`` (from the current pitch down to
        ``p['depth']`` and back up to ``p['top']``); returns its record. A drop
        whose peak is below ``min_depth`` (or, without min_depth, one appended
        with count=False) is a partial drop, too shallow to be a rep: recorded
        in ``partials`` and as a "partial" span."""
        rec = {"plan": p, "side": self.side}
        top0 = self.last
        top = p.get("top", 0.0)
        depth_b = p["depth"]
        i0 = self.n
        rec["start"] = i0
        rec["top0"] = top0
        nd = ms(p["t_descent"])
        self._append(top0 + (depth_b - top0) * minjerk(nd))
        rec["descent_end"] = self.n - 1
        peak = max(top0, depth_b)
        ov = p.get("overshoot", 0.0)
        if ov > 0:
            no = ms(p.get("overshoot_s", 0.2))
            self._append(depth_b + ov * np.sin(np.pi * np.arange(1, no + 1) / no))
            peak = max(peak, depth_b + ov)
        # rebounds: the heel comes up by amp and sinks back. A rebound's lowest
        # point is where the heel bottoms out and turns back up: the start of
        # its cycle (the arrival at the bottom for the first one)
        rec["bounce_idx"], rec["bounce_amp"], rec["bounce_hz"] = [], [], []
        for amp, f in p.get("bounces", []):
            nb = ms(1.0 / f)
            tt = np.arange(1, nb + 1) / nb
            rec["bounce_idx"].append(self.n - 1)
            rec["bounce_amp"].append(amp)
            rec["bounce_hz"].append(f)
            self._append(depth_b - 0.5 * amp * (1 - np.cos(2 * np.pi * tt)))
            if amp >= 2.0:
                self.wobbles.append((self.n - 1, min(0.5, 0.05 * amp), p.get("wobble_hz", 15.0), 0.08))
        rec["hold_start"] = self.n
        nh = ms(p["hold"])
        th = np.arange(1, nh + 1) / FS
        hold = depth_b + p.get("creep", 0.0) * (1 - np.exp(-th / p.get("creep_tau", 8.0)))
        for (at, amp, dur) in p.get("fidgets", []):
            a, nf = ms(at), ms(dur)
            if a + nf < nh:
                hold[a:a + nf] += amp * np.sin(np.pi * np.arange(nf) / nf)
        self._append(hold)
        if nh:
            peak = max(peak, float(hold.max()))
        rec["peak"] = peak
        rec["rise_start"] = self.n
        th_end = self.last
        nr = ms(p["t_rise"])
        self._append(th_end + (top - th_end) * minjerk(nr))
        rec["end"] = self.n - 1
        if p.get("snap_wobble"):
            self.wobbles.append((self.n - 1, p["snap_wobble"], p.get("wobble_hz", 15.0), 0.1))
        self.still(p["dwell"], top)
        rec["dwell_end"] = self.n
        # layered roll / yaw excursions (relative offsets inside the rep)
        for key, store in (("roll", self.roll_bumps), ("yaw", self.yaw_bumps)):
            b = p.get(key)
            if not b:
                continue
            s = rec["hold_start"] + ms(b["at"]) if b["where"] == "hold" else rec["start"] + ms(b["at"])
            shape = b["amp"] * smooth_bump(ms(b["up"]) + ms(b["plateau"]) + ms(b["down"]),
                                           ms(b["up"]), ms(b["plateau"]), ms(b["down"]))
            store.append((s, shape))
        if (peak >= min_depth) if min_depth is not None else count:
            self.reps.append(rec)
        else:
            self.partials.append(rec)
            self.span("partial", rec["start"], rec["end"], depth_deg=round(float(depth_b), 2))
        return rec

    # -- not-reps --------------------------------------------------------
    def toe_rise(self, top, t_up, stay, t_down=None):
        """Rise onto the toes (heel ``top`` < 0 above level) before the first
        drop; with ``t_down`` come back down to level afterwards."""
        i0 = self.n
        self.move(top, t_up)
        self.still(stay, top)
        if t_down is not None:
            self.move(0.0, t_down)
        return self.span("toe_rise", i0, top_deg=round(float(top), 2))

    def shuffle(self, amp, seconds, roll=0.0, yaw=0.0):
        """A weight shift / fidget: the heel dips by ``amp`` degrees (negative:
        lifts) and comes back, with some roll and yaw."""
        n = ms(seconds)
        i0 = self.n
        base = self.last
        shape = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, n + 1) / n))  # ends back at base
        self._append(base + amp * shape)
        if roll:
            self.roll_bumps.append((i0, roll * shape))
        if yaw:
            self.yaw_bumps.append((i0, yaw * shape))
        self.shuffles.append({"t_ms": i0 + n // 2, "deg": round(float(amp), 2)})
        self.span("fidget", i0, deg=round(float(amp), 2))

    def walk(self, strides, direction="in", step_height=0.17, on_step=True):
        """Walk up to the step (``in``: the last stride lands the forefoot on
        the step edge, the step-on) or turn and walk away (``out``: the first
        stride steps down, the step-off). ``on_step=False``: walking on the
        floor at both ends (no step). Gait: flat stance, push-off (heel rises
        35-60 deg), swing to heel strike (toes up 10-25 deg), impact of
        1.5-8 g at the heel, foot flat; foot pitch rates reach 250-600 deg/s."""
        rng = self.rng
        i_start = self.n
        if self.last != 0.0:
            self.move(0.0, 0.3)
        if direction == "out":
            n = ms(rng.uniform(0.8, 1.5))
            psi = self.heading + 180.0 * minjerk(n)
            self._append(np.zeros(n), psi=psi)
            self.heading += 180.0
        for k in range(strides):
            i_stride = self.n
            T = rng.uniform(0.9, 1.3)
            L = rng.uniform(0.7, 1.3)
            th_to = rng.uniform(35, 60)
            th_hs = rng.uniform(10, 25)
            dz = 0.0
            if on_step and direction == "in" and k == strides - 1:
                dz = step_height
            if on_step and direction == "out" and k == 0:
                dz = -step_height
            f_po, f_sw = rng.uniform(0.15, 0.3), rng.uniform(0.25, 0.4)
            n_po, n_sw, n_hs = ms(f_po * T), ms(f_sw * T), ms(0.12 * T)
            self.still(max(0.05, (1 - f_po - f_sw - 0.12) * T), 0.0)
            self._append(-th_to * minjerk(n_po))
            # swing: forefoot pivot travels L along the heading and lifts
            s = minjerk(n_sw)
            th = -th_to + (th_hs + th_to) * s
            hd = np.radians(self.heading)
            d = np.array([math.cos(hd), math.sin(hd), 0.0])
            piv = self.pos[None, :] + (L * s)[:, None] * d[None, :]
            piv[:, 2] += 0.08 * np.sin(np.pi * s) + dz * s + self.r * math.sin(math.radians(th_hs)) * s
            self._append(th, pivot=piv)
            self.pos = self.pos + L * d + np.array([0, 0, dz])
            # heel strike, then the forefoot comes down about the heel
            s2 = minjerk(n_hs)
            th2 = th_hs * (1 - s2)
            piv2 = np.tile(self.pos, (n_hs, 1))
            piv2[:, 2] += self.r * np.sin(np.radians(th2))
            acc = np.zeros((n_hs, 3))
            A = rng.uniform(1.5, 8.0) * 9.80665
            w = rng.uniform(0.01, 0.03)  # impact pulse width, s
            tp = np.arange(n_hs) / FS
            pulse = np.where(tp < w, np.sin(np.pi * tp / w), 0.0)
            ring = 0.25 * np.exp(-tp / 0.03) * np.sin(2 * np.pi * 25 * tp)
            acc[:, 2] = A * (pulse + ring)
            acc[:, :2] = -0.4 * A * pulse[:, None] * d[None, :2]
            self.wobbles.append((self.n, float(rng.uniform(0.2, 0.6)), float(rng.uniform(12, 20)), 0.06))
            self._append(th2, pivot=piv2, acc=acc)
            if dz > 0:
                self.span("step_on", i_stride)
            elif dz < 0:
                self.span("step_off", i_stride)
        self.still(0.5, 0.0)
        self.walks.append({"start_ms": i_start, "end_ms": self.n - 1, "direction": direction,
                           "step": bool(on_step)})
        self.span("walk", i_start)

    def floor_stand(self, seconds):
        """Stand on the floor (rest between sets): weight shifts now and then."""
        rng = self.rng
        i0 = self.n
        end = self.n + ms(seconds)
        while self.n < end - 1500:
            self.still(min(rng.uniform(2.0, 12.0), (end - self.n) / FS))
            if self.n < end - 2500:
                self.shuffle(-rng.uniform(1, 10), rng.uniform(0.6, 2.0), roll=rng.uniform(-4, 4),
                             yaw=rng.uniform(-10, 10))
        if self.n < end:
            self.still((end - self.n) / FS, 0.0)
        self.on_floor.append((i0, self.n))

    def rest(self, plan):
        """Rest between sets (``scenarios.rest_plan``): a sequence of poses,
        each for its share of the rest: ``level`` (standing at level on the
        step with weight shifts), ``toes`` (up on the toes, the heel sinking
        a little as the calf tires and lifted again), ``hang`` (the heel
        hanging relaxed a few degrees below level, shallower than a rep),
        ``shift`` (the foot lifted and set down flat further onto the step,
        then back to the edge), ``restrap`` (the foot lifted off the step,
        the strap redone: the sensor turned over) and ``off`` (stepping off
        to the floor, standing or walking about there, stepping back on).
        One "rest" span covers it all, with each pose's stretch in its
        ``poses``; the moves inside keep their own spans (fidget, walk,
        step_off, step_on, restrap)."""
        i0 = self.n
        poses = []
        for b in plan["bouts"]:
            j0 = self.n
            end = j0 + ms(b["s"])
            pose = b["pose"]
            extra = {}
            if pose == "level":
                self._level_stand(end)
            elif pose == "toes":
                extra = self._toes(b, end)
            elif pose == "hang":
                self.move(b["deg"], b["t_in"])
                self._hang(b, end - ms(b["t_out"]))
                self.move(0.0, b["t_out"])
                extra = {"deg": round(float(b["deg"]), 2)}
            elif pose == "shift":
                self._shift(b, end)
                extra = {"dist_m": round(float(b["dist"]), 3), "lift_deg": round(float(b["lift"]), 1)}
            elif pose == "restrap":
                self.restrap(None, b["s"], angle=b["angle"], lift=True, turn_s=b["turn_s"])
                extra = {"angle_deg": round(float(b["angle"]), 1)}
            elif pose == "off":
                self._off(b, end)
                extra = {"stroll": int(b.get("stroll", 0)), "restrap": bool(b.get("restrap"))}
            if self.n < end:
                self.still((end - self.n) / FS, 0.0)
            poses.append(dict({"pose": pose, "start_ms": int(j0), "end_ms": int(self.n - 1)}, **extra))
        if self.last != 0.0:
            self.move(0.0, 0.5)
        self.span("rest", i0, poses=poses)

    def _level_stand(self, end):
        rng = self.rng
        if self.last != 0.0:
            self.move(0.0, rng.uniform(0.5, 1.5))
        while self.n < end - 2500:
            self.still(min(rng.uniform(3.0, 15.0), (end - self.n) / FS), 0.0)
            if self.n < end - 2500:
                self.shuffle(rng.uniform(1, 6), rng.uniform(0.6, 2.0), roll=rng.uniform(-3, 3))

    def _toes(self, b, end):
        """Up on the toes (heel ``top`` above level), the heel sinking by up to
        ``sink`` degrees as the calf tires and lifted back now and then."""
        rng = self.rng
        top = b["top"]
        self.move(top, b["t_up"])
        stay = max(0, end - ms(b["t_down"]) - self.n)
        tau = max(1.0, b["s"] / 3.0)
        prof = np.zeros(stay)
        k, cur = 0, 0.0
        while k < stay:
            seg = min(stay - k, ms(rng.uniform(5.0, 20.0)))
            t = np.arange(1, seg + 1) / FS
            prof[k:k + seg] = cur + (b["sink"] - cur) * (1 - np.exp(-t / tau))
            k += seg
            cur = prof[k - 1]
            if k < stay - 1000:  # lifted back to the top over 0.4-1 s
                n_up = min(ms(rng.uniform(0.4, 1.0)), stay - k)
                prof[k:k + n_up] = cur * (1 - minjerk(n_up))
                k += n_up
                cur = prof[k - 1]
        self._append(top + prof)
        self.move(0.0, b["t_down"])
        return {"top_deg": round(float(top), 2), "sink_deg": round(float(b["sink"]), 2)}

    def _hang(self, b, end):
        if self.n < end:
            self._append(np.full(end - self.n, self.last))

    def _shift(self, b, end):
        """The foot lifted (heel up), set down flat ``dist`` further onto the
        step (a light touch-down), stood on, then back to the edge."""
        rng = self.rng
        i0 = self.n
        for sgn in (1.0, -1.0):
            lift = -b["lift"]
            n_up = ms(rng.uniform(0.3, 0.6))
            n_dn = ms(rng.uniform(0.3, 0.6))
            th = np.concatenate([lift * minjerk(n_up), lift * (1 - minjerk(n_dn))])
            s = minjerk(n_up + n_dn)
            d = np.array([math.cos(math.radians(self.heading)), math.sin(math.radians(self.heading)), 0.0])
            piv = self.pos[None, :] + (sgn * b["dist"] * s)[:, None] * d[None, :]
            piv[:, 2] += 0.04 * np.sin(np.pi * s)
            acc = np.zeros((len(th), 3))
            w = rng.uniform(0.02, 0.05)
            tp = np.arange(n_dn) / FS
            acc[n_up:, 2] = rng.uniform(0.3, 1.5) * 9.80665 * np.where(tp < w, np.sin(np.pi * tp / w), 0.0)
            self._append(th, pivot=piv, acc=acc)
            self.pos = self.pos + sgn * b["dist"] * d
            if sgn > 0:
                self.still(max(0.5, (end - self.n) / FS - 2.0), 0.0)
        self.span("fidget", i0, deg=round(float(-b["lift"]), 2))

    def _off(self, b, end):
        rng = self.rng
        self.walk(b["out"], "out", step_height=self.step_h)
        t_in = 1.3 * b["in"] + 1.0
        if b.get("stroll"):
            self.floor_stand(rng.uniform(2.0, 6.0))
            self.walk(b["stroll"], "in", on_step=False)
            self.walk(b["stroll"], "out", on_step=False)
        if b.get("restrap"):
            self.floor_stand(rng.uniform(2.0, 5.0))
            r = b["restrap"]
            self.restrap(None, r["s"], angle=r["angle"], turn_s=r["turn_s"])
        self.floor_stand(max(3.0, (end - self.n) / FS - t_in))
        self.walk(b["in"], "in", step_height=self.step_h)

    step_h = 0.17

    def restrap(self, new_side, seconds=6.0, angle=None, lift=False, turn_s=1.0):
        """Redo the strap: the sensor comes off the heel (or the foot is lifted
        off the step, ``lift``), is turned over by ``angle`` degrees (over
        ``turn_s``) while it is handled, and strapped back (a few degrees
        from where it was); ``new_side``: it goes onto the other foot.
        ``angle`` None: the demo's re-strap as it always was (40-100 deg drawn
        at render time, turned over a quarter of the time, not handled)."""
        i0 = self.n
        if lift:
            rng = self.rng
            t_up, t_dn = rng.uniform(0.6, 1.2), rng.uniform(0.6, 1.2)
            h, pitch = rng.uniform(0.15, 0.45), rng.uniform(-40.0, 10.0)
            n_up, n_dn = ms(t_up), ms(t_dn)
            n_stay = max(0, ms(seconds) - n_up - n_dn)
            s = minjerk(n_up)
            self._append(self.last + (pitch - self.last) * s,
                         pivot=self.pos[None, :] + (h * s)[:, None] * np.array([0.0, 0.0, 1.0])[None, :])
            up = self.pos + np.array([0.0, 0.0, h])
            self._append(np.full(n_stay, pitch), pivot=np.tile(up, (n_stay, 1)))
            s = minjerk(n_dn)
            self._append(pitch * (1 - s),
                         pivot=up[None, :] - (h * s)[:, None] * np.array([0.0, 0.0, 1.0])[None, :])
        else:
            self.still(seconds, 0.0)
        self.restraps.append({"start": i0, "end": self.n, "angle": angle, "turn_s": float(turn_s)})
        extra = {} if angle is None else {"angle_deg": round(float(angle), 1)}
        self.span("restrap", i0, lifted=bool(lift), side_switch=new_side is not None, **extra)
        if new_side is not None:
            self.side = new_side
            self.sides.append((self.n, new_side))

    # -- result ----------------------------------------------------------
    def finish(self):
        theta = np.concatenate(self._theta)
        n = len(theta)
        psi = np.concatenate(self._psi)
        pivot = np.concatenate(self._pivot)
        acc = np.concatenate(self._acc)
        roll_extra = np.zeros(n)
        for s, shape in self.roll_bumps:
            e = min(n, s + len(shape))
            roll_extra[s:e] += shape[:e - s]
        yaw_extra = np.zeros(n)
        for s, shape in self.yaw_bumps:
            e = min(n, s + len(shape))
            yaw_extra[s:e] += shape[:e - s]
        side_arr = np.empty(n, dtype=object)
        for k, (s, sd) in enumerate(self.sides):
            e = self.sides[k + 1][0] if k + 1 < len(self.sides) else n
            side_arr[s:e] = sd
        return {"theta": theta, "psi": psi + yaw_extra, "yaw_extra": yaw_extra, "pivot": pivot, "acc": acc,
                "roll_extra": roll_extra, "side": side_arr, "n": n}
