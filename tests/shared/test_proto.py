# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port). The serial protocol's framing and payloads.
import recsynth
from heaplock import heap_locked
from heelcore import proto
from heelcore.proto import (
    COMMANDS, E_NOT_FOUND, OK, RESERVED, SOF, T_CHUNK, T_CMD, T_ERROR, T_EVENT, T_HELLO, T_REPLY, T_SAMPLES,
    T_SAMPLES_PACKED, T_STATUS, FrameDecoder, SampleBatch, encode_frame, max_frame_size,
)

ALL_BYTES = bytes(range(256))
BOOT_NOISE = (
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13\r\n"
    b"MPY: soft reboot\r\nMicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32\r\n"
    b'Type "help()" for more information.\r\n>>> \x1b[K'
)


def test_no_reserved_byte_inside_a_frame():
    for ftype in (T_HELLO, T_EVENT, T_CMD, T_CHUNK):
        for seq in (0, 1, 0x0301, 0xC0DB, 0xFFFF):
            f = encode_frame(ftype, seq, ALL_BYTES + bytes(reversed(ALL_BYTES)))
            assert f[0] == SOF
            i = 1
            while i < len(f):
                b = f[i]
                if b == proto.ESC:  # the escape: always followed by a stuffed byte
                    assert f[i + 1] ^ 0x20 in RESERVED
                    i += 2
                    continue
                assert b not in RESERVED, (ftype, seq, b)
                i += 1
            for ctrl in (1, 2, 3, 4, 5, 10, 13):  # Ctrl-C on the wire always means Ctrl-C
                assert ctrl not in f


def test_round_trip_all_types_and_sizes():
    dec = FrameDecoder()
    stream = b""
    want = []
    seq = 65530
    for ftype in (T_HELLO, T_SAMPLES, T_SAMPLES_PACKED, T_EVENT, T_STATUS, T_CMD, T_REPLY, T_CHUNK, T_ERROR):
        for payload in (b"", b"\x03", ALL_BYTES, bytes(proto.MAX_PAYLOAD)):
            stream += encode_frame(ftype, seq, payload)
            want.append((ftype, seq & 0xFFFF, payload))
            seq += 1
    got = dec.feed(stream)
    assert [(f.type, f.seq, f.payload) for f in got] == want
    assert dec.bad_frames == 0 and dec.garbage_bytes == 0 and dec.resyncs == 0 and dec.missed == 0
    assert got[0].version == proto.PROTOCOL_VERSION


def test_encode_into_buffer():
    out = bytearray(max_frame_size(300))
    payload = bytearray(ALL_BYTES) + b"\xc0\xdb\x03" * 10
    n = encode_frame(T_EVENT, 7, payload, out)
    assert bytes(out[:n]) == encode_frame(T_EVENT, 7, payload)
    assert n <= max_frame_size(len(payload))


def test_encode_into_buffer_allocates_nothing():
    out = bytearray(max_frame_size(120))
    payload = bytearray(ALL_BYTES[:120])
    mv = memoryview(payload)
    encode_frame(T_SAMPLES, 1, mv, out)

    def encode():
        for seq in range(5):
            n = encode_frame(T_SAMPLES, seq, mv, out)
        return n

    n = heap_locked(encode)
    assert n > 120


def test_byte_at_a_time_equals_whole():
    stream = BOOT_NOISE
    for k in range(5):
        stream += encode_frame(T_STATUS, k, b'{"phase": "hold", "rep": %d}' % k) + b"\r\n"
    whole = FrameDecoder()
    a = whole.feed(stream)
    single = FrameDecoder()
    b = []
    for i in range(len(stream)):
        b.extend(single.feed(stream[i:i + 1]))
    assert a == b and len(a) == 5
    assert whole.garbage_bytes == single.garbage_bytes == len(BOOT_NOISE) + 2 * 5
    assert whole.bad_frames == single.bad_frames == 0


def test_repl_noise_between_frames():
    dec = FrameDecoder()
    frames = [encode_frame(T_EVENT, i, b'{"type": "hold_tick"}') for i in range(3)]
    stream = BOOT_NOISE + frames[0] + b"Traceback (most recent call last):\r\n" + frames[1] + BOOT_NOISE + frames[2]
    got = dec.feed(stream)
    assert [f.seq for f in got] == [0, 1, 2]
    assert dec.garbage_bytes == len(stream) - sum(len(f) for f in frames)
    assert dec.resyncs == 3 and dec.bad_frames == 0


def test_corrupt_byte_loses_one_frame():
    frames = [encode_frame(T_HELLO, i, b"payload number %d with \x03 and \xc0" % i) for i in range(3)]
    for pos in range(1, len(frames[1])):
        for flip in (0x01, 0x40, 0xFF):
            bad = bytearray(frames[1])
            bad[pos] ^= flip
            dec = FrameDecoder()
            got = dec.feed(frames[0] + bytes(bad) + frames[2])
            seqs = [f.seq for f in got]
            assert seqs == [0, 2], (pos, flip, seqs)
            assert dec.bad_frames >= 1 or dec.garbage_bytes >= 1
            assert dec.resyncs == 1
            assert dec.missed == 1


def test_cut_off_frame_then_next():
    a = encode_frame(T_STATUS, 1, b"x" * 40)
    b = encode_frame(T_STATUS, 2, b"y" * 40)
    dec = FrameDecoder()
    got = dec.feed(a[:20] + b)
    assert [f.seq for f in got] == [2]
    assert dec.bad_frames == 1 and dec.resyncs == 1


def test_too_long_is_bad():
    dec = FrameDecoder(max_payload=16)
    got = dec.feed(encode_frame(T_EVENT, 1, b"z" * 17) + encode_frame(T_EVENT, 2, b"ok"))
    assert [f.payload for f in got] == [b"ok"]
    assert dec.bad_frames == 1


def test_missed_counts_seq_gaps_across_wrap():
    dec = FrameDecoder()
    stream = b"".join(encode_frame(T_STATUS, s, b"") for s in (65534, 65535, 2, 3))
    assert len(dec.feed(stream)) == 4
    assert dec.missed == 2


def test_cmd_reply_payloads():
    p = proto.cmd_payload(513, "read_session", {"id": 7, "offset": 1024, "length": 1024})
    assert proto.parse_cmd(p) == (513, "read_session", {"id": 7, "offset": 1024, "length": 1024})
    assert proto.parse_cmd(proto.cmd_payload(1, "hello")) == (1, "hello", {})
    r = proto.reply_payload(513, OK, {"sessions": [{"id": 7, "size": 10}]})
    assert proto.parse_reply(r) == (513, OK, {"sessions": [{"id": 7, "size": 10}]})
    e = proto.error_reply(9, E_NOT_FOUND, "no session 7")
    assert proto.parse_reply(e) == (9, E_NOT_FOUND, {"error": "not_found", "message": "no session 7"})
    for bad in (b"", b"\x01\x00\x09abc"):
        try:
            proto.parse_cmd(bad)
            assert False
        except ValueError:
            pass
    for name in ("hello", "start", "stop", "side", "calibrate", "config_get", "config_set", "set_clock",
                 "list_sessions", "read_session", "delete_session", "free_space"):
        assert name in COMMANDS


def test_chunk_payload_and_crc():
    data = ALL_BYTES * 4
    p = proto.chunk_payload(3, 7, 2048, data, total=5000)
    c = proto.parse_chunk(p)
    assert c["ok"] and c["data"] == data and c["offset"] == 2048 and c["session"] == 7 and c["total"] == 5000
    bad = bytearray(p)
    bad[-1] ^= 1
    assert not proto.parse_chunk(bytes(bad))["ok"]
    assert not proto.parse_chunk(p[:-3])["ok"]  # short data


def test_error_payload():
    assert proto.parse_error(proto.error_payload(proto.E_NO_SENSOR, "imu not found")) == (
        proto.E_NO_SENSOR, "imu not found")


def test_sample_batch_round_trip():
    S = recsynth.samples(25, jitter_ms=2)
    b = SampleBatch(10)
    got = []
    for s in S:
        if not b.add(*s):
            got.extend(proto.parse_samples(bytes(b.payload())))
            b.clear()
            assert b.add(*s)
    got.extend(proto.parse_samples(bytes(b.payload())))
    assert got == S


def test_sample_batch_refuses_jumps():
    b = SampleBatch(4)
    assert b.add(10, 100, 1, 2, 3, 4, 5, 6)
    assert not b.add(12, 110, 1, 2, 3, 4, 5, 6)  # seq jump
    assert not b.add(11, 400, 1, 2, 3, 4, 5, 6)  # dt > 255 ms
    assert b.add(11, 110, -1, -2, -3, -4, -5, -32768)
    assert proto.parse_samples(bytes(b.payload())) == [
        (10, 100, 1, 2, 3, 4, 5, 6), (11, 110, -1, -2, -3, -4, -5, -32768)]


def test_samples_packed_uses_the_log_block():
    from heelcore.record import LogWriter

    S = recsynth.samples(40)
    recs = []
    w = LogWriter(lambda b: recs.append(bytes(b)), {"rate_hz": 100}, block_samples=40)
    for s in S:
        w.add_sample(*s)
    block = recs[-1][5:-4]  # the SAMPLES record's payload
    f = FrameDecoder().feed(encode_frame(T_SAMPLES_PACKED, 1, block))[0]
    assert proto.parse_samples_packed(f.payload) == S


def _batches(b, add_all):
    # payloads of the batches made by add_all(b, send)
    out = []

    def send():
        out.append(bytes(b.payload()))
        b.clear()

    add_all(b, send)
    if b.n:
        send()
    return out


def test_sample_batch_add_many_matches_add():
    # the app's path (a whole FIFO read at once) makes the same payloads as
    # add() per sample: full batches, a dt over 255 ms, extreme counts
    from array import array

    S = recsynth.samples(57, jitter_ms=2)
    S = [(s[0], s[1] + (300 if i >= 23 else 0)) + tuple(s[2:]) for i, s in enumerate(S)]
    S[5] = S[5][:2] + (-32768, 32767, -1, 0, 1, -2)

    def one_by_one(b, send):
        for s in S:
            if not b.add(*s):
                send()
                assert b.add(*s)

    ts = array("i", [s[1] for s in S])
    src = array("h", [v for s in S for v in s[2:]])

    def many(b, send):
        i = 0
        while i < len(S):
            i += b.add_many(S[0][0] + i, ts, src, i, len(S))
            if i < len(S) or b.n >= b.max_n:
                send()

    want = _batches(SampleBatch(10), one_by_one)
    assert _batches(SampleBatch(10), many) == want
    got = []
    for p in want:
        got.extend(proto.parse_samples(p))
    assert got == S


def test_sample_batch_add_many_refuses_a_seq_that_does_not_follow():
    from array import array

    b = SampleBatch(4)
    assert b.add(10, 100, 1, 2, 3, 4, 5, 6)
    ts = array("i", [110, 120])
    src = array("h", range(12))
    assert b.add_many(12, ts, src, 0, 2) == 0 and b.n == 1
    assert b.add_many(11, ts, src, 0, 2) == 2 and b.n == 3
