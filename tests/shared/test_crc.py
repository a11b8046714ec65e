# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port).
from heaplock import heap_locked
from heelcore.crc import crc16, crc32, crc32_check, crc32_put, crc32_py

CHECK = b"123456789"


def test_crc32_check_value():
    assert crc32(CHECK) == 0xCBF43926
    assert crc32_py(CHECK) == 0xCBF43926


def test_crc32_empty_and_known():
    assert crc32(b"") == 0
    assert crc32_py(b"") == 0
    # zlib.crc32(b"The quick brown fox jumps over the lazy dog")
    assert crc32_py(b"The quick brown fox jumps over the lazy dog") == 0x414FA339
    assert crc32_py(b"\x00") == 0xD202EF8D
    assert crc32_py(b"\xff" * 4) == 0xFFFFFFFF


def test_crc32_incremental_and_ranges():
    whole = crc32_py(CHECK)
    assert crc32_py(CHECK[4:], crc=crc32_py(CHECK[:4])) == whole
    assert crc32(CHECK[4:], crc=crc32(CHECK[:4])) == whole
    buf = bytearray(b"xx" + CHECK + b"yyy")
    assert crc32_py(buf, 2, 11) == whole
    assert crc32(buf, 2, 11) == whole
    assert crc32(memoryview(buf), 2, 11) == whole


def test_crc32_paths_agree():
    data = bytearray(range(256)) + bytearray(range(256)) + bytearray(range(256))
    for n in (0, 1, 7, 255, 768):
        assert crc32(data, 0, n) == crc32_py(data, 0, n)


def test_crc16_check_value():
    assert crc16(CHECK) == 0x29B1
    assert crc16(b"") == 0xFFFF
    assert crc16(b"A") == 0xB915


def test_crc16_incremental_and_ranges():
    whole = crc16(CHECK)
    assert crc16(CHECK[3:], crc=crc16(CHECK[:3])) == whole
    buf = bytearray(b"--" + CHECK)
    assert crc16(buf, 2) == whole
    assert crc16(memoryview(buf), 2, len(buf)) == whole


def test_crc_detects_single_bit_flips():
    data = bytearray(CHECK)
    c32 = crc32(data)
    c16 = crc16(data)
    for i in range(len(data)):
        for b in range(8):
            data[i] ^= 1 << b
            assert crc32(data) != c32
            assert crc16(data) != c16
            data[i] ^= 1 << b


def test_crc32_put_writes_the_crc_little_endian_and_check_reads_it():
    buf = bytearray(b"xx" + CHECK + b"\x00\x00\x00\x00yy")
    crc32_put(buf, 2, 11, 11)
    assert bytes(buf[11:15]) == bytes([0x26, 0x39, 0xF4, 0xCB])  # 0xCBF43926
    assert buf[:2] == b"xx" and buf[15:] == b"yy"
    assert crc32_check(buf, 2, 11, 11)
    for i in range(2, 15):
        buf[i] ^= 0x10
        assert not crc32_check(buf, 2, 11, 11)
        buf[i] ^= 0x10
    empty = bytearray(4)
    crc32_put(empty, 0, 0, 0)
    assert bytes(empty) == bytes(4) and crc32_check(empty, 0, 0, 0)


def test_crc32_put_and_check_allocate_nothing():
    # On a 32-bit port (31-bit small ints) a CRC-32 value of 2**30 or more
    # is a heap-allocated long: crc32() returns one for 3 CRCs in 4. A
    # record writer puts and checks CRCs in its buffer instead, with the
    # heap locked here (the 32-bit unix port runs this: test_unix32.py).
    buf = bytearray(64)
    for i in range(60):
        buf[i] = (i * 37 + 11) & 0xFF
    want = crc32(buf, 0, 60)
    put = lambda: crc32_put(buf, 0, 60, 60)  # noqa: E731
    chk = lambda: crc32_check(buf, 0, 60, 60)  # noqa: E731
    heap_locked(put)
    assert heap_locked(chk)
    assert buf[60] | (buf[61] << 8) | (buf[62] << 16) | (buf[63] << 24) == want
