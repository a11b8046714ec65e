"""32-bit small ints, modelled in CPython (issue 11 item 5).

On RP2040 and ESP32 a small int has 31 bits, [-2**30, 2**30); an int result
outside is a heap-allocated long: MemoryError under heap_lock, garbage on
the per-sample path. SmallInt below is an int whose every arithmetic result
is checked to stay inside that range, so running a function with SmallInt
arguments proves each intermediate of its interpreted code. Viper code is
different: its locals are machine words (32 bits); only what crosses the
boundary (arguments in, the return value out) becomes an object, so a
viper function is checked at that boundary.

The 32-bit unix port (tests/host/test_unix32.py) runs the shared ticks and
CRC tests with the heap locked: the same property, on the real thing."""
import random

import pytest
from hypothesis import given, settings, strategies as st

from heelcore import crc, ticks

LO, HI = -(1 << 30), 1 << 30


class Escaped(AssertionError):
    pass


def _check(v):
    if not LO <= v < HI:
        raise Escaped("%d left the 31-bit small-int range" % v)
    return SmallInt(v)


class SmallInt(int):
    """An int that fails when an arithmetic result would be a long on a
    32-bit MicroPython port."""

    def __new__(cls, v):
        return int.__new__(cls, v)


def _op(name):
    base = getattr(int, name)

    def f(self, other):
        r = base(int(self), int(other)) if isinstance(other, int) else NotImplemented
        return r if r is NotImplemented else _check(r)

    f.__name__ = name
    return f


for _n in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__and__", "__rand__",
           "__or__", "__ror__", "__xor__", "__rxor__", "__lshift__", "__rlshift__", "__rshift__", "__rrshift__",
           "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__"):
    setattr(SmallInt, _n, _op(_n))
SmallInt.__neg__ = lambda self: _check(-int(self))


def test_smallint_catches_a_long():
    with pytest.raises(Escaped):
        SmallInt((1 << 30) - 1) + 1
    with pytest.raises(Escaped):
        0xFFFFFFFF ^ SmallInt(0)  # the old crc32_py's first step
    assert SmallInt(-(1 << 30)) + 0 == -(1 << 30)


TICK = st.integers(0, (1 << 30) - 1)
SMALL = st.integers(LO, HI - 1)
EDGES = [0, 1, 2, (1 << 29) - 1, 1 << 29, (1 << 29) + 1, (1 << 30) - 2, (1 << 30) - 1,
         -1, -2, -(1 << 29), -(1 << 29) - 1, -(1 << 30), -(1 << 30) + 1]


def _ref_add(a, b):
    return (a + b) % (1 << 30)


def _ref_diff(a, b):
    d = (a - b) % (1 << 30)
    return d - (1 << 30) if d >= 1 << 29 else d


def test_ticks_every_edge_pair():
    for a in EDGES:
        for b in EDGES:
            assert ticks.ticks_add(SmallInt(a), SmallInt(b)) == _ref_add(a, b)
            assert ticks.ticks_diff(SmallInt(a), SmallInt(b)) == _ref_diff(a, b)
            assert ticks.ticks_wrap(SmallInt(a)) == a % (1 << 30)


@settings(max_examples=1500, deadline=None)
@given(TICK, SMALL)
def test_ticks_add_stays_small(t, delta):
    assert ticks.ticks_add(SmallInt(t), SmallInt(delta)) == _ref_add(t, delta)


@settings(max_examples=1500, deadline=None)
@given(SMALL, SMALL)
def test_ticks_diff_stays_small(a, b):
    assert ticks.ticks_diff(SmallInt(a), SmallInt(b)) == _ref_diff(a, b)


def test_the_old_ticks_helpers_would_fail_here():
    # the expressions before the fix, checked by the same int: the test can fail
    M, H = (1 << 30) - 1, 1 << 29
    with pytest.raises(Escaped):
        (SmallInt(M) + SmallInt(M)) & M  # ticks_add near the wrap
    with pytest.raises(Escaped):
        ((SmallInt(M) - SmallInt(0) + H) & M) - H  # ticks_diff


def _boundary(fn, result_small=True):
    # a viper function: the ints crossing its boundary must be small; inside
    # it works on machine words (plain ints here)
    def wrapped(*args):
        args = [int(_check(a)) if isinstance(a, int) else a for a in args]
        r = fn(*args)
        if result_small and isinstance(r, int):
            _check(r)
        return r

    return wrapped


@pytest.mark.parametrize("n", [0, 1, 9, 60, 255])
def test_crc32_put_and_check_stay_small(monkeypatch, n):
    monkeypatch.setattr(crc, "_crc32_store", _boundary(crc._crc32_store))
    monkeypatch.setattr(crc, "_crc32_v", _boundary(crc._crc32_v, result_small=False))
    rng = random.Random(n)
    buf = bytearray(rng.randrange(256) for _ in range(n + 4))
    crc.crc32_put(buf, SmallInt(0), SmallInt(n), SmallInt(n))
    assert int.from_bytes(bytes(buf[n:n + 4]), "little") == crc.crc32_py(bytes(buf[:n]))
    assert crc.crc32_check(buf, SmallInt(0), SmallInt(n), SmallInt(n)) is True
    buf[0 if n else n] ^= 1
    assert crc.crc32_check(buf, SmallInt(0), SmallInt(n), SmallInt(n)) is False


def test_crc32_py_makes_one_long_at_most(monkeypatch):
    # the value itself needs 32 bits (a long for 3 CRCs in 4 on a 32-bit
    # port); its interpreted steps stay small: the running value goes in as
    # two 16-bit halves
    monkeypatch.setattr(crc, "_crc32_v", _boundary(crc._crc32_v, result_small=False))
    data = b"123456789"
    assert crc.crc32_py(data, SmallInt(0), SmallInt(9), SmallInt(0)) == 0xCBF43926
    half = crc.crc32_py(data, 0, 4)
    assert crc.crc32_py(data, 4, 9, half) == 0xCBF43926
