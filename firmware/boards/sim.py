# The simulated board for the MicroPython unix port (and CPython): fake pins
# from sim/fakemachine.py that print what the LED and the buzzer do,
#
#   [   12.345 s] LED green
#   [   12.345 s] BUZZ 880 Hz 120 ms
#
# and the fake I2C bus of sim/i2cbus.py (chip emulations in sim/chips.py),
# passed in by whoever attaches the chips.
# The pin numbers are nominal (a Pico-like layout with a NeoPixel, so the
# printout names colours); they are checked against hardware/README.md like
# every board's.
NAME = "Simulator (MicroPython unix port)"

PINS = {
    "i2c": 0,
    "sda": 4,
    "scl": 5,
    "freq": 400000,
    "led": None,
    "neopixel": 16,
    "buzzer": 15,
    "buzzer_kind": "passive",
    "button": 14,
    "button_pull": "up",
}


def build(i2c=None):
    """(i2c, led, buzzer, button_pin) built on fakes; see boards/__init__.py.

    i2c: the bus to hand back, normally a sim.i2cbus.FakeI2C with emulated
    chips attached by the virtual device; None: a bus on which nothing
    answers (an unplugged sensor). The button pin is a fakemachine.Pin:
    drive it with .set_input(0/1)."""
    from boards import make
    from sim import fakemachine

    fakemachine.LABELS[PINS["led"] if PINS["led"] is not None else PINS["neopixel"]] = "LED"
    fakemachine.LABELS[PINS["buzzer"]] = "BUZZ"
    return make(fakemachine, PINS, neopixel=fakemachine, i2c=i2c if i2c is not None else _NoBus())


class _NoBus:
    """Stands in when no simulated bus is given: every transfer fails like an
    unplugged sensor (OSError ENODEV), so the app's fault path runs."""

    def scan(self):
        return []

    def _fail(self, *a):
        raise OSError(19)

    readfrom_mem = readfrom_mem_into = writeto_mem = readfrom = writeto = _fail
