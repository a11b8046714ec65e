"""CPython-only checks of the session log codec: Hypothesis round trips,
truncation and corruption, and the size on the trace corpus."""
import glob
import os
import random
import struct
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heelcore.crc import crc16, crc32, crc32_py
from heelcore.record import GAP_REASONS, LogReader, LogWriter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICKS = 1 << 30
HEADER = {"rate_hz": 100, "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "imu": "mpu6050"}

i16 = st.integers(-32768, 32767)


@st.composite
def sample_streams(draw):
    """Runs of consecutive seqs with arbitrary counts and tick timestamps.

    Hypothesis draws the shape (length, start, style, seed); the values come
    from a seeded PRNG, which is much faster than drawing each of them."""
    n = draw(st.integers(1, 300))
    seq = draw(st.integers(0, 0xFFFFFFFF))
    t = draw(st.integers(0, TICKS - 1))
    style = draw(st.sampled_from(("smooth", "noise", "extreme", "flat")))
    step = draw(st.sampled_from((10, 1, 0, 37, 100000)))
    rng = random.Random(draw(st.integers(0, 2**32)))
    out = []
    vals = [rng.randint(-32768, 32767) for _ in range(6)]
    for _ in range(n):
        if rng.randrange(40) == 0:
            seq += rng.randint(2, 1000)  # lost samples
        if style == "smooth":
            vals = [max(-32768, min(32767, v + rng.randint(-40, 40))) for v in vals]
        elif style == "noise":
            vals = [rng.randint(-32768, 32767) for _ in range(6)]
        elif style == "extreme":
            vals = [rng.choice((-32768, 32767, 0, -1)) for _ in range(6)]
        out.append((seq & 0xFFFFFFFF, t) + tuple(vals))
        seq += 1
        jit = rng.randint(-3, 3) if step >= 10 else 0
        t = (t + max(0, step + jit) + (rng.randint(0, 5000) if rng.randrange(50) == 0 else 0)) % TICKS
    return out


def _write(samples, block, events=()):
    chunks = []
    w = LogWriter(lambda b: chunks.append(bytes(b)), HEADER, block_samples=block)
    for i, s in enumerate(samples):
        w.add_sample(*s)
        for ev in events:
            if ev[0] == i:
                w.add_event(ev[1])
    w.close(123)
    return chunks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample_streams(), st.integers(1, 200))
def test_any_sample_stream_round_trips_exactly(samples, block):
    data = b"".join(_write(samples, block))
    r = LogReader(data)
    assert r.errors == [] and r.complete and not r.truncated
    assert r.samples() == samples


@settings(max_examples=100, deadline=None)
@given(sample_streams(), st.data())
def test_any_truncation_reads_a_prefix(samples, data):
    chunks = _write(samples, 37, events=[(3, '{"type": "rep_start", "t_ms": 1, "rep": 1}')])
    whole = b"".join(chunks)
    cut = data.draw(st.integers(0, len(whole)))
    r = LogReader(whole[:cut])
    assert r.skipped_bytes == 0
    got = r.samples()
    assert got == samples[:len(got)]
    ends = set()
    pos = 0
    for c in chunks:
        pos += len(c)
        ends.add(pos)
    assert r.truncated == (cut not in ends)
    # all whole sample records are there
    whole_samples = 0
    pos = 0
    for c in chunks:
        pos += len(c)
        if pos <= cut and c[2] == 2:
            whole_samples += LogReader(b"HDLG\x01" + c).samples().__len__()
    assert len(got) == whole_samples


@settings(max_examples=150, deadline=None)
@given(sample_streams(), st.data())
def test_corruption_costs_only_the_damaged_records(samples, data):
    chunks = _write(samples, 25)
    whole = bytearray(b"".join(chunks))
    nbad = data.draw(st.integers(1, 4))
    hit = set()
    for _ in range(nbad):
        i = data.draw(st.integers(5, len(whole) - 1))
        whole[i] ^= data.draw(st.integers(1, 255))
    orig = b"".join(chunks)
    hit = {i for i in range(len(orig)) if orig[i] != whole[i]}  # (two flips may cancel)
    r = LogReader(bytes(whole))
    # every record that was not touched decodes (same seqs in the same order)
    pos = 0
    want = []
    for c in chunks:
        a, b = pos, pos + len(c)
        pos = b
        if c[:4] == b"HDLG" or c[2] != 2:
            continue
        if not any(a <= i < b for i in hit):
            want.extend(LogReader(b"HDLG\x01" + c).samples())
    got = r.samples()
    gi = iter(got)
    for s in want:  # want is a subsequence of got
        for g in gi:
            if g == s:
                break
        else:
            raise AssertionError("lost an intact record")
    assert r.errors or not hit  # the damage is reported
    for g in got:  # nothing invented
        assert g in samples


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_garbage_never_crashes_the_reader(blob):
    for data in (blob, b"HDLG\x01" + blob):
        try:
            r = LogReader(data)
        except ValueError:
            continue  # LogFormatError: not a log
        r.samples()
        r.events()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 0xFFFFFFFF))
def test_crc_paths_agree_with_zlib(data, start):
    assert crc32(data) == crc32_py(data) == zlib.crc32(data)
    assert crc32_py(data, crc=start) == zlib.crc32(data, start)
    assert crc16(data) == _crc16_bitwise(data)


def _crc16_bitwise(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 3)), max_size=5),
       st.lists(st.text(max_size=80), max_size=5))
@settings(max_examples=100, deadline=None)
def test_gaps_notes_events_round_trip(gaps, texts):
    chunks = []
    w = LogWriter(lambda b: chunks.append(bytes(b)), HEADER)
    for g in gaps:
        w.add_gap(*g)
    for i, t in enumerate(texts):
        w.add_note(i, t)
        w.add_event(t)
    r = LogReader(b"".join(chunks))
    assert r.gaps() == [(a, c, GAP_REASONS[k]) for a, c, k in gaps]
    assert r.notes() == [(i, t) for i, t in enumerate(texts)]
    assert r.events() == list(texts)


def _clip(v):
    return max(-32768, min(32767, int(round(v))))


def corpus_sizes(block=50):
    """[(file, rate_hz, samples, bytes of SAMPLES records)] for tests/traces/*.csv,
    g -> counts at 8192 LSB/g and deg/s -> counts at 65.5 LSB/(deg/s); each
    log is checked to decode to exactly the counts written."""
    from heeldrop.traceio import read_trace

    rows = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "traces", "*.csv"))):
        tr = read_trace(path)
        buf = bytearray()
        w = LogWriter(buf.extend, HEADER, block_samples=block)
        head = w.bytes_written
        S = []
        for i, t in enumerate(tr.t_ms):
            s = (i, t, _clip(tr.ax[i] * 8192), _clip(tr.ay[i] * 8192), _clip(tr.az[i] * 8192),
                 _clip(tr.gx[i] * 65.5), _clip(tr.gy[i] * 65.5), _clip(tr.gz[i] * 65.5))
            S.append(s)
            w.add_sample(*s)
        w.flush()
        assert LogReader(buf).samples() == S, path
        rows.append((os.path.basename(path), tr.meta.get("sample_rate_hz"), len(S), len(buf) - head))
    return rows


def test_size_on_the_trace_corpus():
    """At most 6 bytes per sample on the 100 Hz traces of the corpus."""
    rows = [r for r in corpus_sizes() if r[1] == 100]
    n = sum(r[2] for r in rows)
    if n:
        assert sum(r[3] for r in rows) / n <= 6.0


def test_record_layout_is_as_documented():
    chunks = _write([(5, 100, 1, 2, 3, 4, 5, 6), (6, 110, 1, 2, 3, 4, 5, 6)], 50)
    assert chunks[0] == b"HDLG\x01"
    rec = chunks[3]  # magic, header x2, samples
    assert rec[:2] == b"\xe7\x5a" and rec[2] == 2
    (n,) = struct.unpack_from("<H", rec, 3)
    assert len(rec) == 9 + n
    assert struct.unpack_from("<I", rec, 5 + n)[0] == zlib.crc32(rec[2:5 + n])
    assert struct.unpack_from("<IIB", rec, 5) == (5, 100, 2)


if __name__ == "__main__":
    # .venv/bin/python tests/host/test_record_host.py [BLOCK_SAMPLES]
    # prints the log size per sample on the trace corpus
    import sys

    sys.path[:0] = [os.path.join(ROOT, "firmware", "lib"), os.path.join(ROOT, "host")]
    block = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    rows = corpus_sizes(block)
    for name, rate, n, b in rows:
        print("%-32s %4s Hz %7d samples %8d bytes  %.2f bytes/sample" % (name, rate, n, b, b / n))
    for label, sel in (("100 Hz traces", [r for r in rows if r[1] == 100]), ("all traces", rows)):
        n = sum(r[2] for r in sel)
        if n:
            print("%-32s %.2f bytes/sample (block of %d samples)" % (label, sum(r[3] for r in sel) / n, block))
