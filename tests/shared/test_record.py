# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port). The session log codec: exact round trips, size,
# truncation at every byte, single-byte corruption, no allocation per sample.
import struct

import recsynth
from heaplock import heap_locked
from heelcore.crc import crc32
from heelcore.record import (
    GAP_FIFO_OVERFLOW, GAP_I2C_ERROR, MAGIC, SYNC, LogFormatError, LogReader, LogWriter, read_header,
)

HEADER = {
    "firmware": "0.1.0", "board": "sim", "imu": "mpu6050", "rate_hz": 100,
    "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "accel_range_g": 4,
    "gyro_range_dps": 500, "side": "left", "started": "2026-11-24T06:00:00Z",
    "calibration": {"gyro_bias": [-23, 11, 6], "axis": [0.0, 1.0, 0.0]},
    "config": {"hold_target_s": 30.0},
}


class Sink:
    """write_fn that keeps each write separately (one write = one record)."""

    def __init__(self):
        self.chunks = []

    def __call__(self, b):
        self.chunks.append(bytes(b))

    def data(self):
        return b"".join(self.chunks)


def write_log(samples, block=50, extra=True, close=True):
    sink = Sink()
    w = LogWriter(sink, HEADER, block_samples=block)
    for i, s in enumerate(samples):
        w.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        if extra and i == 5:
            w.add_event('{"type": "rep_start", "t_ms": 50, "rep": 1, "onset_ms": 20}')
        if extra and i == 8:
            w.add_side("right", 80)
            w.add_gap(1000, 7, GAP_FIFO_OVERFLOW)
            w.add_note(80, "flash_low free_kb=12")
    if close:
        w.close(9999)
    return sink, w


def test_round_trip_exact():
    S = recsynth.samples(400)
    sink, w = write_log(S)
    r = LogReader(sink.data())
    assert r.errors == [] and not r.truncated and r.skipped_bytes == 0
    assert r.complete
    assert r.samples() == S
    assert r.header["imu"] == "mpu6050" and r.header["gyro_lsb_per_dps"] == 65.5
    assert r.header["calibration"]["gyro_bias"] == [-23, 11, 6]
    assert r.events() == ['{"type": "rep_start", "t_ms": 50, "rep": 1, "onset_ms": 20}']
    assert r.sides() == [("right", 80)]
    assert r.gaps() == [(1000, 7, "fifo_overflow")]
    assert r.notes() == [(80, "flash_low free_kb=12")]
    kinds = [rec[0] for rec in r]
    assert kinds[0] == "header" and kinds[-1] == "end" and kinds.count("header") == 1
    assert r.records[-1][2] == (9999, 400)
    assert w.samples_written == 400 and w.bytes_written == len(sink.data())


def test_missing_header_keys_are_null():
    sink = Sink()
    w = LogWriter(sink, {"rate_hz": 50})
    w.close()
    h = LogReader(sink.data()).header
    assert h["rate_hz"] == 50 and h["imu"] is None and h["started"] is None
    assert h["calibration"] == {} and h["config"] == {}


def test_extreme_values_and_tiny_blocks():
    S = []
    vals = (-32768, 32767, 0, -1, 1, 32767, -32768, 12345)
    for i in range(40):
        v = vals[i % len(vals)]
        S.append((i, i * 10, v, -v - 1 if v > -32768 else 32767, v // 3, 0, 7, -v // 2))
    for block in (1, 2, 3, 7, 50, 200):
        sink, _ = write_log(S, block=block, extra=False)
        r = LogReader(sink.data())
        assert r.samples() == S, block
        assert r.errors == []


def test_constant_and_flat_axes():
    S = [(i, 1000 + 10 * i, 0, 0, 8192, 0, 0, 0) for i in range(100)]
    sink, _ = write_log(S, extra=False)
    r = LogReader(sink.data())
    assert r.samples() == S
    # flat signals cost next to nothing: fixed record and block fields only
    assert len(sink.data()) - len(sink.chunks[0]) - 2 * len(sink.chunks[1]) < 2 * (9 + 33) + 20


def test_spikes_in_quiet_blocks_use_escapes():
    # one large value among tiny ones: small Rice k, quotient far past the
    # escape threshold (this is what a knock on the sensor looks like)
    S = []
    for i in range(150):
        q = (i * 7) % 3 - 1
        spike = 30000 if i % 50 == 17 else (-25000 if i % 50 == 33 else 0)
        t = 1000 + i * 10 + (q if i % 50 != 40 else 700)  # and one late timestamp
        S.append((i, t, q + spike, -q, spike // 2, q * 2, 0, -spike))
    # moderate jumps too: every Rice quotient around the escape threshold
    for i in range(150, 600):
        q = (i * 7) % 3 - 1
        jump = ((i // 50) * 3 + 4) if i % 50 == 20 else 0
        S.append((i, 1000 + i * 10, q + jump, q - jump, jump * 2, -jump // 2, q, 0))
    for block in (50, 25):
        sink, _ = write_log(S, block=block, extra=False)
        r = LogReader(sink.data())
        assert r.errors == [] and r.samples() == S


def test_seq_jumps_split_blocks():
    S = recsynth.samples(120)
    S = S[:30] + S[37:90] + S[91:]  # lost samples: seq jumps
    sink, _ = write_log(S, block=25, extra=False)
    r = LogReader(sink.data())
    assert r.samples() == S


def test_timestamps_jitter_wrap_and_gaps():
    S = recsynth.samples(300, jitter_ms=2)
    assert S[1][1] != 10 or S[2][1] != 20 or S[3][1] != 30
    period = 1 << 30
    start = period - 1234
    out = []
    t = start
    for i, s in enumerate(S):
        if i == 150:
            t += 5000  # a long pause (e.g. after an I2C error)
        out.append((s[0] + 4000000000 - 100, (t + s[1]) % period) + tuple(s[2:]))
    sink, _ = write_log(out, extra=False)
    r = LogReader(sink.data())
    got = r.samples()
    assert [g[1] for g in got] == [o[1] for o in out]
    assert [g[0] for g in got] == [o[0] & 0xFFFFFFFF for o in out]
    assert [g[2:] for g in got] == [o[2:] for o in out]


def _samples_bytes_per_sample(n, **kw):
    buf = bytearray()
    w = LogWriter(buf.extend, HEADER, block_samples=50)
    head = w.bytes_written  # magic + the two header records
    for s in recsynth.iter_samples(n, **kw):
        w.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
    w.flush()
    got = LogReader(buf).samples()
    assert len(got) == n
    i = 0
    for s in recsynth.iter_samples(n, **kw):
        assert got[i] == s
        i += 1
    return (len(buf) - head) / n


def test_compression_under_6_bytes_per_sample():
    # 100 Hz MPU-6050 counts, smooth motion plus a few LSB of noise
    bps = _samples_bytes_per_sample(1500)
    assert bps < 5.0, bps
    # much noisier accelerometer (27 LSB rms, the datasheet's figure at 44 Hz)
    bps = _samples_bytes_per_sample(1500, accel_noise=27.0)
    assert bps < 6.0, bps


def _small_log():
    S = recsynth.samples(36)
    sink = Sink()
    w = LogWriter(sink, {"rate_hz": 100, "imu": "mpu6050"}, block_samples=12)
    for i, s in enumerate(S):
        w.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        if i == 14:
            w.add_event('{"type": "hold_tick", "t_ms": 140, "rep": 1, "hold_s": 1}')
        if i == 20:
            w.add_gap(21, 3, GAP_I2C_ERROR)
    w.close(360)
    return S, sink


def test_truncation_at_every_byte():
    S, sink = _small_log()
    data = sink.data()
    full = LogReader(data).records
    # end offset of every whole record
    ends = []
    pos = 0
    for c in sink.chunks:
        pos += len(c)
        ends.append(pos)
    for cut in range(len(data) + 1):
        r = LogReader(data[:cut])
        assert r.skipped_bytes == 0, cut
        whole = 0
        for e in ends[1:]:
            if e <= cut:
                whole += 1
        # records the reader must give: all whole ones (the duplicate header
        # is not listed again)
        expect = [rec for rec in full if rec[1] + 9 + _plen(data, rec[1]) <= cut]
        assert r.records == expect, cut
        assert r.truncated == (cut not in ends), cut
        got = r.samples()
        assert got == S[:len(got)], cut


def _plen(data, off):
    return struct.unpack_from("<H", data, off + 3)[0]


def test_single_corrupt_byte_loses_one_record():
    S, sink = _small_log()
    data = sink.data()
    full = LogReader(data).records
    offs = []
    pos = 0
    for c in sink.chunks:
        offs.append((pos, pos + len(c)))
        pos += len(c)
    step = 1 if len(data) < 1200 else 3
    for i in range(5, len(data), step):
        bad = bytearray(data)
        bad[i] ^= 0x5A if i % 2 else 0x01
        r = LogReader(bytes(bad))
        a, b = [o for o in offs if o[0] <= i < o[1]][0]
        expect = [rec for rec in full if rec[1] != a]
        if a == offs[1][0]:  # first header copy hit: the second copy stands in
            assert r.header == full[0][2]
            assert [rec for rec in r.records if rec[0] != "header"] == [rec for rec in full if rec[0] != "header"]
        else:
            assert r.records == expect, i
        assert len(r.errors) == 1 and ("offset %d" % a) in r.errors[0], r.errors
        if b == len(data) and r.truncated:
            # a bad length byte in the last record reads as a cut-off file
            assert r.truncated_bytes == b - a and r.skipped_bytes == 0
        else:
            assert r.skipped_bytes == b - a, (i, r.errors)
            assert not r.truncated


def test_garbage_between_records_is_skipped():
    S, sink = _small_log()
    junk = b"\xe7\x5a\x02\xff\x00garbage\xe7"
    data = b"".join(sink.chunks[:4]) + junk + b"".join(sink.chunks[4:])
    r = LogReader(data)
    assert r.samples() == S
    assert r.skipped_bytes == len(junk) and len(r.errors) == 1


def test_not_a_log():
    for bad in (b"hello world", b"\x00" * 40, b"HDLX\x01", b"PK\x03\x04"):
        try:
            LogReader(bad)
            assert False, bad
        except LogFormatError:
            pass
    try:
        LogReader(MAGIC + b"\x07")
        assert False
    except LogFormatError as e:
        assert "7" in str(e)


def test_empty_and_header_prefixes_are_truncated():
    for d in (b"", b"H", b"HDL", MAGIC, MAGIC + b"\x01"):
        r = LogReader(d)
        assert r.truncated == (len(d) < 5) or r.header is None
        assert r.samples() == []


def test_unknown_record_type_is_listed_not_an_error():
    _, sink = _small_log()
    payload = b"future"
    rec = bytearray(SYNC + struct.pack("<BH", 99, len(payload)) + payload + b"\0\0\0\0")
    struct.pack_into("<I", rec, len(rec) - 4, crc32(rec, 2, len(rec) - 4))
    data = b"".join(sink.chunks[:4]) + bytes(rec) + b"".join(sink.chunks[4:])
    r = LogReader(data)
    assert r.errors == []
    assert ("unknown", len(b"".join(sink.chunks[:4])), (99, payload)) in r.records


def test_checked_but_malformed_records_are_skipped():
    # a good CRC around a payload of the wrong size (a writer bug, not line
    # noise): reported and skipped, never an exception
    from heelcore.record import REC_GAP, REC_SIDE, REC_SAMPLES, _record_bytes

    sink = Sink()
    w = LogWriter(sink, HEADER)
    sink(_record_bytes(REC_SIDE, b"\x00"))
    sink(_record_bytes(REC_GAP, b"\x00\x00\x00"))
    sink(_record_bytes(REC_SAMPLES, b"\x01" * 40))
    w.add_side("left", 5)
    r = LogReader(sink.data())
    assert r.sides() == [("left", 5)]
    assert len(r.errors) == 1 and "undecodable" in r.errors[0]


def test_read_header():
    _, sink = _small_log()
    data = sink.data()
    assert read_header(data)["imu"] == "mpu6050"
    assert read_header(data[:300])["rate_hz"] == 100
    assert read_header(data[:20]) is None


def test_add_sample_allocates_nothing():
    # heap_locked: any allocation raises MemoryError (MicroPython only); the
    # flush (every block_samples-th call) allocates one memoryview slice.
    import gc

    if not hasattr(gc, "mem_alloc"):  # CPython
        gc = None
    S = recsynth.samples(200)
    n = [0]

    def sink(b):
        n[0] += len(b)

    w = LogWriter(sink, HEADER, block_samples=50)
    for blk in range(4):
        base = blk * 50

        def queue():
            for i in range(base, base + 49):
                s = S[i]
                w.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])

        heap_locked(queue)
        s = S[base + 49]
        if gc:
            gc.collect()
            gc.disable()
            m0 = gc.mem_alloc()
        w.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])  # flushes
        if gc:
            used = gc.mem_alloc() - m0
            gc.enable()
            assert used <= 64, used  # the memoryview slice handed to write_fn
    assert w.samples_written == 200


def test_huge_time_steps_round_trip():
    # Ticks far apart inside one block (consecutive seq, a clock that
    # jumped): deltas up to 2**29 ms must still encode (fixed width, the i32
    # t_base field in range) and read back exactly, on 32-bit boards too.
    S = recsynth.samples(120)
    out = []
    t = 5
    for i, s in enumerate(S):
        t = (t + (i * 7919 % 5) * (1 << 27) + 3) & 0x3FFFFFFF
        out.append((s[0], t) + tuple(s[2:]))
    for block in (2, 7, 50, 200):
        sink, _ = write_log(out, block=block, extra=False)
        r = LogReader(sink.data())
        assert r.errors == [] and r.samples() == out


def _array_samples(S):
    from array import array

    ts = array("i", [s[1] for s in S])
    src = array("h", [v for s in S for v in s[2:]])
    return ts, src


def test_add_samples_writes_what_add_sample_writes():
    # add_samples (the app's path, whole FIFO reads at once) gives the same
    # bytes as one add_sample per sample, across block ends; a call's
    # samples are consecutive, a jump between calls starts a new block
    S = recsynth.samples(333, jitter_ms=1)
    S = S[:98] + [(s[0] + 17,) + tuple(s[1:]) for s in S[98:]]  # a gap at 98
    one, _ = write_log(S, block=50, extra=False)
    for chunk in (1, 3, 7, 49, 64, 333):
        sink = Sink()
        w = LogWriter(sink, HEADER, block_samples=50)
        for seg in (S[:98], S[98:]):
            i = 0
            while i < len(seg):
                part = seg[i:i + chunk]
                ts, src = _array_samples(part)
                w.add_samples(part[0][0], ts, src, len(part))
                i += chunk
        w.close(9999)
        assert sink.data() == one.data(), chunk


def test_add_samples_allocates_nothing_between_blocks():
    S = recsynth.samples(40)
    ts, src = _array_samples(S)
    w = LogWriter(lambda b: None, HEADER, block_samples=50)
    t0 = S[0][0]
    heap_locked(lambda: w.add_samples(t0, ts, src, 40))
    assert w._n == 40


def test_one_flipped_bit_in_the_file_header_costs_nothing():
    # issue 13.7: any single bit of the 5-byte file header (magic, version)
    # flipped: every record still reads, the damage is reported, and a
    # flipped version byte never claims a newer format
    S = recsynth.samples(300)
    sink, _ = write_log(S)
    data = sink.data()
    for bit in range(40):
        d = bytearray(data)
        d[bit >> 3] ^= 1 << (bit & 7)
        r = LogReader(bytes(d))
        assert r.samples() == S, bit
        assert r.complete and r.header["imu"] == "mpu6050"
        assert r.errors and "file header damaged" in r.errors[0], (bit, r.errors)
        assert read_header(bytes(d))["rate_hz"] == 100


def test_a_newer_format_is_named_by_its_header_record():
    # a file whose HEADER record says a newer format: "update heeldrop"
    from heelcore.record import REC_HEADER, _record_bytes

    hb = _record_bytes(REC_HEADER, b'{"format": 9, "imu": "x"}')
    for first in (MAGIC + b"\x09", MAGIC + b"\x01"[:0] + b"\x0b"):
        try:
            LogReader(first + bytes(hb) + bytes(hb))
            assert False
        except LogFormatError as e:
            assert "format 9" in str(e) and "update" in str(e)
