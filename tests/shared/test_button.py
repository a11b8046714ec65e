# Shared tests (CPython via pytest, MicroPython unix port via tests/run_unix.py)
# for firmware/button.py: debounce, short/long gestures, boot hold, the wrap.
import sys

from button import DEBOUNCE_MS, LONG_MS, Button
from heelcore.ticks import TICKS_PERIOD, ticks_add, ticks_diff


class Pin:
    """Input pin whose level follows a script of (tick offset, level) changes."""

    def __init__(self, level=1):
        self.level = level

    def value(self, v=None):
        return self.level


def drive(button, pin, t0, script, until, step=1):
    """Poll every `step` ms from t0 to t0+until (offsets), applying the level
    changes of script [(offset, level), ...]; returns [(offset, gesture)]."""
    out = []
    k = 0
    off = 0
    while off <= until:
        while k < len(script) and script[k][0] <= off:
            pin.level = script[k][1]
            k += 1
        g = button.poll(ticks_add(t0, off))
        if g is not None:
            out.append((off, g))
        off += step
    return out


def bouncy(t, level, n=6, gap=1):
    """A press/release edge at offset t with n ms of contact bounce before it settles."""
    s = []
    for i in range(n):
        s.append((t + i * gap, level if i % 2 == 0 else 1 - level))
    s.append((t + n * gap, level))
    return s


def test_short_press_clean():
    pin = Pin(1)
    b = Button(pin)
    ev = drive(b, pin, 1000, [(100, 0), (400, 1)], 1000)
    assert ev == [(400 + DEBOUNCE_MS, "short")]


def test_short_press_with_bounce_reports_once():
    pin = Pin(1)
    b = Button(pin)
    script = bouncy(100, 0, 8) + bouncy(500, 1, 10)
    ev = drive(b, pin, 0, script, 1200)
    assert len(ev) == 1 and ev[0][1] == "short", ev
    # reported once the release has settled for the debounce time
    assert ev[0][0] == 510 + DEBOUNCE_MS


def test_glitches_shorter_than_debounce_are_ignored():
    pin = Pin(1)
    b = Button(pin)
    script = [(100, 0), (110, 1), (300, 0), (300 + DEBOUNCE_MS - 2, 1)]
    assert drive(b, pin, 0, script, 1000) == []
    assert not b.pressed()


def test_debounce_window_is_20_to_30_ms():
    assert 20 <= DEBOUNCE_MS <= 30


def test_long_press_reports_while_held_and_once():
    pin = Pin(1)
    b = Button(pin)
    ev = drive(b, pin, 0, bouncy(100, 0) + bouncy(3000, 1), 4000)
    # the press settled at 106: "long" exactly LONG_MS later, nothing on release
    assert ev == [(106 + LONG_MS, "long")], ev


def test_release_between_short_and_long_reports_nothing():
    pin = Pin(1)
    b = Button(pin)
    assert drive(b, pin, 0, [(100, 0), (100 + 1200, 1)], 3000) == []


def test_short_just_under_one_second():
    pin = Pin(1)
    b = Button(pin)
    ev = drive(b, pin, 0, [(100, 0), (100 + 990, 1)], 2000)
    assert [g for _, g in ev] == ["short"]


def test_coarse_polling_still_works():
    pin = Pin(1)
    b = Button(pin)
    ev = drive(b, pin, 0, [(100, 0), (350, 1), (1000, 0), (3000, 1)], 4000, step=10)
    assert [g for _, g in ev] == ["short", "long"]


def test_active_high_button():
    pin = Pin(0)
    b = Button(pin, active_low=False)
    ev = drive(b, pin, 0, [(50, 1), (250, 0)], 600)
    assert [g for _, g in ev] == ["short"]


def test_across_the_tick_wrap():
    pin = Pin(1)
    b = Button(pin)
    t0 = TICKS_PERIOD - 300
    ev = drive(b, pin, t0, bouncy(100, 0) + bouncy(500, 1), 800)
    assert [g for _, g in ev] == ["short"]
    t0 = TICKS_PERIOD - 1000
    pin.level = 1
    b = Button(pin)
    ev = drive(b, pin, t0, [(100, 0), (2500, 1)], 3000)
    assert ev == [(100 + LONG_MS, "long")]
    assert ticks_diff(ticks_add(t0, ev[0][0]), t0) == 100 + LONG_MS


def test_held_at_boot_needs_debounce_then_swallows_the_press():
    pin = Pin(0)  # held when powered up
    b = Button(pin)
    assert b.held_at_boot(0) is False  # not debounced yet
    assert b.held_at_boot(10) is False
    assert b.held_at_boot(DEBOUNCE_MS + 1) is True
    # holding on (recalibrating) never starts a session, release is silent
    ev = drive(b, pin, 0, [(0, 0), (3000, 1)], 3500)
    assert ev == []
    # the next press is an ordinary one
    ev = drive(b, pin, 4000, [(0, 0), (200, 1)], 500)
    assert [g for _, g in ev] == ["short"]


def test_not_held_at_boot():
    pin = Pin(1)
    b = Button(pin)
    t = 0
    while t < 100:
        assert b.held_at_boot(t) is False
        t += 5
    # pressing after start-up is not a boot hold
    pin.level = 0
    t = 100
    while t < 200:
        assert b.held_at_boot(t) is False
        t += 5


def test_boot_hold_with_bounce_at_power_up():
    pin = Pin(0)
    b = Button(pin)
    seen = False
    t = 0
    for lvl in (0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0):
        pin.level = lvl
        if b.held_at_boot(t):
            seen = True
        t += 5
    assert seen


def test_poll_allocates_nothing():
    if sys.implementation.name != "micropython":
        return
    import micropython

    pin = Pin(1)
    b = Button(pin)
    b.poll(0)
    micropython.heap_lock()
    try:
        t = 0
        n = 0
        while t < 5000:
            pin.level = 0 if (t // 700) % 3 == 0 else 1
            if b.poll(t) is not None:
                n += 1
            t += 3
    finally:
        micropython.heap_unlock()
    assert n > 0
