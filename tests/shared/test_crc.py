# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port).
from heelcore.crc import crc16, crc32, crc32_py

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
