# Shared tests (CPython via pytest, MicroPython unix port via tests/run_unix.py)
# for firmware/link.py and the app's small helpers: frames into the link's
# buffer equal proto.encode_frame's and decode back, the decoder ignores noise and
# answers commands, a Ctrl-C byte raises KeyboardInterrupt, UTC stamps.
import app
import link
from heelcore import proto


def _payloads():
    out = [b"", b"\x00", bytes(range(256)), b"\xc0\xdb\x01\x02\x03\x04\x05\n\r" * 30]
    x = 12345
    for n in (1, 7, 139, 659, 2048):
        b = bytearray(n)
        for i in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            b[i] = (x >> 16) & 0xFF
        out.append(bytes(b))
    return out


def test_frames_into_a_buffer_equal_returned_frames_and_decode():
    # the frame encoder (viper on MicroPython, the same code interpreted on
    # CPython) into the link's preallocated buffer gives the bytes it returns
    # on its own, from bytes or a memoryview (SampleBatch.payload() hands
    # one), and the decoder reads back type, seq and payload
    out = bytearray(proto.max_frame_size(proto.MAX_PAYLOAD))
    for p in _payloads():
        for ftype, seq in ((proto.T_SAMPLES, 0), (proto.T_EVENT, 0x1234), (proto.T_REPLY, 0xFFFF)):
            n = proto.encode_frame(ftype, seq, p, out)
            whole = proto.encode_frame(ftype, seq, p)
            assert bytes(out[:n]) == whole, (ftype, seq, len(p))
            n2 = proto.encode_frame(ftype, seq, memoryview(p), out)
            assert n2 == n and bytes(out[:n]) == whole
            f = proto.FrameDecoder(proto.MAX_PAYLOAD).feed(whole)
            assert len(f) == 1 and (f[0].type, f[0].seq, f[0].payload) == (ftype, seq, p)


class _App:
    # the slice of app.App that the commands below use
    running = False
    session = None
    log = None
    store = None

    def hello(self):
        return {"protocol": 1, "firmware": "t"}

    def calibrate(self):
        self.cal = True
        return True


def _replies(ms):
    d = proto.FrameDecoder()
    return [f for f in d.feed(bytes(ms.out))]


def test_noise_then_commands_get_one_reply_each():
    ms = link.MemStream()
    lk = link.Link(ms, _App())
    ms.feed(b"garbage >>> import os\r\n\xc0\x01\x10\x00")  # REPL text and a cut frame
    ms.feed(proto.encode_frame(proto.T_CMD, 1, proto.cmd_payload(7, "hello")))
    ms.feed(proto.encode_frame(proto.T_CMD, 2, proto.cmd_payload(8, "calibrate")))
    ms.feed(proto.encode_frame(proto.T_CMD, 3, proto.cmd_payload(9, "warp")))
    ms.feed(proto.encode_frame(proto.T_CMD, 4, proto.cmd_payload(10, "list_sessions")))
    for _ in range(10):
        lk.poll(0)
    got = {}
    for f in _replies(ms):
        if f.type == proto.T_REPLY:
            req, st, res = proto.parse_reply(f.payload)
            got[req] = (st, res)
    assert got[7] == (proto.OK, {"protocol": 1, "firmware": "t"})
    assert got[8] == (proto.OK, {"started": True})
    assert got[9][0] == proto.E_UNKNOWN_CMD
    assert got[10][0] == proto.E_IO  # no store
    assert len(got) == 4


def test_other_protocol_version_is_refused():
    ms = link.MemStream()
    lk = link.Link(ms, _App())
    f = bytearray(proto.encode_frame(proto.T_CMD, 1, proto.cmd_payload(5, "hello")))
    # rebuild with version 2 (the CRC covers the version byte)
    body = bytes([2, proto.T_CMD, 1, 0]) + bytes([len(proto.cmd_payload(5, "hello")), 0]) + proto.cmd_payload(5, "hello")
    from heelcore.crc import crc16

    c = crc16(body)
    raw = bytes(body) + bytes([c & 0xFF, c >> 8])
    wire = bytearray(b"\xc0")
    for b in raw:
        if b in proto.RESERVED:
            wire += bytes([0xDB, b ^ 0x20])
        else:
            wire.append(b)
    assert f[0] == 0xC0
    ms.feed(bytes(wire))
    lk.poll(0)
    r = [x for x in _replies(ms) if x.type == proto.T_REPLY]
    assert len(r) == 1 and proto.parse_reply(r[0].payload)[1] == proto.E_VERSION


def test_ctrl_c_raises_keyboard_interrupt():
    ms = link.MemStream()
    lk = link.Link(ms, _App())
    ms.feed(b"\r\x03\x03")
    try:
        lk.poll(0)
    except KeyboardInterrupt:
        return
    raise AssertionError("no KeyboardInterrupt")


def test_utc_round_trip():
    for s in ("1970-01-01T00:00:00Z", "2026-11-24T06:40:00Z", "2000-02-29T23:59:59Z", "2100-03-01T00:00:00Z"):
        assert app.format_utc(app.parse_utc(s)) == s
    assert app.parse_utc("2026-11-24T06:40:00.250Z") == app.parse_utc("2026-11-24T06:40:00Z")
    assert app.parse_utc("1970-01-02T00:00:00Z") == 86400
    for bad in ("2026-11-24", "2026-11-24T06:40:00+02:00", "2026-13-01T00:00:00Z", 5):
        try:
            app.parse_utc(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))


def test_send_of_a_payload_bigger_than_the_buffer():
    ms = link.MemStream()
    lk = link.Link(ms, _App())
    big = bytes(range(256)) * 7  # 1792 bytes: past the preallocated frame buffer
    lk.send(proto.T_EVENT, b"x")
    lk.send(proto.T_EVENT, big)
    lk.send(proto.T_EVENT, b"y")
    fr = proto.FrameDecoder().feed(bytes(ms.out))
    assert [f.payload for f in fr] == [b"x", big, b"y"] and [f.seq for f in fr] == [0, 1, 2]


class _StartApp(_App):
    # counts starts: a retried start must not run twice
    def __init__(self):
        self.starts = 0

    def start(self, side, record):
        self.running = True
        self.starts += 1
        self.session = self.starts + 1
        return self.session


def _ask(lk, ms, fseq, req, name, args=None):
    ms.out = bytearray()
    ms.feed(proto.encode_frame(proto.T_CMD, fseq, proto.cmd_payload(req, name, args)))
    lk.poll(0)
    out = [proto.parse_reply(f.payload) for f in _replies(ms) if f.type == proto.T_REPLY]
    assert len(out) == 1, out
    return out[0]


def test_a_retried_command_gets_the_same_answer():
    # issue 13.15: the host retries a CMD (same request id) when its REPLY
    # was lost; a retried start answers the session it started, not "busy"
    ms = link.MemStream()
    app_ = _StartApp()
    lk = link.Link(ms, app_)
    assert _ask(lk, ms, 1, 40, "start", {"side": "left"}) == (40, proto.OK, {"session": 2})
    assert _ask(lk, ms, 2, 40, "start", {"side": "left"}) == (40, proto.OK, {"session": 2})
    assert app_.starts == 1 and lk.replayed == 1
    # a new start (another request) while running is busy, as before
    req, st, res = _ask(lk, ms, 3, 41, "start", {"side": "left"})
    assert st == proto.E_BUSY and app_.starts == 1


class _Store:
    # the store API the session commands use, over one in-memory file
    def __init__(self, data):
        self.data = data
        self.deleted = []

    def list(self):
        return [{"id": 3, "name": "s0003.hdl", "size": len(self.data), "state": "cut", "closed": False}]

    def read_chunk(self, sid, off, n):
        return self.data[off:off + n]

    def digest(self, sid, length=-1):
        if sid != 3:
            raise OSError(2)
        if length > len(self.data):
            raise ValueError("length %d beyond the end" % length)
        return _sha(self.data[:len(self.data) if length < 0 else length]), len(self.data)

    def delete(self, sid, size=None, sha256=None):
        c, n = self.digest(sid)
        if (size is not None and size != n) or (sha256 is not None and sha256 != c):
            raise ValueError("differs: not deleted")
        self.deleted.append(sid)


def _sha(b):
    import hashlib
    from binascii import hexlify

    return hexlify(hashlib.sha256(b).digest()).decode()


def test_session_hash_and_a_verified_delete():
    ms = link.MemStream()
    app_ = _App()
    app_.store = _Store(b"HDLG\x01" + bytes(range(200)))
    lk = link.Link(ms, app_)
    data = app_.store.data
    _, st, res = _ask(lk, ms, 1, 1, "list_sessions")
    assert res["sessions"][0]["state"] == "cut" and res["sessions"][0]["complete"] is False
    assert _ask(lk, ms, 2, 2, "session_hash", {"id": 3}) == (
        2, proto.OK, {"id": 3, "length": len(data), "sha256": _sha(data), "size": len(data)})
    assert _ask(lk, ms, 3, 3, "session_hash", {"id": 3, "length": 10})[2]["sha256"] == _sha(data[:10])
    assert _ask(lk, ms, 4, 4, "session_hash", {"id": 3, "length": 999})[1] == proto.E_RANGE
    assert _ask(lk, ms, 5, 5, "session_hash", {"id": 4})[1] == proto.E_NOT_FOUND
    other = _sha(data[:-1] + b"x")
    st = _ask(lk, ms, 6, 6, "delete_session", {"id": 3, "size": len(data), "sha256": other})[1]
    assert st == proto.E_MISMATCH and app_.store.deleted == []
    st = _ask(lk, ms, 7, 7, "delete_session", {"id": 3, "size": len(data), "sha256": _sha(data)})[1]
    assert st == proto.OK and app_.store.deleted == [3]


class _CutStream(link.MemStream):
    # a serial port whose write number `cut` (0-based) sends only its first
    # `keep` bytes and returns that count (or None: `none`), as a board's USB
    # serial that gave up on a host that does not read
    def __init__(self, cut, keep, none=False):
        link.MemStream.__init__(self)
        self.cut = cut
        self.keep = keep
        self.none = none
        self.writes = 0

    def write(self, data):
        i = self.writes
        self.writes += 1
        if i != self.cut:
            return link.MemStream.write(self, data)
        self.out += bytes(data)[:self.keep]
        if self.none:
            return None
        return self.keep


def _three(ms):
    # an EVENT, a SAMPLES batch of 4 (the frame that may be cut), an EVENT;
    # payload bytes that need stuffing (0xC0, 0xDB, control bytes) throughout
    lk = link.Link(ms, _App(), batch_n=4)
    lk.send(proto.T_EVENT, b"\xc0\xdb\x01one\x03\r\n")
    for i in range(4):
        lk.batch.add(100 + i, 0xDB00C0 + i, 0xC0, -0x24, 0x3DB, 1, 2, 3)
    lk.send_batch()
    lk.send(proto.T_EVENT, b"three\xdb\xc0")
    return lk


def test_a_frame_the_port_did_not_take_whole_is_counted_and_costs_no_other_frame():
    whole = link.MemStream()
    _three(whole)
    d = proto.FrameDecoder()
    fr = d.feed(bytes(whole.out))
    assert [f.seq for f in fr] == [0, 1, 2] and d.bad_frames == 0
    n1 = len(proto.encode_frame(fr[0].type, 0, fr[0].payload))
    n2 = len(proto.encode_frame(fr[1].type, 1, fr[1].payload))
    assert bytes(whole.out[n1:n1 + n2]).count(b"\xdb") >= 4  # stuffed: cut points after an escape too
    for keep in range(n2):  # every cut: nothing sent, then each byte of the frame but the last
        for none in (False, True):
            ms = _CutStream(1, keep, none)
            lk = _three(ms)
            assert (lk.tx_dropped, lk.tx_dropped_samples, lk.frames_out) == (1, 4, 3), keep
            d = proto.FrameDecoder()
            got = d.feed(bytes(ms.out))
            # the frames before and after arrive intact; the cut one is missing
            # (a gap in seq), and what went out of it is one bad frame at most
            assert [(f.seq, f.payload) for f in got] == [(0, fr[0].payload), (2, fr[2].payload)], keep
            assert d.missed == 1 and d.bad_frames == (1 if keep else 0), (keep, d.bad_frames)
    # a whole write is not a drop; a STATUS reports the counts
    ms = _CutStream(1, n2)
    lk = _three(ms)
    assert lk.tx_dropped == 0 and len(proto.FrameDecoder().feed(bytes(ms.out))) == 3
    ms = _CutStream(0, 0)
    lk = link.Link(ms, _App())
    lk.send(proto.T_EVENT, b"lost")
    lk.send_status({"phase": "idle"})
    st = proto.parse_json([f for f in proto.FrameDecoder().feed(bytes(ms.out)) if f.type == proto.T_STATUS][0].payload)
    assert st["tx_dropped"] == 1 and st["tx_dropped_samples"] == 0 and st["phase"] == "idle"
