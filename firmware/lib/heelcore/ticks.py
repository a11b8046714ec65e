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

# 32-bit ports (RP2040, ESP32) have 31-bit small ints: [-2**30, 2**30).
# A value outside is a heap-allocated long (a MemoryError under heap_lock,
# garbage for the collector on the per-sample path), so every intermediate
# below stays inside for any small-int arguments: both operands are masked
# into [0, 2**30) first, their difference is within +-(2**30 - 1), and the
# signed read subtracts the half period twice (2**30 itself is not a small
# int). tests/host/test_smallint.py checks every operation over random and
# edge inputs with an int that refuses to leave the range.


def ticks_diff(end, start):
    """Signed difference end - start in ms, correct across the wrap:
    in [-2**29, 2**29)."""
    d = ((end & _TICKS_MAX) - (start & _TICKS_MAX)) & _TICKS_MAX
    if d >= _TICKS_HALF:
        d = d - _TICKS_HALF - _TICKS_HALF
    return d


def ticks_add(t, delta):
    """t + delta (ms), wrapped into [0, TICKS_PERIOD)."""
    x = (t & _TICKS_MAX) - _TICKS_MAX + (delta & _TICKS_MAX)  # in [-(2**30 - 1), 2**30 - 1]
    return x - 1 if x > 0 else x + _TICKS_MAX


def ticks_wrap(t):
    """Bring any integer ms value into the tick range [0, TICKS_PERIOD)."""
    return t & _TICKS_MAX
