# Raspberry Pi Pico 2 (RP2350). Pin map: hardware/README.md, hardware/wiring-pico.svg.
#
# Same pinout as the Pico; the onboard LED is GP25. (Pico 2 W: use pico_w,
# whose LED is on the wireless chip.) RP2350 A2 erratum E9: an input with
# the internal pull-down can latch high; the button uses the pull-up, which is
# not affected.
NAME = "Raspberry Pi Pico 2"

PINS = {
    "i2c": 0,
    "sda": 4,
    "scl": 5,
    "freq": 400000,
    "led": 25,
    "neopixel": None,
    "buzzer": 15,
    "buzzer_kind": "passive",
    "button": 14,
    "button_pull": "up",
}


def build():
    """(i2c, led, buzzer, button_pin) for this board; see boards/__init__.py."""
    import machine

    from boards import make

    return make(machine, PINS)
