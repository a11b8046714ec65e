# Cues: the LED and buzzer answer to every detector event, without sleeping.
#
#   from cues import Cues, Led, PassiveBuzzer
#   cues = Cues(Led(pin), PassiveBuzzer(pwm), "full")
#   cues.on_event("hold_tick", now)     # or on_engine_event(ev), or a cue id
#   while True:
#       cues.tick(time.ticks_ms())      # from the main loop, every few ms
#
# A cue is a short list of steps (LED lit or dark, tone pitch and loudness,
# duration in ms); tick(now_ms) moves through them as time passes and touches
# the outputs only when a step changes. Nothing here sleeps, nothing here
# reads the clock: time comes in as tick values, and every comparison goes
# through heelcore.ticks, so patterns keep their timing across the wrap.
#
# Priorities. One cue plays at a time. A cue of higher priority cuts in at
# once (the one it interrupts is dropped: a sensor fault silences a hold
# tick); a cue of equal or lower priority waits in a small queue and never
# interrupts. The queue holds QUEUE_DEPTH cues in preallocated slots; when it
# is full the lowest priority cue is dropped (the newcomer, if it is the
# lowest); a cue already waiting is not queued twice; a cue that waited longer
# than STALE_MS is dropped unplayed (a late "bounce" would only confuse).
#
# Between cues the LED shows a base state set by the events: off, idle (dim
# green on a NeoPixel), holding (steady on / dim blue) or fault (dim red).
#
# Styles: "full" (LED and buzzer), "quiet" (LED only, never a sound),
# "minimal" (no hold ticks; the buzzer only for the essential cues marked in
# the table; the LED for every other cue).
#
# Memory: the tables are built once at import; on_event() and tick() allocate
# nothing (checked under micropython.heap_lock() by tests/shared/test_cues.py).
# Every value handed to the devices is a small int or a preallocated tuple.
# Timing budget: tick() with no step change is a handful of attribute reads
# and one ticks_diff; call it at least every 10 ms for 10 ms accurate cues.
#
# docs/CUES.md is generated from CUES, EVENTS and PALETTE below
# (python -m heeldrop.cuesdoc --write); a host test checks it is current.

from heelcore.ticks import ticks_add, ticks_diff

try:
    from micropython import const
except ImportError:  # CPython (tests, host tools)

    def const(x):
        return x


# Colours (r, g, b), kept dim: a WS2812 at full power is dazzling at 30 cm.
OFF = (0, 0, 0)
GREEN = (0, 40, 0)
BLUE = (0, 0, 48)
CYAN = (0, 28, 28)
AMBER = (48, 18, 0)
RED = (64, 0, 0)
PURPLE = (32, 0, 40)
YELLOW = (36, 36, 0)
WHITE = (28, 28, 28)
DIM_GREEN = (0, 5, 0)
DIM_BLUE = (0, 0, 8)
DIM_RED = (8, 0, 0)

# Names for the docs and the simulator's printout.
PALETTE = (
    ("off", OFF), ("green", GREEN), ("blue", BLUE), ("cyan", CYAN),
    ("amber", AMBER), ("red", RED), ("purple", PURPLE), ("yellow", YELLOW),
    ("white", WHITE), ("dim green", DIM_GREEN), ("dim blue", DIM_BLUE),
    ("dim red", DIM_RED),
)


def colour_name(rgb):
    for name, c in PALETTE:
        if c == rgb:
            return name
    return "rgb(%d,%d,%d)" % (rgb[0], rgb[1], rgb[2])


# Cue ids: index into CUES.
READY = const(0)
REP_START = const(1)
HOLD = const(2)
HOLD_TICK = const(3)
TARGET = const(4)
TOO_FAST = const(5)
BOUNCE = const(6)
ROLL_OUT = const(7)
TWIST = const(8)
SNAP_UP = const(9)
NO_HOLD = const(10)
REP_DONE = const(11)
SIDE = const(12)
FAULT = const(13)
CAL_FAIL = const(14)
FLASH_LOW = const(15)
FLASH_FULL = const(16)
SESSION_START = const(17)
SESSION_STOP = const(18)
CONFIG_FAULT = const(19)
NONE = const(-1)

# Loudness of a step: 0 silent, 1 soft, 2 normal.
_S = const(0)
_SOFT = const(1)
_LOUD = const(2)

# One row per cue, in id order:
#   (name, priority, colour, essential, steps)
# priority: higher cuts in over lower (0..9).
# essential: still sounds in the "minimal" style.
# steps: (led, hz, loudness, ms): led 1 = lit in the cue's colour, 0 = dark;
#        hz 0 = silent. An active buzzer beeps whenever hz > 0.
CUES = (
    ("ready", 3, GREEN, False,
     ((1, 1568, _LOUD, 60), (0, 0, _S, 60), (1, 1568, _LOUD, 60))),
    ("rep_start", 2, CYAN, False,
     ((1, 660, _SOFT, 40),)),
    ("hold", 2, BLUE, False,
     ((1, 523, _SOFT, 60), (1, 0, _S, 140))),
    ("hold_tick", 1, BLUE, False,
     ((0, 2000, _SOFT, 25), (0, 0, _S, 55))),
    ("hold_target", 5, GREEN, True,
     ((1, 1047, _LOUD, 120), (0, 0, _S, 60), (1, 1319, _LOUD, 120), (0, 0, _S, 60),
      (1, 1568, _LOUD, 240))),
    ("too_fast", 6, AMBER, False,
     ((1, 440, _LOUD, 100), (0, 0, _S, 60), (1, 440, _LOUD, 100), (0, 0, _S, 60),
      (1, 440, _LOUD, 100))),
    ("bounce", 6, AMBER, False,
     ((1, 587, _LOUD, 60), (0, 0, _S, 40), (1, 392, _LOUD, 60), (0, 0, _S, 40),
      (1, 587, _LOUD, 60), (0, 0, _S, 40), (1, 392, _LOUD, 60))),
    ("roll_out", 6, AMBER, False,
     ((1, 880, _LOUD, 120), (1, 660, _LOUD, 130), (0, 0, _S, 60), (1, 494, _LOUD, 100))),
    ("twist", 6, AMBER, False,
     ((1, 554, _LOUD, 100), (0, 0, _S, 60), (1, 740, _LOUD, 125), (1, 554, _LOUD, 125))),
    ("snap_up", 6, AMBER, False,
     ((1, 392, _LOUD, 50), (1, 784, _LOUD, 50), (1, 1568, _LOUD, 50), (0, 0, _S, 100),
      (1, 1568, _LOUD, 50))),
    ("no_hold", 5, AMBER, False,
     ((1, 523, _LOUD, 300), (0, 0, _S, 100), (1, 392, _LOUD, 300))),
    ("rep_done", 4, GREEN, False,
     ((1, 784, _LOUD, 80), (0, 0, _S, 40), (1, 1047, _LOUD, 160))),
    ("side", 7, PURPLE, True,
     ((1, 659, _LOUD, 100), (1, 880, _LOUD, 100), (0, 0, _S, 100), (1, 659, _LOUD, 100),
      (1, 880, _LOUD, 100))),
    ("sensor_fault", 9, RED, True,
     ((1, 1760, _LOUD, 300), (0, 1319, _LOUD, 150), (1, 1760, _LOUD, 300), (0, 1319, _LOUD, 150),
      (1, 1760, _LOUD, 300))),
    ("calibration_failed", 6, RED, True,
     ((1, 330, _LOUD, 600), (0, 0, _S, 100), (1, 330, _LOUD, 100), (0, 0, _S, 100),
      (1, 330, _LOUD, 100))),
    ("flash_low", 4, YELLOW, False,
     ((1, 1319, _SOFT, 40), (0, 0, _S, 200), (1, 1319, _SOFT, 40))),
    ("flash_full", 8, YELLOW, True,
     ((1, 1319, _LOUD, 200), (0, 0, _S, 100), (1, 988, _LOUD, 200), (0, 0, _S, 100),
      (1, 659, _LOUD, 400))),
    ("session_start", 7, GREEN, True,
     ((1, 523, _LOUD, 100), (1, 659, _LOUD, 100), (1, 784, _LOUD, 200))),
    ("session_stop", 7, WHITE, True,
     ((1, 784, _LOUD, 100), (0, 0, _S, 50), (1, 659, _LOUD, 100), (0, 0, _S, 50),
      (1, 523, _LOUD, 200))),
    ("config_fault", 8, RED, True,
     ((1, 988, _LOUD, 150), (0, 0, _S, 100), (1, 988, _LOUD, 150), (0, 0, _S, 100),
      (1, 494, _LOUD, 400))),
)

# Base states: what the LED shows between cues. (name, plain LED lit, NeoPixel colour)
B_KEEP = const(-1)
B_OFF = const(0)
B_IDLE = const(1)
B_HOLD = const(2)
B_FAULT = const(3)
BASES = (
    ("off", 0, OFF),
    ("idle", 0, DIM_GREEN),
    ("holding", 1, DIM_BLUE),
    ("fault", 0, DIM_RED),
)

# Event type -> (cue, base state afterwards). Detector events as in
# docs/EVENTS.md, plus the firmware's own: "no_hold" (pass it
# instead of "rep_end" when the rep_end event has no_hold true, or use
# on_engine_event), "sensor_fault"/"i2c_error"/"unplugged", "sensor_ok",
# "flash_low", "flash_full", "session_start", "session_stop", "config_fault"
# (the saved settings could not be used at boot).
EVENTS = {
    "calibrated": (READY, B_IDLE),
    "reset_ready": (READY, B_IDLE),
    "calibration_failed": (CAL_FAIL, B_KEEP),
    "rep_start": (REP_START, B_OFF),
    "hold_start": (HOLD, B_HOLD),
    "hold_tick": (HOLD_TICK, B_KEEP),
    "hold_target": (TARGET, B_KEEP),
    "descent_too_fast": (TOO_FAST, B_KEEP),
    "bounce": (BOUNCE, B_KEEP),
    "roll_out": (ROLL_OUT, B_KEEP),
    "twist": (TWIST, B_KEEP),
    "rise_start": (NONE, B_OFF),
    "snap_up": (SNAP_UP, B_KEEP),
    "rep_end": (REP_DONE, B_OFF),
    "no_hold": (NO_HOLD, B_OFF),
    "side": (SIDE, B_KEEP),
    "sensor_fault": (FAULT, B_FAULT),
    "i2c_error": (FAULT, B_FAULT),
    "unplugged": (FAULT, B_FAULT),
    "sensor_ok": (NONE, B_IDLE),
    "flash_low": (FLASH_LOW, B_KEEP),
    "flash_full": (FLASH_FULL, B_KEEP),
    "session_start": (SESSION_START, B_IDLE),
    "session_stop": (SESSION_STOP, B_OFF),
    "config_fault": (CONFIG_FAULT, B_KEEP),
}

STYLES = ("full", "quiet", "minimal")
_FULL = const(0)
_QUIET = const(1)
_MINIMAL = const(2)

QUEUE_DEPTH = const(4)
STALE_MS = const(2000)

# Per-cue columns pulled out of CUES once, so tick() indexes flat tuples.
_PRIO = tuple(row[1] for row in CUES)
_COLOUR = tuple(row[2] for row in CUES)
_ESSENTIAL = tuple(row[3] for row in CUES)
_STEPS = tuple(row[4] for row in CUES)


# ---- output devices ------------------------------------------------------
# Each wraps the object the board file built and offers show(rgb) (LEDs) or
# tone(hz, loudness) (buzzers). COLOUR tells Cues which base column to use.


class Led:
    """A plain LED on a GPIO pin (anything with .value(v)); lit when rgb is not OFF."""

    COLOUR = False

    def __init__(self, pin, active_low=False):
        self.pin = pin
        self._on = 1 if not active_low else 0
        self._lit = -1
        self.show(OFF)

    def show(self, rgb):
        lit = 0 if rgb is OFF or rgb == OFF else 1
        if lit != self._lit:
            self._lit = lit
            self.pin.value(self._on if lit else 1 - self._on)


class NeoPixelLed:
    """One pixel of a NeoPixel strip (np[i] = (r, g, b); np.write())."""

    COLOUR = True

    def __init__(self, np, index=0):
        self.np = np
        self.index = index
        self._rgb = None
        self.show(OFF)

    def show(self, rgb):
        if rgb is not self._rgb:
            self._rgb = rgb
            self.np[self.index] = rgb
            self.np.write()


class PassiveBuzzer:
    """A passive piezo/magnetic buzzer on a PWM (.freq(hz), .duty_u16(d)).

    duty: 16-bit duty for normal tones (50 % is loudest for a piezo);
    soft_duty: for soft ticks (a low duty is quieter on most piezos)."""

    def __init__(self, pwm, duty=32768, soft_duty=2500):
        self.pwm = pwm
        self._duty = (0, soft_duty, duty)
        self._hz = 0
        pwm.duty_u16(0)

    def tone(self, hz, loud):
        if hz <= 0:
            if self._hz:
                self._hz = 0
                self.pwm.duty_u16(0)
            return
        if hz != self._hz:
            self._hz = hz
            self.pwm.freq(hz)
        self.pwm.duty_u16(self._duty[loud])


class ActiveBuzzer:
    """An active buzzer (its own oscillator) switched by a pin: beeps, one pitch."""

    def __init__(self, pin, active_low=False):
        self.pin = pin
        self._on = 1 if not active_low else 0
        self._state = -1
        self.tone(0, 0)

    def tone(self, hz, loud):
        s = 1 if hz > 0 and loud else 0
        if s != self._state:
            self._state = s
            self.pin.value(self._on if s else 1 - self._on)


# ---- the scheduler -------------------------------------------------------


class Cues:
    """Non-blocking cue player. led: Led/NeoPixelLed (or None); buzzer:
    PassiveBuzzer/ActiveBuzzer (or None); style: "full", "quiet" or "minimal"."""

    def __init__(self, led, buzzer, style="full"):
        self.led = led
        self.buzzer = buzzer
        self._colour = bool(led is not None and getattr(led, "COLOUR", False))
        self._style = _FULL
        self.set_style(style)
        self.cue = NONE  # cue playing now, or NONE
        self._steps = _STEPS[READY]  # the playing cue's steps (valid while cue != NONE)
        self._i = 0
        self.end_ms = 0  # tick at which step _i ends (valid while cue != NONE): tick() is due then
        self._base = B_OFF
        # queue: cue ids and enqueue ticks in arrival order, _qn of them
        self._qc = [NONE] * QUEUE_DEPTH
        self._qt = [0] * QUEUE_DEPTH
        self._qn = 0
        self.dropped = 0  # cues dropped (queue full or stale), for diagnostics
        self._show_base()

    # -- settings --
    def set_style(self, style):
        for i in range(len(STYLES)):
            if STYLES[i] == style:
                self._style = i
                if i == _QUIET and self.buzzer is not None:
                    self.buzzer.tone(0, 0)
                return
        raise ValueError("cue style must be one of full/quiet/minimal, got %r" % (style,))

    @property
    def style(self):
        return STYLES[self._style]

    def busy(self):
        return self.cue != NONE

    def pending(self):
        return self._qn

    # -- input --
    def on_event(self, ev, t_ms):
        """React to an event type (str, see EVENTS) or a cue id (int) at tick
        t_ms (the current tick: the cue starts there). Returns True if a cue
        was started or queued."""
        if isinstance(ev, int):
            c = ev
            if c < 0 or c >= len(CUES):
                return False
        else:
            m = EVENTS.get(ev)
            if m is None:
                return False
            c = m[0]
            if m[1] != B_KEEP:
                self._base = m[1]
        if c == NONE or (c == HOLD_TICK and self._style == _MINIMAL):
            if self.cue == NONE:
                self._show_base()  # the base state may have changed
            return False
        cur = self.cue
        if cur == NONE or _PRIO[c] > _PRIO[cur]:
            self._start(c, t_ms)
            return True
        return self._enqueue(c, t_ms)

    def on_engine_event(self, ev, t_ms):
        """Same, from an engine event dict: a rep_end with no_hold plays no_hold."""
        typ = ev["type"]
        if typ == "rep_end" and ev.get("no_hold"):
            typ = "no_hold"
        return self.on_event(typ, t_ms)

    def stop(self):
        """Silence now and forget the queue (the base LED state stays)."""
        self.cue = NONE
        self._qn = 0
        if self.buzzer is not None:
            self.buzzer.tone(0, 0)
        self._show_base()

    # -- time --
    def tick(self, now_ms):
        """Advance the playing cue to now_ms; start the next queued one when it ends."""
        if self.cue == NONE:
            return
        if ticks_diff(now_ms, self.end_ms) < 0:
            return
        steps = self._steps
        i = self._i + 1
        end = self.end_ms
        # Catch up through every step that ended by now (a late tick skips
        # steps rather than stretching the pattern).
        while i < len(steps):
            end = ticks_add(end, steps[i][3])
            if ticks_diff(now_ms, end) < 0:
                break
            i += 1
        if i >= len(steps):
            self.cue = NONE
            self._next(now_ms)
            return
        self._i = i
        self.end_ms = end
        self._apply()

    # -- internals --
    def _start(self, c, t_ms):
        self.cue = c
        self._steps = _STEPS[c]
        self._i = 0
        self.end_ms = ticks_add(t_ms, self._steps[0][3])
        self._apply()

    def _apply(self):
        st = self._steps[self._i]
        c = self.cue
        if self.led is not None:
            self.led.show(_COLOUR[c] if st[0] else OFF)
        if self.buzzer is not None:
            if self._style == _QUIET or (self._style == _MINIMAL and not _ESSENTIAL[c]):
                self.buzzer.tone(0, 0)
            else:
                self.buzzer.tone(st[1], st[2])

    def _show_base(self):
        if self.led is not None:
            b = BASES[self._base]
            if self._colour:
                self.led.show(b[2])
            else:
                self.led.show(GREEN if b[1] else OFF)

    def _next(self, now_ms):
        # Pick the highest priority fresh cue (oldest first among equals).
        while self._qn:
            best = -1
            for j in range(self._qn):
                if best < 0 or _PRIO[self._qc[j]] > _PRIO[self._qc[best]]:
                    best = j
            c = self._qc[best]
            fresh = ticks_diff(now_ms, self._qt[best]) <= STALE_MS
            self._remove(best)
            if fresh:
                self._start(c, now_ms)
                return
            self.dropped += 1
        if self.buzzer is not None:
            self.buzzer.tone(0, 0)
        self._show_base()

    def _enqueue(self, c, t_ms):
        n = self._qn
        for j in range(n):
            if self._qc[j] == c:  # already waiting: refresh its time
                self._qt[j] = t_ms
                return True
        if n < QUEUE_DEPTH:
            self._qc[n] = c
            self._qt[n] = t_ms
            self._qn = n + 1
            return True
        # Full: drop the lowest priority (newest among equals), maybe the newcomer.
        low = 0
        for j in range(1, n):
            if _PRIO[self._qc[j]] <= _PRIO[self._qc[low]]:
                low = j
        self.dropped += 1
        if _PRIO[c] <= _PRIO[self._qc[low]]:
            return False
        self._remove(low)
        self._qc[n - 1] = c
        self._qt[n - 1] = t_ms
        self._qn = n
        return True

    def _remove(self, j):
        n = self._qn - 1
        while j < n:
            self._qc[j] = self._qc[j + 1]
            self._qt[j] = self._qt[j + 1]
            j += 1
        self._qn = n
