# Wrap-safe tick arithmetic: the one place where sample times are compared.
#
# MicroPython's time.ticks_ms() wraps at TICKS_PERIOD (2**30 on every port),
# so two tick values may only be compared through their difference, taken
# modulo the period and read as a signed number. Every module of heelcore
# and of the firmware does tick arithmetic through these helpers.
# Traces on the host carry plain non-decreasing t_ms; the same helpers work
# on them as long as consecutive samples are closer than TICKS_PERIOD / 2
# (about 6.2 days).

TICKS_PERIOD = 1 << 30
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD >> 1


def ticks_diff(end, start):
    """Signed difference end - start in ms, correct across the wrap."""
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def ticks_add(t, delta):
    """t + delta (ms), wrapped into [0, TICKS_PERIOD)."""
    return (t + delta) & _TICKS_MAX


def ticks_wrap(t):
    """Bring any integer ms value into the tick range [0, TICKS_PERIOD)."""
    return t & _TICKS_MAX
