# CRC-32 and CRC-16/CCITT, the same numbers on MicroPython and CPython.
#
# crc32: the zlib/PNG CRC (reflected poly 0xEDB88320, init and xorout
#   0xFFFFFFFF); check value crc32(b"123456789") == 0xCBF43926.
# crc16: CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740: poly 0x1021, init 0xFFFF,
#   not reflected, no xorout); check value crc16(b"123456789") == 0x29B1.
#
# Both take bytes, bytearray or memoryview plus optional start/end indices and
# a running value, so a caller can checksum part of a preallocated buffer
# without slicing it (a slice allocates):
#     c = crc32(buf, 0, n)                # whole message at once
#     c = crc32(b"6789", crc=crc32(b"12345"))   # or in pieces
#
# Memory: the tables are built once at import (2 x 512 bytes + 512 bytes).
# The CRC-32 table is kept as two array('H') halves rather than one
# array('I'): 32-bit MicroPython ports (ESP32, RP2040) have 31-bit small ints,
# so every table entry or running value above 2**30 would be a heap-allocated
# long. Split in 16-bit halves the loop allocates nothing on any port; only the
# returned value may be a long. On CPython, crc32 uses binascii.crc32 (C speed
# for host tools decoding big logs); crc32_py is the table version, and the
# tests check that the two agree.
import array

try:
    import micropython
    from micropython import const

    _MPY = True
except ImportError:  # CPython: the same code, interpreted
    _MPY = False
    from heelcore.mpcompat import const, micropython, ptr8, ptr16, uint


_POLY32 = const(0xEDB88320)
_POLY16 = const(0x1021)


def _build32():
    lo = array.array("H", bytes(512))
    hi = array.array("H", bytes(512))
    for i in range(256):
        c = i
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ _POLY32
            else:
                c >>= 1
        lo[i] = c & 0xFFFF
        hi[i] = c >> 16
    return lo, hi


def _build16():
    t = array.array("H", bytes(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            if c & 0x8000:
                c = ((c << 1) ^ _POLY16) & 0xFFFF
            else:
                c = (c << 1) & 0xFFFF
        t[i] = c
    return t


_T32LO, _T32HI = _build32()
_T16 = _build16()


def crc32_py(data, start=0, end=None, crc=0):
    """CRC-32 (zlib) of data[start:end], continuing from crc. Table-driven.
    The result needs 32 bits: on a 32-bit port a value of 2**30 or more is
    a long (16 bytes of heap); nothing else here allocates. Code that must
    not allocate writes or checks the CRC in place: crc32_put, crc32_check."""
    if end is None:
        end = len(data)
    lo = (crc & 0xFFFF) ^ 0xFFFF
    hi = ((crc >> 16) & 0xFFFF) ^ 0xFFFF
    return _crc32_v(data, start, end, lo, hi, _T32LO, _T32HI)


def crc32_put(buf, start, end, at):
    """Write the CRC-32 of buf[start:end] into buf[at:at + 4], little-endian
    (a record's trailer). Allocates nothing on any port."""
    _crc32_store(buf, start, end, at, _T32LO, _T32HI)


def crc32_check(buf, start, end, at):
    """True if buf[at:at + 4] holds the CRC-32 of buf[start:end]
    (little-endian). Allocates nothing on any port."""
    return _crc32_store(buf, start, end, -1 - at, _T32LO, _T32HI) == 1


@micropython.viper
def _crc32_v(data, start: int, end: int, lo: int, hi: int, tl, th) -> uint:
    # the table loop as machine code (viper; plain Python on CPython): the
    # running register (inverted) as two 16-bit halves, so no value needs
    # more than 16 bits on any port; returns the register
    b = ptr8(data)
    tlo = ptr16(tl)
    thi = ptr16(th)
    for i in range(start, end):
        j = (lo ^ int(b[i])) & 0xFF
        lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ int(tlo[j])
        hi = (hi >> 8) ^ int(thi[j])
    return uint(((hi ^ 0xFFFF) << 16) | (lo ^ 0xFFFF))


@micropython.viper
def _crc32_store(data, start: int, end: int, at: int, tl, th) -> int:
    # the CRC-32 of data[start:end] (the loop of _crc32_v) written at
    # data[at:at + 4] little-endian; at < 0: compared with data[-1 - at:]
    # instead, returns 1 if equal. Only small values cross the boundary.
    b = ptr8(data)
    tlo = ptr16(tl)
    thi = ptr16(th)
    lo = 0xFFFF
    hi = 0xFFFF
    for i in range(start, end):
        j = (lo ^ int(b[i])) & 0xFF
        lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ int(tlo[j])
        hi = (hi >> 8) ^ int(thi[j])
    lo ^= 0xFFFF
    hi ^= 0xFFFF
    if at >= 0:
        b[at] = lo & 0xFF
        b[at + 1] = lo >> 8
        b[at + 2] = hi & 0xFF
        b[at + 3] = hi >> 8
        return 1
    a = -1 - at
    if int(b[a]) == (lo & 0xFF) and int(b[a + 1]) == (lo >> 8) and int(b[a + 2]) == (hi & 0xFF) \
            and int(b[a + 3]) == (hi >> 8):
        return 1
    return 0


try:
    import binascii

    _bcrc32 = getattr(binascii, "crc32", None)
except ImportError:
    _bcrc32 = None


def _crc32_host(data, start=0, end=None, crc=0):
    """CRC-32 (zlib) of data[start:end], continuing from crc (binascii)."""
    f = _bcrc32
    if f is None:
        return crc32_py(data, start, end, crc)
    if start or (end is not None and end != len(data)):
        data = memoryview(data)[start:end]
    return f(data, crc) & 0xFFFFFFFF


# crc32(data, start=0, end=None, crc=0): the table on MicroPython (no long
# ints in the loop), binascii's C code on CPython
crc32 = crc32_py if (_MPY or _bcrc32 is None) else _crc32_host


def crc16(data, start=0, end=None, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of data[start:end], continuing from crc (init 0xFFFF)."""
    if end is None:
        end = len(data)
    t = _T16
    for i in range(start, end):
        crc = ((crc << 8) & 0xFF00) ^ t[((crc >> 8) ^ data[i]) & 0xFF]
    return crc
