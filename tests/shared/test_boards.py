# Shared tests for firmware/boards: every board file loads without machine,
# has a complete PINS map, and build() works on fake machine objects.
import sys

import boards
import cues
from sim import fakemachine

KEYS = ("i2c", "sda", "scl", "freq", "led", "neopixel", "buzzer", "buzzer_kind", "button", "button_pull")


class FakeI2C:
    def __init__(self, id, scl=None, sda=None, freq=0):
        self.id = id
        self.scl = scl
        self.sda = sda
        self.freq = freq


class FakeMachine:
    Pin = fakemachine.Pin
    PWM = fakemachine.PWM
    I2C = FakeI2C


class FakeNeoPixelModule:
    NeoPixel = fakemachine.NeoPixel


def quiet_output(lines):
    fakemachine.set_output(lines.append)
    fakemachine.set_clock(lambda: 0, 0)


def restore_output():
    fakemachine.set_output(None)
    fakemachine.set_clock(None, None)


def test_every_board_has_a_complete_pin_map():
    for name in boards.NAMES:
        b = boards.load(name)
        assert isinstance(b.NAME, str) and b.NAME, name
        for k in KEYS:
            assert k in b.PINS, (name, k)
        p = b.PINS
        assert (p["led"] is None) != (p["neopixel"] is None), name
        assert p["buzzer_kind"] in ("passive", "active"), name
        assert p["button_pull"] in ("up", "down"), name
        assert p["freq"] in (100000, 400000), name
        used = [p["sda"], p["scl"], p["buzzer"], p["button"], p["led"], p["neopixel"]]
        used = [u for u in used if u is not None]
        assert len(set(used)) == len(used), (name, "pin used twice")


def test_unknown_board_is_a_clear_error():
    try:
        boards.load("arduino")
        raise AssertionError("loaded an unknown board")
    except ValueError as e:
        assert "pico" in str(e)


def test_build_on_fake_machine():
    saved_m = sys.modules.get("machine")
    saved_np = sys.modules.get("neopixel")
    sys.modules["machine"] = FakeMachine
    sys.modules["neopixel"] = FakeNeoPixelModule
    lines = []
    quiet_output(lines)
    try:
        for name in boards.NAMES:
            if name == "sim":
                continue
            b = boards.load(name)
            i2c, led, buzzer, button = b.build()
            assert isinstance(i2c, FakeI2C) and i2c.freq == b.PINS["freq"], name
            assert i2c.id == b.PINS["i2c"] and i2c.sda.id == b.PINS["sda"] and i2c.scl.id == b.PINS["scl"]
            if b.PINS["neopixel"] is None:
                assert isinstance(led, cues.Led) and led.pin.id == b.PINS["led"], name
            else:
                assert isinstance(led, cues.NeoPixelLed) and led.np.pin.id == b.PINS["neopixel"], name
            if b.PINS["buzzer_kind"] == "passive":
                assert isinstance(buzzer, cues.PassiveBuzzer) and buzzer.pwm.pin.id == b.PINS["buzzer"]
            else:
                assert isinstance(buzzer, cues.ActiveBuzzer)
            assert button.id == b.PINS["button"] and button.value() == 1  # pulled up, released
            c = cues.Cues(led, buzzer)
            c.on_event("session_start", 0)
            c.tick(10000)
    finally:
        restore_output()
        if saved_m is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved_m
        if saved_np is None:
            del sys.modules["neopixel"]
        else:
            sys.modules["neopixel"] = saved_np


def test_sim_board_prints_led_and_buzzer():
    lines = []
    t = [0]
    fakemachine.set_output(lines.append)
    fakemachine.set_clock(lambda: t[0], 0)
    try:
        i2c, led, buzzer, button = boards.load("sim").build()
        c = cues.Cues(led, buzzer)
        t[0] = 12345
        c.on_event("roll_out", t[0])
        while t[0] < 14000:
            t[0] += 5
            c.tick(t[0])
        button.set_input(0)
        assert button.value() == 0
        try:
            i2c.readfrom_mem(0x68, 0x75, 1)
            unplugged = False
        except OSError:
            unplugged = True
        assert unplugged or hasattr(i2c, "readfrom_mem_into")
    finally:
        restore_output()
    assert "[   12.345 s] LED amber" in lines, lines
    assert "[   12.345 s] BUZZ 880 Hz 120 ms" in lines, lines
    assert "[   12.465 s] BUZZ 660 Hz 130 ms" in lines, lines
    assert "[   12.755 s] LED off" in lines, lines


def test_detect_names_a_known_board():
    assert boards.detect() in boards.NAMES
