# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port).
from heaplock import heap_locked
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


EDGES = (0, 1, 2, (1 << 29) - 1, 1 << 29, (1 << 29) + 1, (1 << 30) - 2, (1 << 30) - 1)


def test_add_and_diff_at_the_edges_allocate_nothing():
    # 32-bit ports: every intermediate stays a small int (|x| < 2**30), so
    # nothing allocates, even at the wrap (checked on the 32-bit unix port;
    # test_smallint.py checks each operation in CPython)
    out = [0]

    def work():
        for a in EDGES:
            for b in EDGES:
                out[0] = ticks_add(a, b)
                out[0] = ticks_add(a, -b)
                out[0] = ticks_diff(a, b)

    heap_locked(work)
    for a in EDGES:
        for b in EDGES:
            assert ticks_add(a, b) == (a + b) % TICKS_PERIOD
            assert ticks_add(a, -b) == (a - b) % TICKS_PERIOD
            d = ticks_diff(a, b)
            assert -(TICKS_PERIOD >> 1) <= d < (TICKS_PERIOD >> 1)
            assert ticks_add(b, d) == a
