# Runs inside the MicroPython unix port (and CPython): read integer samples
# from stdin, run heelcore's engine, print the events as contract JSON lines.
# argv: accel_lsb_per_g gyro_lsb_per_dps bad_sample_count
# stdin: first line a JSON object {"config": {...}}, then "t ax ay az gx gy gz"
# lines ("S": switch side at the next sample's time). Times go through
# heelcore.events.TraceClock exactly as in heeldrop.replay.run_engine.
import json
import sys

from heelcore.config import Config
from heelcore.engine import Engine
from heelcore.events import TraceClock, to_json


def main():
    alsb = float(sys.argv[1])
    if alsb == int(alsb):
        alsb = int(alsb)
    glsb = float(sys.argv[2])
    bad = int(sys.argv[3])
    rd = sys.stdin.readline
    cfg = Config.from_dict(json.loads(rd())["config"])
    eng = Engine(cfg, alsb, glsb)
    clock = TraceClock()
    out = sys.stdout.write
    switch = 0
    while True:
        line = rd()
        if not line:
            break
        f = line.split()
        if f[0] == "S":
            switch += 1
            continue
        t = clock.tick(int(f[0]))
        while switch:
            switch -= 1
            n = eng.set_side("right" if eng.side == "left" else "left", t)
            while n:
                out(to_json(clock.event(eng.pop_event())) + "\n")
                n -= 1
        n = eng.step(t, int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6]))
        while n:
            out(to_json(clock.event(eng.pop_event())) + "\n")
            n -= 1
    eng.finish()
    ev = eng.pop_event()
    while ev is not None:
        out(to_json(clock.event(ev)) + "\n")
        ev = eng.pop_event()
    summ = clock.event(eng.summary())
    if bad:
        summ["bad_samples"] = summ.get("bad_samples", 0) + bad
    out(to_json(summ) + "\n")


main()
