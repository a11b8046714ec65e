"""Scripted foot motion at the internal rate (1 sample = 1 ms).

A ``Script`` is built by appending segments (still stance, reps, weight
shifts, walking, a re-strap between sides). Each rep follows a plan dict
(see ``scenarios.rep_plan``): minimum-jerk descent, optional catch overshoot
and bounces, a hold with creep and fidgets, a minimum-jerk rise and a dwell at
the top. Roll and yaw excursions are layered afterwards at the recorded
indices. ``finish()`` returns the arrays; ``truth.py`` turns them into labels.
"""
import math

import numpy as np

from .physics import FS

# minimum-jerk profile: mean speed over 10-90 % of the travel = MJ_MEAN * D / T,
# peak speed = MJ_PEAK * D / T
MJ_T10, MJ_T90 = 0.246637, 0.753364
MJ_MEAN = 0.8 / (MJ_T90 - MJ_T10)
MJ_PEAK = 1.875


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
        self.pos = np.zeros(3)
        self.heading = 0.0  # deg
        self.reps = []      # rep records
        self.roll_bumps = []  # (start, end, array) extra side-corrected roll
        self.yaw_bumps = []
        self.wobbles = []   # (index, amp_deg, freq, tau)
        self.shuffles = []
        self.walks = []
        self.sides = []     # (start index, side)
        self.restraps = []  # (start, end)
        self.on_step = []   # (start, end) windows standing on the step
        self.sides.append((0, side))

    # -- low level -------------------------------------------------------
    def _append(self, theta, pivot=None, acc=None, psi=None):
        n = len(theta)
        self._theta.append(np.asarray(theta, dtype=float))
        self._psi.append(np.full(n, self.heading) if psi is None else psi)
        self._pivot.append(np.tile(self.pos, (n, 1)) if pivot is None else pivot)
        self._acc.append(np.zeros((n, 3)) if acc is None else acc)
        self.n += n

    def still(self, seconds, theta=0.0):
        self._append(np.full(ms(seconds), theta))

    # -- one rep ---------------------------------------------------------
    def rep(self, p):
        """Append one rep following plan ``p``; returns its record."""
        rec = {"plan": p, "side": self.side}
        top = p.get("top", 0.0)
        depth_b = p["depth"]
        i0 = self.n
        rec["start"] = i0
        nd = ms(p["t_descent"])
        self._append(top + (depth_b - top) * minjerk(nd))
        rec["descent_end"] = self.n - 1
        ov = p.get("overshoot", 0.0)
        if ov > 0:
            no = ms(p.get("overshoot_s", 0.2))
            self._append(depth_b + ov * np.sin(np.pi * np.arange(1, no + 1) / no))
        # bounces: rebounds up from the bottom and back. A bounce's lowest
        # point is where the heel bottoms out and turns back up: the start of
        # its cycle (the arrival at the bottom for the first one)
        rec["bounce_idx"], rec["bounce_amp"] = [], []
        for amp, f in p.get("bounces", []):
            nb = ms(1.0 / f)
            tt = np.arange(1, nb + 1) / nb
            rec["bounce_idx"].append(self.n - 1)
            rec["bounce_amp"].append(amp)
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
        rec["rise_start"] = self.n
        th_end = hold[-1] if nh else depth_b
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
        self.reps.append(rec)
        return rec

    # -- not-reps --------------------------------------------------------
    def shuffle(self, amp, seconds, roll=0.0):
        """A small weight shift: the heel dips by ``amp`` degrees and comes back."""
        n = ms(seconds)
        i0 = self.n
        self._append(amp * 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / n)))
        if roll:
            self.roll_bumps.append((i0, roll * 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / n))))
        self.shuffles.append({"t_ms": i0 + n // 2, "deg": round(float(amp), 2)})

    def walk(self, strides, direction="in", step_height=0.17):
        """Walk up to the step (``in``: the last stride lands the forefoot on
        the step edge) or turn and walk away (``out``: the first stride steps
        down). Rough gait: flat stance, push-off (heel rises 35-55 deg),
        swing to heel strike (toes up 12-25 deg), impact of 1.2-2.2 g, foot flat."""
        rng = self.rng
        i_start = self.n
        if direction == "out":
            n = ms(1.2)
            psi = self.heading + 180.0 * minjerk(n)
            self._append(np.zeros(n), psi=psi)
            self.heading += 180.0
        for k in range(strides):
            T = rng.uniform(1.0, 1.2)
            L = rng.uniform(0.9, 1.2)
            th_to = rng.uniform(35, 55)
            th_hs = rng.uniform(12, 25)
            dz = 0.0
            if direction == "in" and k == strides - 1:
                dz = step_height
            if direction == "out" and k == 0:
                dz = -step_height
            n_po, n_sw, n_hs = ms(0.25 * T), ms(0.38 * T), ms(0.12 * T)
            self.still(0.25 * T)
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
            A = rng.uniform(1.2, 2.2) * 9.80665
            tp = np.arange(n_hs) / FS
            pulse = np.where(tp < 0.03, np.sin(np.pi * tp / 0.03), 0.0)
            ring = 0.25 * np.exp(-tp / 0.03) * np.sin(2 * np.pi * 25 * tp)
            acc[:, 2] = A * (pulse + ring)
            acc[:, :2] = -0.4 * A * pulse[:, None] * d[None, :2]
            self.wobbles.append((self.n, 0.4, 18.0, 0.06))
            self._append(th2, pivot=piv2, acc=acc)
        self.still(0.5)
        self.walks.append({"start_ms": i_start, "end_ms": self.n - 1, "direction": direction})

    def restrap(self, new_side, seconds=6.0):
        """Step off, move the sensor to the other heel, step back on."""
        i0 = self.n
        self.still(seconds)
        self.restraps.append((i0, self.n))
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
        for s, shape in self.yaw_bumps:
            e = min(n, s + len(shape))
            psi[s:e] += shape[:e - s]
        side_arr = np.empty(n, dtype=object)
        for k, (s, sd) in enumerate(self.sides):
            e = self.sides[k + 1][0] if k + 1 < len(self.sides) else n
            side_arr[s:e] = sd
        return {"theta": theta, "psi": psi, "pivot": pivot, "acc": acc,
                "roll_extra": roll_extra, "side": side_arr, "n": n}
