# Fake machine objects for the unix port (and CPython): Pin, PWM and NeoPixel
# that print what the LED and the buzzer do, stamped with the sim clock:
#
#   [   12.345 s] LED green
#   [   12.345 s] BUZZ 880 Hz 120 ms
#
# Only what the sim board needs; the fake I2C bus and the chip emulations are
# sim/i2cbus.py and sim/chips.py. Output pins given a label print their
# changes ("LED on", "BUZZ beep 120 ms"); input pins can be driven from a
# script with set_input(level) (the button: press = 0 with the pull-up).
#
# The clock: by default the real ticks since the first reading; set_clock(fn)
# installs a virtual one (fn() -> ms, e.g. the virtual device's sample time).
# set_output(fn) sends the lines elsewhere (fn(line)); the default prints them.
import time

try:
    from heelcore.ticks import ticks_diff
except ImportError:  # pragma: no cover - heelcore is always on the path here

    def ticks_diff(a, b):
        return a - b


def _real_ms():
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms() & ((1 << 30) - 1)
    return int(time.monotonic() * 1000) & ((1 << 30) - 1)


_clock = _real_ms
_origin = None
_out = print
_silent = False

# Pin id -> label for output pins built without one (the sim board fills it
# from its PINS so that a plain LED prints "LED on" and an active buzzer "BUZZ").
LABELS = {}


def set_clock(fn, origin=0):
    """Use fn() (ms ticks) as the clock; stamps count from origin (None: the first reading)."""
    global _clock, _origin
    _clock = fn if fn is not None else _real_ms
    _origin = origin


def set_output(fn):
    """Send each line to fn(line) instead of print (None: print again;
    False: no lines at all, not even formatted: the firmware bench)."""
    global _out, _silent
    _silent = fn is False
    _out = fn if fn else print


def now_ms():
    return _clock()


def elapsed_ms(t=None):
    """ms since the clock's origin (for the stamp)."""
    global _origin
    if t is None:
        t = _clock()
    if _origin is None:
        _origin = t
    return ticks_diff(t, _origin)


def stamp(ms):
    """"[   12.345 s]" for ms elapsed."""
    if ms < 0:
        return "[%5s.%03d s]" % ("-%d" % (-ms // 1000), -ms % 1000)
    return "[%5d.%03d s]" % (ms // 1000, ms % 1000)


def emit(msg, ms=None):
    """Print "[   12.345 s] msg" stamped with ms (elapsed; default: now)."""
    _out(stamp(elapsed_ms() if ms is None else ms) + " " + msg)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=None, value=None, label=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self.label = label if label is not None else LABELS.get(id)
        self._since = 0
        if value is not None:
            self._v = 1 if value else 0
        elif pull == Pin.PULL_UP:
            self._v = 1
        else:
            self._v = 0

    def init(self, mode=-1, pull=None, value=None):
        if mode != -1:
            self.mode = mode
        if pull is not None:
            self.pull = pull
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            if self.label is not None and self.mode == Pin.OUT:
                self._report(v)

    def _report(self, v):
        t = elapsed_ms()
        if self.label == "BUZZ":
            if v:
                self._since = t
            else:
                if not _silent:
                    emit("BUZZ beep %d ms" % (t - self._since), self._since)
        else:
            if not _silent:
                emit("%s %s" % (self.label, "on" if v else "off"), t)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)

    def set_input(self, level):
        """Drive an input pin from outside (a test or a sim script)."""
        self._v = 1 if level else 0

    def __repr__(self):
        return "Pin(%r)" % (self.id,)


class PWM:
    """PWM that prints each tone once it ends: BUZZ <hz> Hz <ms> ms (stamped at its start)."""

    def __init__(self, pin, freq=0, duty_u16=0, label="BUZZ"):
        self.pin = pin
        self.label = label
        self._freq = freq
        self._duty = 0
        self._start = None  # elapsed ms at which the current tone began
        self.tones = 0  # tones finished (for tests)
        if duty_u16:
            self.duty_u16(duty_u16)

    def _end(self):
        if self._start is not None:
            t = elapsed_ms()
            if self.label is not None:
                if not _silent:
                    emit("%s %d Hz %d ms" % (self.label, self._freq, t - self._start), self._start)
            self._start = None
            self.tones += 1

    def freq(self, hz=None):
        if hz is None:
            return self._freq
        if hz != self._freq:
            self._end()
            self._freq = hz
            if self._duty:
                self._start = elapsed_ms()

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if d and not self._duty:
            self._start = elapsed_ms()
        elif not d and self._duty:
            self._end()
        self._duty = d

    def deinit(self):
        self.duty_u16(0)


class NeoPixel:
    """neopixel.NeoPixel look-alike: np[i] = (r, g, b); np.write() prints pixel 0 if changed."""

    def __init__(self, pin, n, bpp=3, timing=1, label="LED"):
        self.pin = pin
        self.n = n
        self.label = label
        self._px = [(0, 0, 0)] * n
        self._shown = None
        self.writes = 0

    def __len__(self):
        return self.n

    def __setitem__(self, i, rgb):
        self._px[i] = rgb

    def __getitem__(self, i):
        return self._px[i]

    def fill(self, rgb):
        for i in range(self.n):
            self._px[i] = rgb

    def write(self):
        self.writes += 1
        px = self._px[0]
        if px != self._shown:
            self._shown = px
            if self.label is not None and not _silent:
                try:
                    from cues import colour_name
                except ImportError:
                    colour_name = None
                name = colour_name(px) if colour_name else "rgb(%d,%d,%d)" % (px[0], px[1], px[2])
                emit("%s %s" % (self.label, name))
