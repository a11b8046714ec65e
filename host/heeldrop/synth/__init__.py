"""Trace simulator: scripted heel drops through rigid-body physics and an IMU
error model, with per-rep truth labels (docs/DESIGN.md "Truth files").

    from heeldrop.synth import render, SCENARIOS
    r = render("bounce_mild", seed=17, side="left", rate=100, mounting=3)
    r.t_ms, r.accel, r.gyro, r.meta, r.truth      # numpy arrays, dicts
    r.columns()                                    # for heeldrop.traceio.write_trace

    from heeldrop.synth.corpus import ensure_corpus
    names = ensure_corpus()        # build/corpus: NAME.csv + NAME.truth.json + index.json

Command line: ``heeldrop synth --help`` (one trace, ``--corpus DIR``,
``--ensure DIR``, ``--committed tests/traces``, ``--list``).

Pipeline (modules):

* ``script``: the foot's pitch / roll / yaw and the forefoot pivot position at
  1 kHz from per-rep plans: still start, minimum-jerk descent, optional catch
  overshoot and bounces, hold with creep and fidgets, minimum-jerk rise, top
  dwell; weight shifts, walking to / from the step, re-strapping between sides.
* ``scenarios``: the named scenarios and the per-rep plans, with faults
  clearly on one side of the docs/DOMAIN.md §7(a) thresholds.
* ``physics``: rotations, the 24 axis-aligned mountings (+ misalignment), body
  angular rate and the specific force of a sensor on the heel (gravity,
  tangential and centripetal acceleration about the pivot, sway, impacts).
* ``sensor``: bias (+-20 deg/s uncalibrated on MPU-6050-like parts), warm-up
  drift, random walk, 1-LSB thermal steps, white noise, scale and cross-axis
  errors, g-sensitivity, accel offsets and nonlinearity, the chip's low-pass
  (2nd order, 10/21/44 Hz by output rate), sampling at 25..1000 Hz,
  quantisation and 16-bit saturation, timestamp jitter, dropped bursts.
* ``render``: glues them together and computes the truth from the script.
* ``corpus``: the labelled corpus and the committed traces.

Conventions: pitch theta > 0 = heel below level; roll phi > 0 = inversion
(roll-out onto the little-toe side), mirrored between the feet; the sensor
reports specific force (at rest: up, 1 g) and a right-handed body rate, so
the up-vector u in sensor axes follows du/dt = u x w.
"""
from .physics import MOUNTING_NAMES
from .render import Rendered, render
from .scenarios import SCENARIOS
from .sensor import RATES

__all__ = ["render", "Rendered", "SCENARIOS", "RATES", "MOUNTING_NAMES"]
