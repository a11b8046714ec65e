# Raspberry Pi Pico (RP2040). Pin map: hardware/README.md, hardware/wiring-pico.svg.
#
#   GP4  I2C0 SDA  -> GY-521 SDA        GP5  I2C0 SCL -> GY-521 SCL
#   GP25 onboard LED (green)            GP15 passive buzzer (PWM, via NPN)
#   GP14 button to GND (internal pull-up)
#
# Don't use BOOTSEL as the button: held at power-up it starts the UF2 loader.
NAME = "Raspberry Pi Pico"

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
