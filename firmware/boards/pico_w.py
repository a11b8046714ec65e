# Raspberry Pi Pico W (RP2040 + CYW43), also right for the Pico 2 W.
# Pin map: hardware/README.md, hardware/wiring-pico.svg.
#
# Same header pins as the Pico; the onboard LED is not a GPIO but hangs off the
# CYW43 wireless chip: MicroPython names it Pin("LED"). GP23/24/25/29 are used
# by the wireless chip: leave them alone.
NAME = "Raspberry Pi Pico W"

PINS = {
    "i2c": 0,
    "sda": 4,
    "scl": 5,
    "freq": 400000,
    "led": "LED",
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
