# Shared tests (CPython via pytest, MicroPython unix port via tests/run_unix.py)
# for firmware/cues.py: step timing on fake pins, priorities and the queue,
# styles, NeoPixel colours, the tick wrap, and no allocation in tick().
import sys

import cues
from cues import (
    BASES, CUES, EVENTS, STALE_MS, ActiveBuzzer, Cues, Led, NeoPixelLed, PassiveBuzzer,
)
from heelcore.ticks import TICKS_PERIOD, ticks_add


class Pin:
    def __init__(self, v=0):
        self.v = v
        self.writes = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        self.writes += 1


class PWM:
    def __init__(self):
        self.hz = 0
        self.duty = 0
        self.loud_ms = 0  # not used by cues; handy in ad-hoc checks

    def freq(self, hz=None):
        if hz is None:
            return self.hz
        self.hz = hz

    def duty_u16(self, d=None):
        if d is None:
            return self.duty
        self.duty = d


class Pixels:
    def __init__(self, n=1):
        self.px = [(9, 9, 9)] * n
        self.shown = None
        self.writes = 0

    def __setitem__(self, i, rgb):
        self.px[i] = rgb

    def __getitem__(self, i):
        return self.px[i]

    def write(self):
        self.shown = self.px[0]
        self.writes += 1


def cue_id(name):
    for i in range(len(CUES)):
        if CUES[i][0] == name:
            return i
    raise KeyError(name)


def plain(style="full"):
    pin = Pin()
    pwm = PWM()
    return Cues(Led(pin), PassiveBuzzer(pwm), style), pin, pwm


def sounding(pwm):
    return pwm.duty > 0


def check_ready_pattern(t0):
    c, pin, pwm = plain()
    assert c.on_event("calibrated", t0)
    # ready: lit + 1568 Hz 60 ms, dark 60 ms, lit + 1568 Hz 60 ms
    assert pin.v == 1 and pwm.hz == 1568 and sounding(pwm)
    c.tick(ticks_add(t0, 59))
    assert pin.v == 1 and sounding(pwm)
    c.tick(ticks_add(t0, 60))
    assert pin.v == 0 and not sounding(pwm)
    c.tick(ticks_add(t0, 119))
    assert pin.v == 0 and not sounding(pwm)
    c.tick(ticks_add(t0, 120))
    assert pin.v == 1 and sounding(pwm) and pwm.hz == 1568
    c.tick(ticks_add(t0, 179))
    assert c.busy()
    c.tick(ticks_add(t0, 180))
    assert not c.busy() and pin.v == 0 and not sounding(pwm)


def test_pattern_timing():
    check_ready_pattern(5000)


def test_pattern_timing_across_the_wrap():
    check_ready_pattern(TICKS_PERIOD - 70)
    check_ready_pattern(TICKS_PERIOD - 1)


def test_every_cue_plays_to_the_end_on_time():
    for c_id in range(len(CUES)):
        c, pin, pwm = plain()
        t0 = TICKS_PERIOD - 200
        c.on_event(c_id, t0)
        total = 0
        for st in CUES[c_id][4]:
            assert pin.v == st[0], CUES[c_id][0]
            assert sounding(pwm) == (st[1] > 0), CUES[c_id][0]
            if st[1]:
                assert pwm.hz == st[1]
            total += st[3]
            c.tick(ticks_add(t0, total - 1))
            assert c.busy()
            c.tick(ticks_add(t0, total))
        assert not c.busy() and not sounding(pwm), CUES[c_id][0]


def test_late_tick_skips_to_the_right_step():
    c, pin, pwm = plain()
    c.on_event("calibrated", 0)
    c.tick(125)  # third step: lit again
    assert pin.v == 1 and sounding(pwm)
    c.tick(10000)
    assert not c.busy() and pin.v == 0 and not sounding(pwm)


def test_fault_cuts_in_over_a_hold_tick():
    c, pin, pwm = plain()
    c.on_event("hold_start", 0)
    c.tick(1000)
    assert not c.busy()
    c.on_event("hold_tick", 1000)
    assert c.cue == cues.HOLD_TICK and pwm.hz == 2000
    c.on_event("i2c_error", 1010)
    assert c.cue == cues.FAULT and pwm.hz == 1760 and sounding(pwm) and pin.v == 1
    # the hold tick is gone, not resumed afterwards
    assert c.pending() == 0
    c.tick(1010 + 1200)
    assert not c.busy()


def test_lower_priority_never_interrupts():
    c, pin, pwm = plain()
    c.on_event("sensor_fault", 0)
    c.on_event("hold_tick", 10)
    c.on_event("bounce", 20)
    assert c.cue == cues.FAULT and c.pending() == 2
    c.tick(600)
    assert c.cue == cues.FAULT
    c.tick(1200)  # fault done (1200 ms): the waiting bounce outranks the hold tick
    assert c.cue == cues.BOUNCE
    c.tick(1200 + 400)
    assert c.cue == cues.HOLD_TICK
    c.tick(1200 + 400 + 80)
    assert not c.busy()


def test_equal_priority_waits_its_turn():
    c, pin, pwm = plain()
    c.on_event("bounce", 0)
    c.on_event("roll_out", 5)
    assert c.cue == cues.BOUNCE and c.pending() == 1
    c.tick(400)
    assert c.cue == cues.ROLL_OUT


def test_queue_full_drops_the_lowest():
    c, pin, pwm = plain()
    c.on_event("sensor_fault", 0)
    for ev in ("hold_tick", "reset_ready", "rep_end", "descent_too_fast"):
        assert c.on_event(ev, 1)
    assert c.pending() == cues.QUEUE_DEPTH
    assert c.on_event("side", 2)  # outranks the hold tick, which goes
    assert c.on_event("rep_start", 3) is False  # lowest of all: dropped itself
    assert c.pending() == cues.QUEUE_DEPTH and c.dropped == 2
    order = []
    t = 0
    while c.busy() and t < 20000:
        if not order or order[-1] != c.cue:
            order.append(c.cue)
        t += 1
        c.tick(t)
    # fault 1200 ms + side 500 ms + too_fast 420 ms: by then rep_done and
    # ready have waited longer than STALE_MS and are dropped unplayed
    assert order == [cues.FAULT, cues.SIDE, cues.TOO_FAST], order
    assert c.dropped == 4


def test_queue_plays_highest_priority_first():
    c, pin, pwm = plain()
    c.on_event("rep_start", 0)  # 40 ms
    c.on_event("hold_tick", 1)
    c.on_event("rep_start", 2)  # equal priority: waits
    c.on_event("hold_tick", 3)  # already waiting: not twice
    assert c.pending() == 2
    c.on_event("reset_ready", 4)  # outranks rep_start: cuts in
    assert c.cue == cues.READY
    order = []
    t = 4
    while c.busy() and t < 5000:
        if not order or order[-1] != c.cue:
            order.append(c.cue)
        t += 1
        c.tick(t)
    assert order == [cues.READY, cues.REP_START, cues.HOLD_TICK], order
    assert c.dropped == 0


def test_same_cue_is_not_queued_twice():
    c, pin, pwm = plain()
    c.on_event("sensor_fault", 0)
    c.on_event("bounce", 1)
    c.on_event("bounce", 2)
    c.on_event("bounce", 3)
    assert c.pending() == 1


def test_stale_cues_are_dropped():
    c, pin, pwm = plain()
    c.on_event("sensor_fault", 0)
    c.on_event("bounce", 1)
    # the loop stalls; by the time the fault ends the bounce is too old
    c.tick(STALE_MS + 500)
    assert not c.busy() and c.dropped == 1 and not sounding(pwm)


def test_quiet_style_never_sounds():
    c, pin, pwm = plain("quiet")
    lit = 0
    for ev in ("calibrated", "hold_target", "sensor_fault", "session_start"):
        c.on_event(ev, 0)
        t = 0
        while c.busy():
            assert not sounding(pwm)
            lit += pin.v
            t += 5
            c.tick(t)
    assert lit > 0
    assert c.style == "quiet"


def test_minimal_style():
    c, pin, pwm = plain("minimal")
    c.on_event("hold_start", 0)
    c.tick(1000)
    assert c.on_event("hold_tick", 1000) is False  # no hold ticks at all
    assert not c.busy()
    c.on_event("bounce", 1000)  # LED only
    assert c.cue == cues.BOUNCE and pin.v == 1 and not sounding(pwm)
    c.tick(2000)
    c.on_event("hold_target", 2000)  # essential: sounds
    assert sounding(pwm) and pwm.hz == 1047


def test_switch_style_at_run_time():
    c, pin, pwm = plain()
    c.on_event("session_start", 0)
    assert sounding(pwm)
    c.set_style("quiet")
    assert not sounding(pwm)
    try:
        c.set_style("loud")
        raise AssertionError("accepted a bad style")
    except ValueError:
        pass


def test_neopixel_colours_and_base_states():
    np = Pixels()
    c = Cues(NeoPixelLed(np), PassiveBuzzer(PWM()))
    assert np.shown == cues.OFF
    c.on_event("calibrated", 0)
    assert np.shown == cues.GREEN
    c.tick(1000)
    assert np.shown == cues.DIM_GREEN  # idle
    c.on_event("hold_start", 1000)
    assert np.shown == cues.BLUE
    c.tick(2000)
    assert np.shown == cues.DIM_BLUE  # holding
    c.on_event("roll_out", 2000)
    assert np.shown == cues.AMBER
    c.on_event("side", 2010)
    assert np.shown == cues.PURPLE
    c.on_event("unplugged", 2020)
    assert np.shown == cues.RED
    c.tick(5000)
    assert np.shown == cues.DIM_RED  # fault stays visible
    c.on_event("sensor_ok", 5000)
    assert np.shown == cues.DIM_GREEN


def test_plain_led_stays_lit_while_holding():
    c, pin, pwm = plain()
    c.on_event("hold_start", 0)
    c.tick(1000)
    assert pin.v == 1
    c.on_event("hold_tick", 1000)  # a short dark wink
    assert pin.v == 0
    c.tick(1080)
    assert pin.v == 1
    c.on_event("rise_start", 2000)
    assert pin.v == 0


def test_active_buzzer_beeps_the_rhythm():
    bpin = Pin()
    c = Cues(Led(Pin()), ActiveBuzzer(bpin))
    c.on_event("twist", 0)  # beep 100, gap 60, beep 250 (two pitches, one beep)
    assert bpin.v == 1
    c.tick(100)
    assert bpin.v == 0
    c.tick(160)
    assert bpin.v == 1
    writes = bpin.writes
    c.tick(285)  # the pitch changes, the active buzzer stays on
    assert bpin.v == 1 and bpin.writes == writes
    c.tick(410)
    assert bpin.v == 0 and not c.busy()


def test_soft_tick_uses_soft_duty():
    pwm = PWM()
    c = Cues(Led(Pin()), PassiveBuzzer(pwm, duty=30000, soft_duty=1000))
    c.on_event("hold_tick", 0)
    assert pwm.duty == 1000
    c.on_event("hold_target", 1)
    assert pwm.duty == 30000


def test_engine_event_dicts():
    c, pin, pwm = plain()
    assert c.on_engine_event({"type": "rep_end", "t_ms": 0, "rep": 1, "no_hold": True}, 0)
    assert c.cue == cues.NO_HOLD
    c.stop()
    assert not c.busy() and not sounding(pwm)
    c.on_engine_event({"type": "rep_end", "t_ms": 0, "rep": 2, "no_hold": False}, 0)
    assert c.cue == cues.REP_DONE
    assert c.on_event("summary", 0) is False  # not a cue
    assert c.on_event("no_such_event", 0) is False


def test_no_outputs_is_fine():
    c = Cues(None, None)
    c.on_event("calibrated", 0)
    c.tick(1000)
    assert not c.busy()


def test_tables_are_consistent():
    names = [row[0] for row in CUES]
    assert len(set(names)) == len(names)
    for name, prio, colour, essential, steps in CUES:
        assert 0 <= prio <= 9 and len(colour) == 3 and len(steps) > 0, name
        for led, hz, loud, ms in steps:
            assert led in (0, 1) and ms > 0 and (hz == 0 or 100 <= hz <= 5000), name
            assert loud in (0, 1, 2) and (hz == 0) == (loud == 0), name
    for ev in EVENTS:
        cue, base = EVENTS[ev]
        assert -1 <= cue < len(CUES) and -1 <= base < len(BASES), ev
    # the fault outranks everything; the hold tick is the least
    assert max(row[1] for row in CUES) == CUES[cue_id("sensor_fault")][1]
    assert min(row[1] for row in CUES) == CUES[cue_id("hold_tick")][1]
    # every detector event of the contract that should be answered is mapped
    for ev in ("calibrated", "reset_ready", "rep_start", "hold_tick", "hold_target",
               "descent_too_fast", "bounce", "roll_out", "twist", "snap_up", "rep_end", "side"):
        assert EVENTS[ev][0] >= 0, ev


def _workout(c, pin, t0, n):
    # A steady-state stream of events and ticks, no allocation expected.
    t = t0
    k = 0
    while k < n:
        c.on_event("hold_tick", t)
        c.on_event("bounce", ticks_add(t, 3))
        c.on_event(cues.FAULT if k % 7 == 0 else cues.READY, ticks_add(t, 4))
        c.on_event("hold_start", ticks_add(t, 5))
        j = 0
        while j < 200:
            t = ticks_add(t, 10)
            c.tick(t)
            j += 1
        k += 1
    return t


def test_tick_allocates_nothing():
    np = Pixels()
    c = Cues(NeoPixelLed(np), PassiveBuzzer(PWM()))
    c2, pin, pwm = plain()
    c3 = Cues(Led(Pin()), ActiveBuzzer(Pin()), "minimal")
    t0 = TICKS_PERIOD - 5000
    for x in (c, c2, c3):
        _workout(x, pin, t0, 2)  # warm up
    if sys.implementation.name != "micropython":
        for x in (c, c2, c3):
            _workout(x, pin, t0, 5)
        return
    import gc
    import micropython

    players = (c, c2, c3)  # built before the lock: a tuple display allocates
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        for x in players:
            _workout(x, pin, t0, 5)
    finally:
        micropython.heap_unlock()
        used = gc.mem_alloc() - before
        gc.enable()
    assert used == 0, used
