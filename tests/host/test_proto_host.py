"""CPython-only checks of the serial framing with Hypothesis: arbitrary
payloads, garbage between frames, arbitrary splits and corruption."""
from hypothesis import given, settings
from hypothesis import strategies as st

import json
import math

from heelcore import minijson, proto
from heelcore.proto import RESERVED, FrameDecoder, encode_frame, max_frame_size

frames_st = st.lists(
    st.tuples(st.integers(0, 255), st.integers(0, 0xFFFF), st.binary(max_size=300)), min_size=1, max_size=12)


def _decode_in_pieces(stream, cuts):
    dec = FrameDecoder()
    got = []
    last = 0
    for c in sorted(cuts) + [len(stream)]:
        got.extend(dec.feed(stream[last:c]))
        last = c
    return dec, got


@settings(max_examples=300, deadline=None)
@given(frames_st, st.lists(st.integers(0, 5000), max_size=20))
def test_round_trip_any_split(frames, cuts):
    stream = b"".join(encode_frame(t, s, p) for t, s, p in frames)
    cuts = [c for c in cuts if c <= len(stream)]
    dec, got = _decode_in_pieces(stream, cuts)
    assert [(f.type, f.seq, f.payload) for f in got] == frames
    assert dec.bad_frames == dec.garbage_bytes == dec.resyncs == 0


@settings(max_examples=300, deadline=None)
@given(frames_st, st.lists(st.binary(max_size=200), min_size=13, max_size=13), st.lists(st.integers(0, 5000), max_size=10))
def test_garbage_between_frames(frames, garbage, cuts):
    garbage = garbage[:len(frames)] + garbage[-1:]
    parts = []
    for i, (t, s, p) in enumerate(frames):
        parts.append(garbage[i])
        parts.append(encode_frame(t, s, p))
    parts.append(garbage[-1])
    stream = b"".join(parts)
    cuts = [c for c in cuts if c <= len(stream)]
    dec, got = _decode_in_pieces(stream, cuts)
    real = [(t, s & 0xFFFF, p) for t, s, p in frames]
    decoded = [(f.type, f.seq, f.payload) for f in got]
    if not any(0xC0 in g for g in garbage):
        assert decoded == real
        assert dec.garbage_bytes == sum(len(g) for g in garbage)
        assert dec.bad_frames == 0
    else:
        # garbage may start a false frame, which the next real 0xC0 aborts:
        # every real frame still arrives, in order
        it = iter(decoded)
        for f in real:
            assert any(f == d for d in it)


@settings(max_examples=300, deadline=None)
@given(frames_st, st.data())
def test_corruption_loses_only_touched_frames(frames, data):
    enc = [encode_frame(t, s, p) for t, s, p in frames]
    stream = bytearray(b"".join(enc))
    bounds = []
    pos = 0
    for e in enc:
        bounds.append((pos, pos + len(e)))
        pos += len(e)
    hits = set()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(stream) - 1))
        stream[i] ^= data.draw(st.integers(1, 255))
        hits.add(i)
    dec, got = _decode_in_pieces(bytes(stream), [])
    decoded = [(f.type, f.seq, f.payload) for f in got]
    touched = [any(a <= i < b for i in hits) for a, b in bounds]
    want = [(t, s & 0xFFFF, p) for (t, s, p), hit in zip(frames, touched) if not hit]
    it = iter(decoded)
    for f in want:
        assert any(f == d for d in it), "an untouched frame was lost"
    # a touched frame can only come through if the damage hit its start byte
    # and left a valid frame behind, which CRC-16 makes (practically) impossible
    assert len(decoded) <= len(frames)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 255), st.integers(0, 0xFFFF))
def test_encoded_frames_are_repl_safe(payload, ftype, seq):
    f = encode_frame(ftype, seq, payload)
    assert len(f) <= max_frame_size(len(payload))
    body = f[1:]
    for ctrl in RESERVED:
        if ctrl != proto.ESC:
            assert ctrl not in body
    out = bytearray(max_frame_size(len(payload)))
    n = encode_frame(ftype, seq, payload, out)
    assert bytes(out[:n]) == f


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_never_crash(blob):
    dec = FrameDecoder()
    dec.feed(blob)
    assert dec.garbage_bytes <= len(blob)


@given(st.integers(0, 0xFFFF), st.sampled_from(proto.COMMANDS),
       st.dictionaries(st.text(max_size=10), st.one_of(st.integers(-2**40, 2**40), st.text(max_size=20),
                                                       st.booleans(), st.none()), max_size=5))
@settings(max_examples=200, deadline=None)
def test_cmd_and_reply_round_trip(req, name, args):
    assert proto.parse_cmd(proto.cmd_payload(req, name, args)) == (req, name, args)
    assert proto.parse_reply(proto.reply_payload(req, proto.OK, args)) == (req, proto.OK, args)


@given(st.lists(st.tuples(st.integers(-32768, 32767), st.integers(-32768, 32767), st.integers(-32768, 32767),
                          st.integers(-32768, 32767), st.integers(-32768, 32767), st.integers(-32768, 32767),
                          st.integers(0, 255)), min_size=1, max_size=30),
       st.integers(0, 2**32 - 1), st.integers(0, 2**30 - 1))
@settings(max_examples=200, deadline=None)
def test_sample_batches_round_trip(rows, seq0, t0):
    b = proto.SampleBatch(8)
    want, got = [], []
    t = t0
    for i, r in enumerate(rows):
        if i:
            t = (t + r[6]) % (1 << 30)
        s = ((seq0 + i) & 0xFFFFFFFF, t) + r[:6]
        want.append(s)
        if not b.add(*s):
            got.extend(proto.parse_samples(bytes(b.payload())))
            b.clear()
            assert b.add(*s)
    got.extend(proto.parse_samples(bytes(b.payload())))
    assert got == want


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.text(max_size=20),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_minijson_agrees_with_json(v):
    text = minijson.dumps(v)
    assert json.loads(text) == v
    assert minijson.loads(text) == v
    assert minijson.loads(json.dumps(v)) == v
    assert minijson.loads(json.dumps(v, indent=2, ensure_ascii=True)) == v


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(alphabet='0123456789-+.eE[]{},:" tfnrul\\', max_size=20)))
def test_minijson_rejects_what_json_rejects(text):
    try:
        want = json.loads(text)
    except ValueError:
        want = ValueError
    try:
        got = minijson.loads(text)
    except ValueError:
        got = ValueError
    if want is ValueError:
        assert got is ValueError
    elif not (isinstance(want, float) and not math.isfinite(want)):
        # (json also takes NaN and Infinity literals; minijson does not)
        assert got == want
