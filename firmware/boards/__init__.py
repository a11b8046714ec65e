# Board files: one small module per board with its pin map.
#
#   import boards
#   b = boards.load()            # or boards.load("pico_w"); None = detect
#   i2c, led, buzzer, button_pin = b.build()
#
# Each board module has:
#   NAME   the board's human name
#   PINS   the pin map (hardware/README.md's tables are checked against it by
#          tests/host/test_pinmaps.py):
#            "i2c"          I2C peripheral id
#            "sda", "scl"   I2C pins
#            "freq"         I2C clock, Hz (400 kHz; 100 kHz for a cable over
#                           ~0.5 m, see hardware/README.md)
#            "led"          plain LED pin (GPIO number or "LED"), or None
#            "neopixel"     NeoPixel data pin, or None (one of led/neopixel)
#            "buzzer"       buzzer pin; "buzzer_kind": "passive" (PWM tones)
#                           or "active" (on/off)
#            "button"       button pin, to GND; "button_pull": "up"
#   build()  imports machine (lazily: the module imports anywhere) and returns
#            (i2c, led, buzzer, button_pin): a machine.I2C, a cues.Led or
#            cues.NeoPixelLed, a cues.PassiveBuzzer or cues.ActiveBuzzer, and
#            the button's machine.Pin (input, pulled) for button.Button.
import sys

NAMES = ("pico", "pico_w", "pico2", "esp32_devkit", "esp32_s3", "sim")


def load(name=None):
    """The board module called name (one of NAMES); None: detect() it."""
    if name is None:
        name = detect()
    if name not in NAMES:
        raise ValueError("unknown board %r; boards: %s" % (name, ", ".join(NAMES)))
    full = "boards." + name
    __import__(full)
    return sys.modules[full]


def detect():
    """Guess the board from the firmware's machine string."""
    m = getattr(sys.implementation, "_machine", "") or ""
    if "Pico" in m:
        # "Raspberry Pi Pico W with RP2040", "Raspberry Pi Pico2 with RP2350",
        # "Raspberry Pi Pico 2 W with RP2350": the W boards' LED is on the CYW43.
        if m.find(" W") > 0:
            return "pico_w"
        return "pico2" if "RP2350" in m else "pico"
    if "ESP32S3" in m or "ESP32-S3" in m:
        return "esp32_s3"
    if "ESP32" in m:
        return "esp32_devkit"
    return "sim"


def make(machine, pins, neopixel=None, i2c=None):
    """Build (i2c, led, buzzer, button_pin) from a PINS dict with the given
    machine module (the real one, or sim.fakemachine); neopixel: the module
    providing NeoPixel, imported here when None and needed; i2c: a bus to use
    instead of building machine.I2C."""
    Pin = machine.Pin
    if i2c is None:
        i2c = machine.I2C(pins["i2c"], scl=Pin(pins["scl"]), sda=Pin(pins["sda"]), freq=pins["freq"])
    led = _led(machine, pins, neopixel)
    buzzer = _buzzer(machine, pins)
    pull = Pin.PULL_UP if pins["button_pull"] == "up" else Pin.PULL_DOWN
    button = Pin(pins["button"], Pin.IN, pull)
    return i2c, led, buzzer, button


def _led(machine, pins, neopixel):
    from cues import Led, NeoPixelLed

    Pin = machine.Pin
    if pins.get("neopixel") is not None:
        if neopixel is None:
            import neopixel
        return NeoPixelLed(neopixel.NeoPixel(Pin(pins["neopixel"], Pin.OUT), 1))
    return Led(Pin(pins["led"], Pin.OUT))


def _buzzer(machine, pins):
    from cues import ActiveBuzzer, PassiveBuzzer

    Pin = machine.Pin
    if pins["buzzer_kind"] != "passive":
        return ActiveBuzzer(Pin(pins["buzzer"], Pin.OUT, value=0))
    try:
        # silent from the start: ESP32 ports otherwise begin at 50 % duty
        pwm = machine.PWM(Pin(pins["buzzer"], Pin.OUT), freq=1000, duty_u16=0)
    except TypeError:  # older ports without keyword arguments
        pwm = machine.PWM(Pin(pins["buzzer"], Pin.OUT))
        pwm.duty_u16(0)
        pwm.freq(1000)
    return PassiveBuzzer(pwm)
