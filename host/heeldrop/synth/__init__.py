"""Trace simulator: scripted heel drops through rigid-body physics and an IMU
error model, with per-rep truth labels (see docs/DESIGN.md "Truth files").

    from heeldrop.synth import render, SCENARIOS
    r = render("bounce_mild", seed=17, side="left", rate=100, mounting=3)
    r.t_ms, r.accel, r.gyro, r.meta, r.truth
"""
from .physics import MOUNTING_NAMES
from .render import Rendered, render
from .scenarios import SCENARIOS
from .sensor import RATES

__all__ = ["render", "Rendered", "SCENARIOS", "RATES", "MOUNTING_NAMES"]
