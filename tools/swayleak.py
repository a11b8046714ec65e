"""Roll sway read as pitch in the holds (a development aid, issue 10).

For rendered traces of an evaluation set (NAME.csv + NAME.truth.json),
re-renders the body motion (heeldrop.synth.render, keep_parts), runs the
engine and, over each scripted hold (from 2 s after its start to 0.5 s
before its rise), prints:

- axY, axC: the engine's pitch axis (at the hold's end) against the foot's
  pitch axis and against the axis a drop turns about (the foot's pitch axis
  with the coupled roll k x roll gain in it), deg;
- err: the engine's pitch (2 Hz view) less the truth's pitch, min..max;
- fit: least squares of that error on the truth's pitch sway and on the
  roll the sensor sees (sway roll and corrective steps, times the roll
  gain): off, kP, kR (kR ~ -sin of the axis' tilt toward forward);
- acc: the largest gap between the engine's pitch and the accelerometer's
  own tilt in the engine's frame (0.3 s mean): small = the fusion is
  faithful, the excursion is in the frame;
- ideal pp: the peak-to-peak of the noise-free sensor's pitch read in the
  engine's frame, with and without the roll sway.

    .venv/bin/python tools/swayleak.py build/eval/check check_066 check_087
"""
import glob
import json
import math
import os
import sys

import numpy as np

from heeldrop import traceio
from heeldrop.replay import run_engine
from heeldrop.synth import physics as ph
from heeldrop.synth.render import render
from heelcore import fusion as FU
from heelcore import reps as R


def probe(corpus, name):
    csv = glob.glob(os.path.join(corpus, name + "*.csv"))[0]
    with open(csv[:-4] + ".truth.json") as f:
        tj = json.load(f)
    r = render(tj["scenario"], tj["seed"], tj["side"], tj["rate_hz"], tj["mounting_index"], keep_parts=True)
    th, sp = r.parts["theta"], r.parts.get("sway_pitch", np.zeros(len(r.parts["theta"])))
    rg, k = tj["roll_gain"], tj["roll_coupling_k"]
    sr = r.parts.get("sway_roll", np.zeros(len(th))) * rg
    Rfs = ph.mounting_matrix(tj["mounting_index"], tj["misalign_deg"])
    s = 1.0 if tj["side"] == "right" else -1.0
    cax = Rfs.T @ (np.array([-s * k * rg, -1.0, 0.0]) / math.hypot(k * rg, 1.0))
    tr = traceio.read_trace(csv)
    ticks = []
    orig = R.Reps.tick

    def tick(self, t, th_, thf, wf, wl, jolt, ph_, ps):
        if self is self.eng._ex:
            ticks.append((t, thf * self.sign / 1e6))
        return orig(self, t, th_, thf, wf, wl, jolt, ph_, ps)

    samples = []

    def on(eng, smp):
        S = eng._s
        samples.append((smp[0], [S[FU._FX + i] / 16384 for i in range(3)], [S[FU._UX + i] / 16384 for i in range(3)],
                        smp[1:4]))

    R.Reps.tick = tick
    try:
        run_engine(tr, on_sample=on)
    finally:
        R.Reps.tick = orig
    T = np.array([x[0] for x in samples])
    A = np.array([x[3] for x in samples], float)
    n = max(1, int(0.3 * tj["rate_hz"]))
    A = np.array([np.convolve(A[:, i], np.ones(n) / n, "same") for i in range(3)]).T
    tk = np.array(ticks)
    print("%s (k %.2f, roll gain %.2f, atan(k gain) %.1f deg)" % (name, k, rg, math.degrees(math.atan(k * rg))))
    for rep in tj["reps"]:
        a, b = rep["hold_start_ms"] + 2000, rep["rise_start_ms"] - 500
        m = (tk[:, 0] >= a) & (tk[:, 0] <= b)
        if m.sum() < 30:
            continue
        t = tk[m, 0].astype(int)
        err = tk[m, 1] - th[t]
        X = np.c_[np.ones(len(t)), sp[t], sr[t]]
        cf = np.linalg.lstsq(X, err, rcond=None)[0]
        j = np.searchsorted(T, b)
        F, U = np.array(samples[j][1]), np.array(samples[j][2])
        P = np.cross(F, U)
        P /= np.linalg.norm(P)
        js = np.clip(np.searchsorted(T, t), 0, len(T) - 1)
        acc = np.degrees(np.arctan2(A[js] @ F, A[js] @ U))
        Rw = ph.foot_rotation(th[t] + sp[t], -k * rg * th[t] + sr[t], np.zeros(len(t)), tj["side"]) @ Rfs
        g = np.einsum("nji,j->ni", Rw, np.array([0, 0, 1.0]))
        Rw0 = ph.foot_rotation(th[t] + sp[t], -k * rg * th[t], np.zeros(len(t)), tj["side"]) @ Rfs
        g0 = np.einsum("nji,j->ni", Rw0, np.array([0, 0, 1.0]))
        ide, ide0 = np.degrees(np.arctan2(g @ F, g @ U)), np.degrees(np.arctan2(g0 @ F, g0 @ U))
        print("  rep %2d hold %5.1f s  axY %4.1f axC %4.1f  err %6.2f..%6.2f  fit off %5.2f kP %5.2f kR %5.2f  "
              "acc gap %4.1f  ideal pp %5.2f (no roll sway %5.2f)  roll seen pp %5.2f" % (
                  rep["rep"], (b - a) / 1000, math.degrees(math.acos(min(1, abs(P @ Rfs[1])))),
                  math.degrees(math.acos(min(1, abs(P @ cax)))), err.min(), err.max(), cf[0], cf[1], cf[2],
                  np.percentile(np.abs(acc - tk[m, 1]), 95), np.ptp(ide), np.ptp(ide0), np.ptp(sr[t])))


if __name__ == "__main__":
    for nm in sys.argv[2:]:
        probe(sys.argv[1], nm)
