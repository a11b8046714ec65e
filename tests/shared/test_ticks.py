# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port).
from heelcore.ticks import TICKS_PERIOD, ticks_add, ticks_diff, ticks_wrap


def test_diff_plain():
    assert ticks_diff(1500, 1000) == 500
    assert ticks_diff(1000, 1500) == -500


def test_diff_across_wrap():
    before = TICKS_PERIOD - 5
    after = ticks_add(before, 12)
    assert after == 7
    assert ticks_diff(after, before) == 12
    assert ticks_diff(before, after) == -12


def test_wrap_range():
    assert ticks_wrap(TICKS_PERIOD + 3) == 3
    assert ticks_wrap(-1) == TICKS_PERIOD - 1
