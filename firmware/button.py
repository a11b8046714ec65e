# A debounced push button, polled from the main loop (no interrupt).
#
#   from button import Button
#   b = Button(pin)                     # pin: .value() -> 0/1; pulled up, press = 0
#   if b.held_at_boot(ticks_ms()): ...  # at start-up: held at power-up -> recalibrate
#   ev = b.poll(time.ticks_ms())        # None, "short" or "long", every loop
#
# Polling is enough: a press lasts 100 ms or more, the loop runs every few ms
# (micropython-async docs/INTERRUPTS.md: poll unless a µs response is needed).
#
# Debounce: the raw level must stay the same for debounce_ms (25 ms) before the
# button counts as pressed or released; contact bounce and glitches shorter
# than that are ignored, whatever the polling rate. Press and release times are
# the moments the level settled, so bounce does not stretch a press.
#
# Gestures:
#   "short"  released after less than SHORT_MAX_MS (1 s): switch side.
#   "long"   held for LONG_MS (1.5 s): start/stop the session. Reported while
#            still held, once; the release after it reports nothing.
#   A release between 1 s and 1.5 s reports nothing (neither gesture).
#
# Time comes in as tick values (ms); all arithmetic via heelcore.ticks, so it
# works across the wrap. poll() allocates nothing.

from heelcore.ticks import ticks_diff

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


DEBOUNCE_MS = const(25)
SHORT_MAX_MS = const(1000)
LONG_MS = const(1500)

SHORT = "short"
LONG = "long"


class Button:
    """Debounced button on pin (.value() -> 0/1). active_low: pressed reads 0
    (button to GND with a pull-up, the usual wiring)."""

    def __init__(self, pin, active_low=True, debounce_ms=DEBOUNCE_MS):
        self.pin = pin
        self._active = 0 if active_low else 1
        self._db = debounce_ms
        self._raw = -1  # last raw level seen (1 = pressed), -1 before the first sample
        self._raw_t = 0  # tick at which the raw level last changed
        self._state = 0  # debounced: 1 pressed
        self._press_t = 0  # tick at which the current press settled
        self._long = False  # "long" already reported for this press
        self._swallow = False  # this press was used at boot: report nothing for it
        self._boot = True  # pressed continuously since the first sample (so far)

    def pressed(self):
        """Debounced state as of the last poll."""
        return self._state == 1

    def poll(self, now_ms):
        """Sample the pin; returns None, "short" or "long"."""
        # debounce: a level counts once it has held for debounce_ms
        v = 1 if self.pin.value() == self._active else 0
        if v != self._raw:
            if self._raw < 0:
                self._boot = v == 1
            self._raw = v
            self._raw_t = now_ms
            edge = 0
        elif ticks_diff(now_ms, self._raw_t) < self._db:
            edge = 0
        else:
            if v == 0:
                self._boot = False
            if v == self._state:
                edge = 0
            else:
                self._state = v
                if v:
                    self._press_t = self._raw_t
                    self._long = False
                    edge = 1
                else:
                    edge = -1
        if edge < 0:
            held = ticks_diff(self._raw_t, self._press_t)
            if self._swallow:
                self._swallow = False
                return None
            if not self._long and held < SHORT_MAX_MS:
                return SHORT
            return None
        if self._state and not self._long and not self._swallow:
            if ticks_diff(now_ms, self._press_t) >= LONG_MS:
                self._long = True
                return LONG
        return None

    def held_at_boot(self, now_ms):
        """True if the button has been held since the first sample (power-up),
        debounced. Call it repeatedly for ~debounce_ms + a few ms at start-up
        (or until it is True). A press used this way reports no gesture."""
        self.poll(now_ms)
        if self._boot and self._state:
            self._swallow = True
            return True
        return False
