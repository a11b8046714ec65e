# ESP32 DevKit (ESP32-WROOM-32: DevKitC, DOIT DevKit V1 and clones).
# Pin map: hardware/README.md, hardware/wiring-esp32.svg.
#
#   GPIO21 SDA, GPIO22 SCL (the usual ESP32 I2C pins)
#   GPIO2  LED: the blue onboard LED of DOIT-style boards; on a DevKitC (no
#          user LED) wire an LED + 330 ohm to GND. GPIO2 is a strapping pin:
#          an LED to GND keeps it low, which is what flashing needs.
#   GPIO25 passive buzzer (LEDC PWM)      GPIO27 button to GND (pull-up)
#
# Avoid GPIO0 (BOOT button: held at reset enters the ROM loader), GPIO6-11
# (SPI flash), GPIO34-39 (input only, no pull-ups), GPIO12 (flash voltage strap).
NAME = "ESP32 DevKit (ESP32-WROOM-32)"

PINS = {
    "i2c": 0,
    "sda": 21,
    "scl": 22,
    "freq": 400000,
    "led": 2,
    "neopixel": None,
    "buzzer": 25,
    "buzzer_kind": "passive",
    "button": 27,
    "button_pull": "up",
}


def build():
    """(i2c, led, buzzer, button_pin) for this board; see boards/__init__.py."""
    import machine

    from boards import make

    return make(machine, PINS)
