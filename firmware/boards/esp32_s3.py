# ESP32-S3-DevKitC-1. Pin map: hardware/README.md.
#
#   GPIO8 SDA, GPIO9 SCL     GPIO5 passive buzzer (LEDC PWM)
#   GPIO6 button to GND (pull-up)
#   NeoPixel (WS2812, onboard "RGB" LED): GPIO48 on board v1.0, GPIO38 on
#   v1.1: if the LED stays dark, set PINS["neopixel"] = 38 (and in hardware/README.md).
#
# Avoid GPIO0 (BOOT), GPIO3/45/46 (straps), GPIO19/20 (USB), GPIO26-32
# (flash) and, on boards with octal PSRAM (N8R8, N16R8), GPIO33-37.
NAME = "ESP32-S3-DevKitC-1"

PINS = {
    "i2c": 0,
    "sda": 8,
    "scl": 9,
    "freq": 400000,
    "led": None,
    "neopixel": 48,
    "buzzer": 5,
    "buzzer_kind": "passive",
    "button": 6,
    "button_pull": "up",
}


def build():
    """(i2c, led, buzzer, button_pin) for this board; see boards/__init__.py."""
    import machine

    from boards import make

    return make(machine, PINS)
