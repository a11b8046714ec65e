"""Compare the engine's learned frame with the simulated foot's (a development
aid): renders N traces of a scenario (seeds BASE + i, sides alternating,
mountings i * 7 mod 24, 100 Hz), runs the engine on each and prints

- k, gain, kg: the person's pitch-roll coupling, the shoe mount's roll gain
  and their product (the roll per pitch the sensor sees);
- exp: atan(kg), the tilt of the axis a drop turns about from the foot's
  pitch axis toward its forward axis;
- angY, tiltX: the engine's pitch axis (at the trace's end) against the
  foot's pitch axis, and its tilt toward the forward axis (deg);
- th~, ph~, ps~: least squares of the engine's pitch, roll and yaw over the
  reps on the truth's pitch and extra roll (a pitch that follows the extra
  roll is a roll-out read as pitch).

    .venv/bin/python tools/leakprobe.py SCENARIO BASE N
    .venv/bin/python tools/leakprobe.py roll_out 32000000 4
"""
import importlib
import sys

import numpy as np

from heeldrop.replay import run_engine
from heeldrop.synth import physics as ph
from heeldrop.synth.scenarios import build

R = importlib.import_module("heeldrop.synth.render")  # the module (heeldrop.synth.render is also a function)


def truth_series(scen, seed, side, rate):
    """The script's own pitch, extra roll and yaw at 1 kHz, with the sensor
    and person draws, exactly as render() draws them."""
    rs = R._rng_streams(seed, scen, side, False, False, False)
    sc, st, pers, _ = build(scen, rs[0], side, False, False, {}, rate)
    return sc.finish(), st, pers


def probe(scen, seed, side="right", rate=100, mounting=0):
    rd = R.render(scen, seed, side=side, rate=rate, mounting=mounting)
    out, st, pers = truth_series(scen, seed, side, rate)
    k, gain = pers["k"], st["roll_gain"]
    R_fs = ph.mounting_matrix(mounting, st["misalign"])
    fx, fy = R_fs[0, :], R_fs[1, :]  # the foot's forward and pitch axes in sensor axes
    rec = {}

    def on(eng, s):
        rec[s[0]] = (eng._s[20], eng._s[21], eng._s[22], tuple(eng._p), eng._s[36])

    run_engine(rd.trace(), None, on_sample=on)
    ts = np.array(sorted(rec))
    th = np.array([rec[t][0] for t in ts]) / 1e6
    phe = np.array([rec[t][1] for t in ts]) / 1e6
    pse = np.array([rec[t][2] for t in ts]) / 1e6
    p = np.array(rec[ts[-1]][3]) / 16384.0
    idx = np.clip(ts, 0, len(out["theta"]) - 1)
    tth, tro = out["theta"][idx], out["roll_extra"][idx]
    res = {"k": k, "gain": gain, "kg": k * gain, "exp": np.degrees(np.arctan(k * gain)),
           "angY": np.degrees(np.arccos(min(1.0, abs(p @ fy) / np.linalg.norm(p)))),
           "tiltX": np.degrees(np.arcsin((p @ fx) / np.linalg.norm(p))) * np.sign(p @ fy)}
    m = np.array([rec[t][4] == 2 for t in ts]) & (tth > 2)
    if m.sum() > 100:
        sg = np.sign(np.median(th[m] / np.maximum(tth[m], 1e-3)))
        X = np.c_[tth[m], tro[m], np.ones(m.sum())]
        res["th"] = np.linalg.lstsq(X, sg * th[m], rcond=None)[0][:2]
        res["ph"] = np.linalg.lstsq(X, phe[m], rcond=None)[0][:2]
        res["ps"] = np.linalg.lstsq(X, pse[m] - np.median(pse[m]), rcond=None)[0][:2]
    return res


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    scen, base, n = argv[0], int(argv[1]), int(argv[2])
    for i in range(n):
        side = "right" if i % 2 else "left"
        mnt = (i * 7) % 24
        r = probe(scen, base + i, side, 100, mnt)
        fmt = lambda key: " ".join("%+.2f" % x for x in r.get(key, []))  # noqa: E731
        print("%s %d %s m%02d k=%.2f gain=%.2f kg=%.2f exp=%.1f angY=%.1f tiltX=%+.1f th~[%s] ph~[%s] ps~[%s]" % (
            scen, base + i, side, mnt, r["k"], r["gain"], r["kg"], r["exp"], r["angY"], r["tiltX"],
            fmt("th"), fmt("ph"), fmt("ps")), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
