# One validated configuration object for every threshold and target.
#
# Defaults (SPEC below) follow published norms for heel-drop depth, tempo and
# holds and the sensors' noise. The same object is read
# from JSON on the board's flash (firmware) and from --config FILE (host).
# Unknown keys and out-of-range values are errors with a message that names the
# key, the value, the allowed range and what to do; ConfigError carries it.
#
# Units: angles in degrees, angular rates in degrees per second, durations in
# seconds (converted once, at construction, to integer ms for the engine).


class ConfigError(ValueError):
    pass


# name: (default, min, max, kind, help). kind: "f" float, "i" int, "s" choice.
# Kept as a tuple table so that the firmware spends no code on per-key classes.
SPEC = {
    # session and targets
    "side": ("left", None, None, ("left", "right"), "which foot is on the step"),
    "hold_target_s": (30.0, 5.0, 120.0, "f", "hold target at the bottom (ACSM 10-30 s; 30-60 s for older users)"),
    "reps_per_side": (15, 1, 100, "i", "reps prescribed per side (Alfredson: 15)"),
    "depth_target_deg": (20.0, 5.0, 45.0, "f", "heel depth below level that counts as a full drop"),
    # calibration
    "still_gyro_dps": (3.0, 0.5, 10.0, "f", "unused since still is judged on orientation (still_band_deg); accepted so that older settings files load"),
    "still_band_deg": (5.0, 2.0, 10.0, "f", "the foot counts as still while its tilt stays this close to its mean (sway is 0.3-3 deg)"),
    "still_time_s": (1.5, 0.5, 10.0, "f", "still time that calibrates the level and the gyro bias (and tracks them later)"),
    "axis_min_deg": (8.0, 4.0, 30.0, "f", "tilt of the first descent needed to learn the foot's pitch axis"),
    "fusion_tau_s": (1.0, 0.2, 5.0, "f", "complementary filter time constant"),
    "accel_gate_g": (0.1, 0.02, 0.5, "f", "accelerometer ignored when |a| differs from 1 g by more"),
    # rep state machine
    "descent_start_deg": (3.0, 1.0, 8.0, "f", "depth above the top that starts a rep"),
    "descent_rate_dps": (3.0, 1.0, 10.0, "f", "pitch rate that confirms a descent"),
    "min_depth_deg": (8.0, 3.0, 20.0, "f", "shallowest drop that counts as a rep"),
    "hold_rate_dps": (5.0, 2.0, 15.0, "f", "pitch rate below which the heel is settled"),
    "hold_enter_s": (1.0, 0.2, 3.0, "f", "settled time that starts a hold"),
    "hold_band_deg": (3.0, 1.0, 8.0, "f", "depth change allowed while holding"),
    "no_hold_s": (2.0, 0.5, 10.0, "f", "a hold shorter than this is flagged no_hold"),
    "rise_rate_dps": (8.0, 3.0, 30.0, "f", "upward pitch rate that starts the rise"),
    "top_band_deg": (3.0, 1.0, 8.0, "f", "distance from level that counts as back at the top"),
    "reset_s": (0.5, 0.1, 5.0, "f", "steady time at the top before the next rep"),
    # faults
    "fast_descent_dps": (20.0, 5.0, 120.0, "f", "mean descent speed above which the descent is too fast"),
    "fast_descent_peak_dps": (45.0, 10.0, 300.0, "f", "peak descent speed above which the descent is too fast"),
    "snap_up_dps": (40.0, 10.0, 200.0, "f", "mean rise speed above which the rise is a snap-up"),
    "snap_up_peak_dps": (90.0, 20.0, 400.0, "f", "peak rise speed above which the rise is a snap-up"),
    "bounce_rate_dps": (15.0, 2.0, 100.0, "f", "rebound speed (peak) that counts as a bounce"),
    "bounce_min_deg": (3.0, 0.5, 10.0, "f", "rebound amplitude (peak to peak) that counts as a bounce"),
    "roll_out_deg": (15.0, 4.0, 40.0, "f", "outward roll beyond the person's own normal roll that is a fault"),
    "roll_out_abs_deg": (20.0, 5.0, 45.0, "f", "outward roll from level that is a fault before a baseline exists"),
    "roll_out_time_s": (0.3, 0.05, 2.0, "f", "time past the roll limit before roll-out is flagged"),
    "twist_deg": (20.0, 5.0, 60.0, "f", "yaw change within a rep that is a twist"),
    "max_rate_dps": (400.0, 100.0, 2000.0, "f", "rates above this are not a heel drop (steps, walking)"),
    "max_pitch_deg": (70.0, 45.0, 150.0, "f", "pitch beyond this either way is not a heel drop (a kick, the foot lifted or turned over): the rep under way is none"),
}


class Config:
    """Validated settings. Config(side="right", hold_target_s=20) or Config.from_dict(d)."""

    # Every setting of SPEC, declared for type checkers (values are set from SPEC).
    side: str
    hold_target_s: float
    reps_per_side: int
    depth_target_deg: float
    still_gyro_dps: float
    still_band_deg: float
    still_time_s: float
    axis_min_deg: float
    fusion_tau_s: float
    accel_gate_g: float
    descent_start_deg: float
    descent_rate_dps: float
    min_depth_deg: float
    hold_rate_dps: float
    hold_enter_s: float
    hold_band_deg: float
    no_hold_s: float
    rise_rate_dps: float
    top_band_deg: float
    reset_s: float
    fast_descent_dps: float
    fast_descent_peak_dps: float
    snap_up_dps: float
    snap_up_peak_dps: float
    bounce_rate_dps: float
    bounce_min_deg: float
    roll_out_deg: float
    roll_out_abs_deg: float
    roll_out_time_s: float
    twist_deg: float
    max_rate_dps: float
    max_pitch_deg: float

    def __init__(self, **kw):
        for name in SPEC:
            setattr(self, name, SPEC[name][0])
        self.update(kw)

    @classmethod
    def from_dict(cls, d, where="config"):
        if not isinstance(d, dict):
            raise ConfigError("%s: expected a JSON object of settings, got %s" % (where, type(d).__name__))
        c = cls()
        c.update(d, where)
        return c

    def update(self, d, where="config"):
        # Validate everything first, then apply: a bad key changes nothing.
        vals = {}
        for k in d:
            vals[k] = check(k, d[k], where)
        for k in vals:
            setattr(self, k, vals[k])

    def to_dict(self):
        d = {}
        for name in SPEC:
            d[name] = getattr(self, name)
        return d

    def ms(self, name):
        """A duration setting (seconds) as integer milliseconds."""
        return int(getattr(self, name) * 1000 + 0.5)


def check(key, value, where="config", spec=None):
    """Return the validated value for key, or raise ConfigError saying what to do.

    spec is a table like SPEC (the engine's by default; the firmware's device
    settings use their own)."""
    if spec is None:
        spec = SPEC
    if key not in spec:
        raise ConfigError("%s: unknown setting '%s'; known settings: %s" % (where, key, ", ".join(sorted(spec))))
    default, lo, hi, kind, _help = spec[key]
    if isinstance(kind, tuple):
        if value not in kind:
            raise ConfigError("%s: %s must be one of %s, got %r" % (where, key, "/".join(kind), value))
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("%s: %s must be a number %r..%r (%s), got %r" % (where, key, lo, hi, _help, value))
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError("%s: %s must be a finite number, got %r" % (where, key, value))
    if kind == "i":
        if value != int(value):
            raise ConfigError("%s: %s must be a whole number, got %r" % (where, key, value))
        value = int(value)
    else:
        value = float(value)
    if value < lo or value > hi:
        raise ConfigError("%s: %s=%r is out of range %r..%r (%s)" % (where, key, value, lo, hi, _help))
    return value
