# Serial protocol framing, shared by the device (firmware link.py) and the
# host (heeldrop). docs/PROTOCOL.md is the specification; this is its code.
#
# A frame on the wire:
#     0xC0  then, byte-stuffed: u8 version, u8 type, u16 seq, u16 length,
#           payload, u16 CRC-16/CCITT-FALSE of version..payload (little-endian)
# Byte stuffing: inside a frame the bytes in RESERVED (0x01-0x05 = the
# Ctrl-A..Ctrl-E that the REPL and mpremote's raw REPL act on, CR, LF, 0xC0
# and the escape 0xDB) are sent as 0xDB, b ^ 0x20. So 0xC0 only ever starts
# a frame (it cannot occur in UTF-8 text either, so REPL output never looks
# like a frame), a Ctrl-C on the wire is always a real Ctrl-C, and a frame
# typed into an idle REPL never completes a line.
#
#     n = encode_frame(T_EVENT, seq, payload, out)   # into a preallocated buffer
#     dec = FrameDecoder()
#     for f in dec.feed(chunk):                      # f.type, f.seq, f.payload
#         ...
#     dec.bad_frames, dec.resyncs, dec.garbage_bytes, dec.missed
#
# MicroPython subset; imports struct and heelcore's crc and minijson only.
import struct

from heelcore.crc import _T16, crc16, crc32
from heelcore.minijson import dumps, loads

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr8, ptr16, ptr32


PROTOCOL_VERSION = 1
SOF = const(0xC0)
ESC = const(0xDB)
RESERVED = (0x01, 0x02, 0x03, 0x04, 0x05, 0x0A, 0x0D, 0xC0, 0xDB)
_RES = bytearray(256)  # 1 where a byte must be escaped
for _b in RESERVED:
    _RES[_b] = 1
del _b
MAX_PAYLOAD = const(2048)
MAX_CHUNK = const(1024)  # data bytes per CHUNK frame
_HDR = const(6)  # version, type, seq, length

# frame types
T_HELLO = const(0x01)  # device -> host: JSON (protocol, firmware, board, imu, ...)
T_SAMPLES = const(0x02)  # device -> host: raw sample batch (see SampleBatch)
T_SAMPLES_PACKED = const(0x03)  # device -> host: heelcore.record SAMPLES block payload
T_EVENT = const(0x04)  # device -> host: one event JSON line
T_STATUS = const(0x05)  # device -> host: JSON (phase, depth_deg, rep, hold_s, ...)
T_GAP = const(0x06)  # device -> host: u32 first lost seq, u32 count, u8 reason (the device's own loss)
T_CMD = const(0x10)  # host -> device: u16 request id, u8 name length, name, JSON args
T_REPLY = const(0x11)  # device -> host: u16 request id, u8 status, JSON result
T_CHUNK = const(0x12)  # device -> host: a piece of a session file
T_ERROR = const(0x7F)  # device -> host: u8 code, UTF-8 message (unsolicited)

TYPE_NAMES = {
    T_HELLO: "hello", T_SAMPLES: "samples", T_SAMPLES_PACKED: "samples_packed",
    T_EVENT: "event", T_STATUS: "status", T_GAP: "gap", T_CMD: "cmd", T_REPLY: "reply",
    T_CHUNK: "chunk", T_ERROR: "error",
}

# REPLY status and ERROR codes
OK = const(0)
E_UNKNOWN_CMD = const(1)
E_BAD_ARGS = const(2)
E_BUSY = const(3)
E_NOT_FOUND = const(4)
E_IO = const(5)
E_NO_SENSOR = const(6)
E_RANGE = const(7)
E_VERSION = const(8)
E_INTERNAL = const(9)
E_BAD_FRAME = const(10)
E_NO_SPACE = const(11)
E_MISMATCH = const(12)
ERROR_NAMES = (
    "ok", "unknown_command", "bad_args", "busy", "not_found", "io_error",
    "no_sensor", "out_of_range", "version", "internal", "bad_frame", "no_space",
    "mismatch",
)

COMMANDS = (
    "hello", "start", "stop", "side", "calibrate", "config_get", "config_set",
    "set_clock", "list_sessions", "read_session", "delete_session", "free_space",
    "session_hash",
)
# commands whose REPLY the device keeps, so that a retry of the same CMD
# (same request id, name and arguments) after a lost reply gets the same
# answer instead of running again
REPLAYED = ("start", "stop", "side", "calibrate", "config_set", "set_clock", "delete_session")


def max_frame_size(payload_len):
    """Worst-case bytes on the wire for a payload of payload_len bytes."""
    return 1 + 2 * (_HDR + payload_len + 2)


@micropython.native
def encode_frame(ftype, seq, payload, out=None):
    """Frame payload (bytes-like) as type ftype with sequence number seq.

    With out=None returns the frame as bytes. With out (a bytearray of at least
    max_frame_size(len(payload)) bytes) writes the frame at its start and
    returns its length, allocating nothing.
    """
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too long")
    ret = out is None
    if ret:
        out = bytearray(max_frame_size(n))
    pos = _encode(out, PROTOCOL_VERSION, ftype, seq & 0xFFFF, payload, n, _T16, _RES)
    if ret:
        return bytes(out[:pos])
    return pos


@micropython.viper
def _encode(ob, version: int, ftype: int, seq: int, pb, n: int, tb, rb) -> int:
    # SOF, then the stuffed header, payload and CRC-16/CCITT-FALSE (table
    # tb), one byte at a time (no temporary buffer); returns the length.
    # Machine code on MicroPython (~0.03 us a byte on the unix port instead
    # of ~1.5 interpreted), plain Python on CPython.
    out = ptr8(ob)
    payload = ptr8(pb)
    tab = ptr16(tb)
    res = ptr8(rb)
    out[0] = SOF
    pos = 1
    crc = 0xFFFF
    end = n + _HDR
    i = 0
    while i < end + 2:
        if i == 0:
            b = version
        elif i == 1:
            b = ftype
        elif i == 2:
            b = seq & 0xFF
        elif i == 3:
            b = (seq >> 8) & 0xFF
        elif i == 4:
            b = n & 0xFF
        elif i == 5:
            b = (n >> 8) & 0xFF
        elif i < end:
            b = int(payload[i - _HDR])
        elif i == end:
            b = crc & 0xFF
        else:
            b = (crc >> 8) & 0xFF
        if i < end:
            crc = ((crc << 8) & 0xFF00) ^ int(tab[((crc >> 8) ^ b) & 0xFF])
        if res[b]:
            out[pos] = ESC
            out[pos + 1] = b ^ 0x20
            pos += 2
        else:
            out[pos] = b
            pos += 1
        i += 1
    return pos


class Frame:
    """A decoded frame: type, seq, payload (bytes), version."""

    def __init__(self, ftype, seq, payload, version=PROTOCOL_VERSION):
        self.type = ftype
        self.seq = seq
        self.payload = payload
        self.version = version

    def __repr__(self):
        return "Frame(%s, seq=%d, %d bytes)" % (TYPE_NAMES.get(self.type, hex(self.type)), self.seq, len(self.payload))

    def __eq__(self, other):
        return (isinstance(other, Frame) and self.type == other.type and self.seq == other.seq
                and self.payload == other.payload and self.version == other.version)


class FrameDecoder:
    """Streaming decoder: feed(bytes) returns the complete good frames.

    Counters: bad_frames (started but failed: CRC, bad escape, raw reserved
    byte, too long, cut off by a new 0xC0), resyncs (good frames found after
    garbage or a bad frame), garbage_bytes (bytes outside any frame: REPL
    text, boot messages), missed (frames lost, counted from gaps in seq).
    """

    def __init__(self, max_payload=MAX_PAYLOAD):
        self.max_payload = max_payload
        self.bad_frames = 0
        self.resyncs = 0
        self.garbage_bytes = 0
        self.missed = 0
        self._buf = bytearray(_HDR + max_payload + 2)
        self._len = 0
        self._in = False
        self._esc = False
        self._need = -1
        self._dirty = False  # garbage or a bad frame since the last good frame
        self._last_seq = -1
        self.last_bad_type = -1  # type byte and bytes so far of the last bad frame
        self.last_bad_len = 0

    def _bad(self):
        self.bad_frames += 1
        self._in = False
        self._dirty = True
        self.last_bad_type = self._buf[1] if self._len >= 2 else -1
        self.last_bad_len = self._len

    def _start(self):
        self._in = True
        self._esc = False
        self._need = -1
        self._len = 0

    def feed(self, data):
        """Decode the next piece of the byte stream; returns a list of Frame."""
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        frames = []
        n = len(data)
        i = 0
        buf = self._buf
        res = _RES
        while i < n:
            if not self._in:
                j = data.find(b"\xc0", i)
                if j < 0:
                    self.garbage_bytes += n - i
                    self._dirty = True
                    break
                if j > i:
                    self.garbage_bytes += j - i
                    self._dirty = True
                i = j + 1
                self._start()
                continue
            b = data[i]
            i += 1
            if b == SOF:
                self._bad()
                self._start()
                continue
            if self._esc:
                self._esc = False
                b ^= 0x20
                if not res[b]:
                    self._bad()
                    continue
            elif b == ESC:
                self._esc = True
                continue
            elif res[b]:
                # a raw control byte cannot be part of a frame: REPL noise
                self._bad()
                self.garbage_bytes += 1
                continue
            k = self._len
            buf[k] = b
            k += 1
            self._len = k
            if k == _HDR:
                ln = buf[4] | (buf[5] << 8)
                if ln > self.max_payload:
                    self._bad()
                    continue
                self._need = _HDR + ln + 2
            if k == self._need:
                self._in = False
                if (buf[k - 2] | (buf[k - 1] << 8)) != crc16(buf, 0, k - 2):
                    self._bad()
                    continue
                seq = buf[2] | (buf[3] << 8)
                if self._last_seq >= 0:
                    gap = (seq - self._last_seq - 1) & 0xFFFF
                    if gap < 0x8000:
                        self.missed += gap
                self._last_seq = seq
                if self._dirty:
                    self.resyncs += 1
                    self._dirty = False
                frames.append(Frame(buf[1], seq, bytes(buf[_HDR:k - 2]), buf[0]))
        return frames


# -- payloads --


def json_payload(obj):
    """HELLO, STATUS (and CMD args / REPLY results): compact JSON as bytes."""
    return dumps(obj).encode()


def parse_json(payload):
    if not payload:
        return {}
    return loads(bytes(payload).decode())


def cmd_payload(req_id, name, args=None):
    """CMD: u16 request id, u8 name length, name (ASCII), JSON args."""
    nb = name.encode()
    return struct.pack("<HB", req_id & 0xFFFF, len(nb)) + nb + (dumps(args).encode() if args else b"")


def parse_cmd(payload):
    """CMD payload -> (req_id, name, args dict). Raises ValueError if malformed."""
    if len(payload) < 3:
        raise ValueError("cmd too short")
    req, ln = struct.unpack_from("<HB", payload, 0)
    if 3 + ln > len(payload):
        raise ValueError("cmd name runs past the payload")
    name = bytes(payload[3:3 + ln]).decode()
    args = parse_json(payload[3 + ln:])
    if not isinstance(args, dict):
        raise ValueError("cmd args must be a JSON object")
    return req, name, args


def reply_payload(req_id, status, result=None):
    """REPLY: u16 request id, u8 status (OK or E_*), JSON result; for an error
    the result is {"error": name, "message": text}."""
    return struct.pack("<HB", req_id & 0xFFFF, status) + (dumps(result).encode() if result is not None else b"")


def error_reply(req_id, status, message):
    name = ERROR_NAMES[status] if status < len(ERROR_NAMES) else "error"
    return reply_payload(req_id, status, {"error": name, "message": message})


def parse_reply(payload):
    """REPLY payload -> (req_id, status, result)."""
    if len(payload) < 3:
        raise ValueError("reply too short")
    req, status = struct.unpack_from("<HB", payload, 0)
    return req, status, (parse_json(payload[3:]) if len(payload) > 3 else None)


def chunk_payload(req_id, session_id, offset, data, total=0xFFFFFFFF):
    """CHUNK: u16 request id, u32 session id, u32 offset, u32 total file size,
    u16 length, u32 CRC-32 of data, data."""
    return struct.pack("<HIIIHI", req_id & 0xFFFF, session_id, offset, total, len(data), crc32(data)) + bytes(data)


_CHUNK_HDR = const(20)


def parse_chunk(payload):
    """CHUNK payload -> dict(req, session, offset, total, data, ok) where ok
    says the data matched its CRC-32 (re-request the range if not)."""
    if len(payload) < _CHUNK_HDR:
        raise ValueError("chunk too short")
    req, sid, off, total, ln, c = struct.unpack_from("<HIIIHI", payload, 0)
    data = bytes(payload[_CHUNK_HDR:_CHUNK_HDR + ln])
    return {"req": req, "session": sid, "offset": off, "total": total, "data": data,
            "ok": len(data) == ln and crc32(data) == c}


def gap_payload(first_seq, count, reason):
    """GAP: samples first_seq .. first_seq + count - 1 were lost on the device
    (reason: heelcore.record GAP_* code), so a host tells them from link losses."""
    return struct.pack("<IIB", first_seq & 0xFFFFFFFF, count & 0xFFFFFFFF, reason & 0xFF)


def parse_gap(payload):
    """(first_seq, count, reason code) of a GAP payload."""
    if len(payload) != 9:
        raise ValueError("gap payload of %d bytes" % len(payload))
    return struct.unpack("<IIB", payload)


def error_payload(code, message):
    """ERROR: u8 code, UTF-8 message."""
    return bytes((code,)) + message.encode()


def parse_error(payload):
    if not payload:
        raise ValueError("empty error")
    return payload[0], bytes(payload[1:]).decode()


class SampleBatch:
    """Raw sample batch for SAMPLES frames, built without allocation.

    Payload: u32 first seq, u32 t0_ms, u8 n, n x 6 int16 counts (ax..gz),
    then n-1 u8 dt_ms (time since the previous sample, 0..255).
    Samples must have consecutive seq and dt <= 255 ms: add() returns False
    (and takes nothing) when the sample does not fit; send the batch, clear()
    it and add the sample again.
    """

    def __init__(self, max_n=10):
        self.max_n = max_n
        self.buf = bytearray(9 + 13 * max_n)
        self.mv = memoryview(self.buf)
        self.dts = bytearray(max_n)
        self.n = 0
        self._seq = 0
        self._t = 0

    def add(self, seq, t_ms, ax, ay, az, gx, gy, gz):
        n = self.n
        if n:
            dt = (t_ms - self._t) & 0x3FFFFFFF
            if n >= self.max_n or seq != self._seq + 1 or dt > 255:
                return False
            self.dts[n] = dt
        else:
            struct.pack_into("<II", self.buf, 0, seq & 0xFFFFFFFF, t_ms & 0x3FFFFFFF)
        self._seq = seq
        self._t = t_ms
        struct.pack_into("<hhhhhh", self.buf, 9 + 12 * n, ax, ay, az, gx, gy, gz)
        self.n = n + 1
        return True

    @micropython.native
    def add_many(self, seq, ts, src, i, n):
        """Add samples i .. n-1 from arrays, as add() calls would: seq is
        sample i's, ticks ts (array('i')), counts src (array('h'), 6 a
        sample, ax..gz). Returns how many were taken: it stops at a full
        batch, a seq that does not follow, or a dt over 255 ms; send the
        batch, clear() it and add the rest. Machine code, no allocation
        but the header of a new batch."""
        k = self.n
        if k == 0:
            struct.pack_into("<II", self.buf, 0, seq & 0xFFFFFFFF, ts[i] & 0x3FFFFFFF)
            tprev = ts[i]
        elif seq != self._seq + 1:
            return 0
        else:
            tprev = self._t
        m = _batch_put(self.buf, self.dts, k, self.max_n, tprev, ts, src, i, n)
        if m:
            self._seq = seq + m - 1
            self._t = ts[i + m - 1]
            self.n = k + m
        return m

    def payload(self):
        """The batch as a payload: a memoryview into the batch's buffer (send it
        before the next add)."""
        n = self.n
        b = self.buf
        b[8] = n
        p = 9 + 12 * n
        _copy8(self.dts, 1, b, p, n - 1)
        return self.mv[:p + n - 1]

    def clear(self):
        self.n = 0


@micropython.viper
def _copy8(src, i: int, dst, o: int, n: int):
    # dst[o:o + n] = src[i:i + n] without a slice object
    a = ptr8(src)
    b = ptr8(dst)
    e = i + n
    while i < e:
        b[o] = a[i]
        o += 1
        i += 1


@micropython.viper
def _batch_put(bb, db, k: int, max_n: int, tprev: int, tsb, srcb, i: int, n: int) -> int:
    # SampleBatch.add_many's copy: samples i.. of (tsb, srcb) into batch
    # slots k.. (int16 little-endian, dt bytes); returns how many fitted
    b = ptr8(bb)
    d = ptr8(db)
    ts = ptr32(tsb)
    s = ptr16(srcb)
    i0 = i
    while i < n and k < max_n:
        t = int(ts[i])
        if k:
            dt = (t - tprev) & 0x3FFFFFFF
            if dt > 255:
                break
            d[k] = dt
        tprev = t
        p = 9 + 12 * k
        j = 6 * i
        e = j + 6
        while j < e:
            v = int(s[j])
            b[p] = v & 0xFF
            b[p + 1] = (v >> 8) & 0xFF
            p += 2
            j += 1
        k += 1
        i += 1
    return i - i0


def parse_samples(payload):
    """SAMPLES payload -> list of (seq, t_ms, ax, ay, az, gx, gy, gz)."""
    if len(payload) < 9:
        raise ValueError("samples payload too short")
    seq, t = struct.unpack_from("<II", payload, 0)
    n = payload[8]
    if n == 0 or len(payload) != 9 + (n - 1) + 12 * n:
        raise ValueError("samples payload has the wrong length")
    out = []
    p = 9 + 12 * n
    for i in range(n):
        if i:
            t = (t + payload[p + i - 1]) & 0x3FFFFFFF
        c = struct.unpack_from("<hhhhhh", payload, 9 + 12 * i)
        out.append(((seq + i) & 0xFFFFFFFF, t) + c)
    return out


def parse_samples_packed(payload):
    """SAMPLES_PACKED payload (a heelcore.record SAMPLES block) -> samples."""
    from heelcore.record import decode_block

    return decode_block(bytes(payload))
