# Session log codec: one file per session on flash, read back by the host.
#
# Shared by the firmware (LogWriter, on the board) and the host (LogReader,
# `heeldrop convert` / `heeldrop events`). MicroPython subset; file access is
# the caller's: the writer hands whole records to a write callback, the reader
# takes the file's bytes.
#
#     f = open("/sessions/0007.hdl", "wb")
#     w = LogWriter(f.write, {"firmware": "0.1.0", "board": "esp32c3",
#                             "imu": "mpu6050", "rate_hz": 100,
#                             "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5,
#                             "side": "left", "started": None})
#     w.add_sample(seq, t_ms, ax, ay, az, gx, gy, gz)   # int16 counts, per sample
#     w.add_event(heelcore.events.to_json(ev))
#     ... f.flush() at least once a second ...
#     w.close(t_ms); f.close()
#
#     r = LogReader(open(path, "rb").read())
#     r.header, r.samples(), r.events(), r.gaps(), r.truncated, r.errors
#
# File layout (all integers little-endian; docs/SESSION-LOG.md is the
# specification for readers, and tests/host/test_session_log_spec.py keeps
# it in step with this code):
#   b"HDLG"  u8 FORMAT_VERSION  then records, back to back.
#   record:  SYNC (0xE7 0x5A)  u8 type  u16 payload length  payload
#            u32 CRC-32 (zlib) of type, length and payload.
#   The HEADER record (JSON) is written twice at the start, so one bad byte
#   cannot cost the scales; the reader takes the first good copy.
# Record types and payloads:
#   HEADER  1  JSON object: firmware, board, imu, rate_hz, accel_lsb_per_g,
#              gyro_lsb_per_dps, accel_range_g, gyro_range_dps, side, started
#              (ISO 8601 or null), calibration {}, config {}, format (the
#              FORMAT_VERSION, a CRC-checked copy of the file header's byte)
#              (+ any extra keys; the session store adds the session's
#              identity: device_id, store_id, session, uid, see logstore.py)
#   SAMPLES 2  a block of consecutive samples, see _encode_block below
#   EVENT   3  one event JSON line (heelcore.events.to_json), UTF-8
#   SIDE    4  u8 side (0 left, 1 right), u32 t_ms
#   GAP     5  u32 first lost seq, u32 count, u8 reason (GAP_*)
#   NOTE    6  u32 t_ms, UTF-8 text ("flash_low free_kb=120", "battery_low")
#   END     7  u32 t_ms, u32 samples written: the session was closed cleanly
#   Readers skip (and list) record types they do not know.
# Versioning: FORMAT_VERSION changes only when an existing record's layout
# changes; new record types and header keys are added without a bump.
# A damaged file header (the 5 bytes: a flipped bit in the magic or the
# version) costs nothing: when they are not HDLG + a known version, the
# reader looks for records by their own framing and CRC from offset 5. The
# HEADER record's "format" then decides: newer than FORMAT_VERSION is a
# LogFormatError ("update heeldrop"), else the records are read and
# errors[0] says "file header damaged". Only when no whole record is found
# is it not a log (or, with the magic intact and a higher version byte, "a
# newer format or a damaged file header").
#
# SAMPLES payload (block of n consecutive sequence numbers; n <= 255, this
# writer makes at most MAX_BLOCK = 200):
#   u32 first_seq, u32 t0_ms (tick, [0, 2**30)), u8 n, u8 flags (0),
#   i32 t_base, u8 t_mode<<6|t_code,   then per axis ax..gz: i16 base,
#   u8 mode<<6|code, then one LSB-first bit stream, padded to a byte:
#     time: n-1 values, t_mode 0: dt_i - t_base (dt_i = ticks_diff(t_i,
#           t_(i-1)); t_base is the block's smallest dt, so values are >= 0);
#           t_mode 1: zigzag(ticks_diff(t_i, t0) - (i * t_base + 500) // 1000)
#           with t_base the block's mean period in microseconds (FIFO
#           timestamps on a grid, even a non-integer one, cost nothing)
#     each axis: mode 0: zigzag(v_i - base) for i in 0..n-1 (base: block mean)
#                mode 1: zigzag(v_i - v_(i-1)) for i in 1..n-1 (base = v_0)
#                mode 2: zigzag of v_1 - v_0, then v_i - 2 v_(i-1) + v_(i-2)
#   code: 0..24 Rice with parameter k (q = v >> k in unary as q one-bits and a
#         zero-bit, then the k low bits; q >= 16 escapes: 16 one-bits, a 5-bit
#         bit length L, then L bits of v); 32+w: fixed width w bits (w = 0:
#         all values are zero, no bits). The encoder picks, per block and
#         stream, the mode and code that cost the fewest bits.
# Size (blocks of 50): 4.1 bytes per sample for 100 Hz MPU-6050 counts with
# a few LSB of noise (tests/shared/recsynth.py), 5.7 on the simulated corpus
# tests/traces/*.csv at 100 Hz (its accelerometer noise is 20-70 LSB);
# `.venv/bin/python tests/host/test_record_host.py` prints the figures.
# Encoding a block of 50 takes about 20 us on the unix port (viper
# functions, below; the same code interpreted took 0.3-0.45 ms), a few ms on
# an ESP32 or RP2040 (not measured), once per 0.5 s at 100 Hz.
#
# A CRC-32 of a whole file is NOT a check of its content: each record ends
# with the CRC-32 of its bytes, and a message followed by its CRC divides by
# the polynomial, so the file CRC-32 cannot see any change inside a record.
# Compare whole files by SHA-256 (the protocol's session_hash).
#
# Power-loss safety: records are whole when handed to write_fn, and records
# never reference each other, so a file cut at any byte reads up to its last
# whole record (reader.truncated is set); a bad byte costs only its record
# (the reader looks for the next SYNC whose record checks out, and reports
# the skipped bytes in reader.errors).
#
# Memory: add_sample() and add_samples() allocate nothing (ints into
# preallocated arrays; add_samples copies a whole read in machine code).
# flush() encodes the block into a preallocated bytearray; it allocates one
# memoryview slice for write_fn (and, on 32-bit ports, the CRC-32 may be a
# long int). Other records (events, gaps, ...) allocate their bytes.
import struct
from array import array

from heelcore.crc import crc32, crc32_put
from heelcore.minijson import dumps, loads

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr8, ptr16, ptr32


MAGIC = b"HDLG"
FORMAT_VERSION = 1
SYNC = b"\xe7\x5a"
_SYNC0 = const(0xE7)
_SYNC1 = const(0x5A)

REC_HEADER = const(1)
REC_SAMPLES = const(2)
REC_EVENT = const(3)
REC_SIDE = const(4)
REC_GAP = const(5)
REC_NOTE = const(6)
REC_END = const(7)

# why samples were lost (GAP records)
GAP_OTHER = const(0)
GAP_FIFO_OVERFLOW = const(1)
GAP_I2C_ERROR = const(2)
GAP_UNPLUGGED = const(3)
GAP_REASONS = ("other", "fifo_overflow", "i2c_error", "sensor_unplugged")

SIDES = ("left", "right")

MAX_PAYLOAD = const(8192)  # the reader treats longer claims as corruption
MAX_BLOCK = const(200)
_REC_OVERHEAD = const(9)  # sync 2 + type 1 + length 2 + crc 4
_BLOCK_FIXED = const(33)  # 15 block fields + 6 x 3 axis fields
_TICKS_MASK = const(0x3FFFFFFF)
_TICKS_HALF = const(0x20000000)
_ESC_Q = const(16)
_MAX_K = const(24)
_ST_POS = const(0)  # encoder state, array('i'): output byte position,
_ST_ACC = const(1)  # pending bits (< 2**30),
_ST_NB = const(2)  # how many of them,
_ST_BASE = const(3)  # the last axis' base value (int16),
_ST_TB = const(4)  # the time stream's t_base
_ST_N = const(5)
_BIG_DT = const(1048576)  # 2**20 ms

# header keys always present (null when the firmware does not know them)
HEADER_KEYS = (
    "firmware", "board", "imu", "rate_hz", "accel_lsb_per_g", "gyro_lsb_per_dps",
    "accel_range_g", "gyro_range_dps", "side", "started", "calibration", "config",
)


class LogFormatError(ValueError):
    """The bytes are not a heeldrop session log (or a newer format)."""


def _record_bytes(rtype, payload):
    n = len(payload)
    b = bytearray(n + _REC_OVERHEAD)
    b[0] = _SYNC0
    b[1] = _SYNC1
    struct.pack_into("<BH", b, 2, rtype, n)
    b[5:5 + n] = payload
    crc32_put(b, 2, 5 + n, 5 + n)  # (no long int on a 32-bit port)
    return b


class LogWriter:
    """Append a session log through write_fn(bytes-like), one whole record per call.

    header_dict: see HEADER_KEYS (missing keys are written as null).
    block_samples: samples per SAMPLES record (1..200); at 100 Hz, 50 means
    a block is handed to write_fn every 0.5 s. Call flush() before flushing
    the file so that at most one second of samples can be lost.
    """

    def __init__(self, write_fn, header_dict, block_samples=50):
        if not 1 <= block_samples <= MAX_BLOCK:
            raise ValueError("block_samples must be 1..%d" % MAX_BLOCK)
        self._write = write_fn
        self._bs = block_samples
        self._s = array("h", bytes(12 * block_samples))  # interleaved ax..gz
        self._t = array("i", bytes(4 * block_samples))  # t_ms per sample
        self._z = array("i", bytes(4 * block_samples))  # stream scratch
        # worst case per sample: 6 axes x 17 bits + time 31 bits + escapes
        self._out = bytearray(_REC_OVERHEAD + _BLOCK_FIXED + 20 * block_samples + 16)
        self._mv = memoryview(self._out)
        self._n = 0
        self._seq0 = 0
        self._next = 0
        self._st = array("i", bytes(4 * _ST_N))  # encoder state (_ST_*)
        self.samples_written = 0
        self.bytes_written = 0
        h = {}
        for k in HEADER_KEYS:
            h[k] = None
        h["calibration"] = {}
        h["config"] = {}
        h["format"] = FORMAT_VERSION
        for k in header_dict:
            h[k] = header_dict[k]
        hb = _record_bytes(REC_HEADER, dumps(h).encode())
        if len(hb) > MAX_PAYLOAD:
            raise ValueError("header too long")
        self._emit(MAGIC + bytes((FORMAT_VERSION,)))
        self._emit(hb)
        self._emit(hb)

    def _emit(self, b):
        self._write(b)
        self.bytes_written += len(b)

    # -- samples (the per-sample path: no allocation) --

    def add_sample(self, seq, t_ms, ax, ay, az, gx, gy, gz):
        """Queue one sample: seq (int, +1 per sample), t_ms (tick in [0, 2**30)),
        raw int16 counts. A block is written when full or when seq jumps."""
        n = self._n
        if n and seq != self._next:
            self.flush()
            n = 0
        if n == 0:
            self._seq0 = seq
        self._next = seq + 1
        self._t[n] = t_ms & _TICKS_MASK
        s = self._s
        j = n * 6
        s[j] = ax
        s[j + 1] = ay
        s[j + 2] = az
        s[j + 3] = gx
        s[j + 4] = gy
        s[j + 5] = gz
        n += 1
        self._n = n
        if n >= self._bs:
            self.flush()

    @micropython.native
    def add_samples(self, seq, ts, src, n):
        """Queue n consecutive samples at once, as n add_sample() calls would:
        seq of the first, ticks ts[0:n] (array('i')), counts src[0:6 * n]
        (array('h'), ax..gz interleaved; a FIFO read's buffer). The copy is
        machine code; nothing is allocated until a block is full."""
        i = 0
        bs = self._bs
        while i < n:
            k = self._n
            if k and seq + i != self._next:
                self.flush()
                k = 0
            if k == 0:
                self._seq0 = seq + i
            take = bs - k
            if take > n - i:
                take = n - i
            _copy_in(self._s, self._t, k, src, ts, i, take)
            i += take
            self._n = k + take
            self._next = seq + i
            if k + take >= bs:
                self.flush()

    def flush(self):
        """Write the queued samples as one SAMPLES record. Returns bytes written."""
        n = self._n
        if not n:
            return 0
        size = self._encode_block(n)
        self._n = 0
        self._write(self._mv[:size])
        self.bytes_written += size
        self.samples_written += n
        return size

    # -- other records (allocate; not per sample) --

    def add_event(self, json_line):
        """One event JSON line (heelcore.events.to_json), without newline."""
        if isinstance(json_line, str):
            json_line = json_line.encode()
        self._emit(_record_bytes(REC_EVENT, json_line))

    def add_gap(self, first_seq, count, reason):
        """count samples from first_seq were lost; reason: GAP_* code or name."""
        if isinstance(reason, str):
            reason = GAP_REASONS.index(reason) if reason in GAP_REASONS else GAP_OTHER
        self._emit(_record_bytes(REC_GAP, struct.pack("<IIB", first_seq & 0xFFFFFFFF, count, reason)))

    def add_side(self, side, t_ms):
        """The user switched to side ("left" or "right") at t_ms."""
        if side not in SIDES:
            raise ValueError("side must be 'left' or 'right'")
        self._emit(_record_bytes(REC_SIDE, struct.pack("<BI", SIDES.index(side), t_ms & _TICKS_MASK)))

    def add_note(self, t_ms, text):
        """A status note, e.g. add_note(t, "flash_low free_kb=120")."""
        self._emit(_record_bytes(REC_NOTE, struct.pack("<I", t_ms & _TICKS_MASK) + text.encode()))

    def close(self, t_ms=0):
        """Flush and write the END record (marks a cleanly closed session)."""
        self.flush()
        self._emit(_record_bytes(REC_END, struct.pack("<II", t_ms & _TICKS_MASK, self.samples_written)))

    # -- block encoder (viper functions below the class) --

    @micropython.native
    def _encode_block(self, n):
        # Encode the n queued samples as a SAMPLES record at the start of
        # self._out; returns the record's size.
        out = self._out
        st = self._st
        z = self._z
        tcode = _enc_time(self._t, z, n, st)
        p = _REC_OVERHEAD - 4  # payload starts after sync, type, length
        struct.pack_into("<IIBBiB", out, p, self._seq0 & 0xFFFFFFFF, self._t[0], n, 0, st[_ST_TB], tcode)
        st[_ST_POS] = p + _BLOCK_FIXED
        st[_ST_ACC] = 0
        st[_ST_NB] = 0
        _put_stream(z, n - 1, tcode & 63, out, st)
        s = self._s
        for a in range(6):
            mc = _enc_axis(s, z, a, n, st)
            struct.pack_into("<hB", out, p + 15 + 3 * a, st[_ST_BASE], mc)
            _put_stream(z, n if mc < 64 else n - 1, mc & 63, out, st)
        end = st[_ST_POS]
        if st[_ST_NB]:
            out[end] = st[_ST_ACC] & 0xFF
            end += 1
        out[0] = _SYNC0
        out[1] = _SYNC1
        struct.pack_into("<BH", out, 2, REC_SAMPLES, end - p)
        crc32_put(out, 2, end, end)  # (no long int on a 32-bit port)
        return end + 4


# -- block encoder, as viper functions --
# Machine-word integers and direct buffer access (ptr8/16/32), so no heap
# object per value: ~40x faster than the same code interpreted on the unix
# port. One source for every interpreter: on CPython the decorator and the
# ptr casts are identities and this is plain Python. Every intermediate stays
# within 31 bits for int16 samples and 30-bit ticks over at most MAX_BLOCK
# values (a time step beyond +-2**20 ms takes the fixed-width code at once,
# and the straight-line time mode is only tried for blocks spanning less than
# 2e6 ms), so a 32-bit board, the 64-bit unix port and CPython write the same
# bytes. ptr16 loads are unsigned: "if v >= 32768: v -= 65536" sign-extends
# them (a no-op on CPython's signed array); the ptr32 values here are never
# negative. Viper in this MicroPython clobbers x with "-x" inside a
# conditional expression, so "0 - x" is written instead.


@micropython.viper
def _copy_in(sb, tb, k: int, src, tsrc, i: int, take: int):
    # samples i .. i+take-1 of (tsrc, src) into block slots k .. k+take-1
    s = ptr16(sb)
    t = ptr32(tb)
    a = ptr16(src)
    b = ptr32(tsrc)
    d = 6 * k
    j = 6 * i
    e = j + 6 * take
    while j < e:
        s[d] = a[j]
        d += 1
        j += 1
    e = i + take
    while i < e:
        t[k] = int(b[i]) & _TICKS_MASK
        k += 1
        i += 1


@micropython.viper
def _bitlen_v(v: int) -> int:
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@micropython.viper
def _code_v(m: int, zmax: int, c0: int, c1: int, c2: int, k0: int) -> int:
    # The cheapest code for m values of maximum zmax: fixed width (32 + w)
    # or Rice k for k = k0-2, k0-1, k0, whose costs beyond the m * (k + 1)
    # unary-stop and low bits are c0, c1, c2 = sum(v >> k).
    w = int(_bitlen_v(zmax))
    best = m * w
    code = 32 + w
    if w > 1:
        k = k0 - 2
        if k >= 0 and k <= _MAX_K and c0 + m * (k + 1) < best:
            best = c0 + m * (k + 1)
            code = k
        k += 1
        if k >= 0 and k <= _MAX_K and c1 + m * (k + 1) < best:
            best = c1 + m * (k + 1)
            code = k
        k += 1
        if k <= _MAX_K and c2 + m * (k + 1) < best:
            code = k
    return code


@micropython.viper
def _enc_time(tb, zb, n: int, st) -> int:
    # The time stream of n ticks tb[0:n] into zb[0:n-1], in whichever mode
    # costs less: 0 = deltas minus their minimum (t_base = that minimum),
    # 1 = zigzag offsets from the block's straight line t0 + i * period
    # (t_base = period in us); jittery timestamps cost about a bit less per
    # sample on the line. t_base goes to st[_ST_TB]; returns mode << 6 | code.
    t = ptr32(tb)
    z = ptr32(zb)
    o = ptr32(st)
    m = n - 1
    dmin = 0
    rel = 0
    big = 0
    p = int(t[0])
    for i in range(1, n):
        c = int(t[i])
        d = ((c - p + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF
        p = c
        rel += d
        if i == 1 or d < dmin:
            dmin = d
        if d > _BIG_DT or d < 0 - _BIG_DT:
            big = 1
    tot = 0
    mx = 0
    p = int(t[0])
    for i in range(1, n):
        c = int(t[i])
        v = ((c - p + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF - dmin
        p = c
        z[i - 1] = v
        tot += v
        if v > mx:
            mx = v
    mode = 0
    per = 0
    gtot = 0
    if mx > 1 and big == 0 and rel > 0 and rel < 2000000:
        per = (rel * 1000 + (m >> 1)) // m
        r = 0
        for i in range(m):
            r += int(z[i]) + dmin
            e = r - ((i + 1) * per + 500) // 1000
            if e >= 0:
                gtot += e << 1
            else:
                gtot += ((0 - e) << 1) - 1
        if gtot < tot and per > 0:
            mode = 1
    if mode == 0:
        o[_ST_TB] = dmin
    else:
        r = 0
        mx = 0
        for i in range(m):
            r += int(z[i]) + dmin
            e = r - ((i + 1) * per + 500) // 1000
            if e >= 0:
                e = e << 1
            else:
                e = ((0 - e) << 1) - 1
            z[i] = e
            if e > mx:
                mx = e
        tot = gtot
        o[_ST_TB] = per
    if mx <= 1:
        return (mode << 6) | (32 + mx)
    if big:
        return 32 + int(_bitlen_v(mx))  # mode 0, fixed width (tot may not fit)
    k0 = int(_bitlen_v(tot // m))
    c0 = 0
    c1 = 0
    c2 = 0
    for i in range(m):
        v = int(z[i])
        if k0 >= 2:
            c0 += v >> (k0 - 2)
        else:
            c0 += v
        if k0 >= 1:
            c1 += v >> (k0 - 1)
        else:
            c1 += v
        c2 += v >> k0
    return (mode << 6) | int(_code_v(m, mx, c0, c1, c2, k0))


@micropython.viper
def _enc_axis(sb, zb, a: int, n: int, st) -> int:
    # Pick the predictor and code for axis a of the n interleaved samples in
    # sb, leave its zigzag residuals in zb and its base value in
    # st[_ST_BASE]. Returns mode << 6 | code. Predictors: 0 = the block mean,
    # 1 = the previous value, 2 = the linear extrapolation of the two before.
    s = ptr16(sb)
    z = ptr32(zb)
    o = ptr32(st)
    j = a
    tot = 0
    for i in range(n):
        v = int(s[j])
        if v >= 32768:
            v -= 65536
        tot += v
        j += 6
    mean = tot // n
    # sizes of the three predictors' residuals (sum of |r|)
    v = int(s[a])
    if v >= 32768:
        v -= 65536
    first = v
    r = v - mean
    a0 = r
    if r < 0:
        a0 = 0 - r
    a1 = 0
    a2 = 0
    p1 = v
    d1 = 0
    j = a + 6
    for i in range(1, n):
        v = int(s[j])
        if v >= 32768:
            v -= 65536
        j += 6
        r = v - mean
        if r < 0:
            r = 0 - r
        a0 += r
        d = v - p1
        if d < 0:
            a1 += 0 - d
        else:
            a1 += d
        r = d
        if i > 1:
            r = d - d1
        if r < 0:
            r = 0 - r
        a2 += r
        d1 = d
        p1 = v
    mode = 0
    zs = a0
    if a1 < zs:
        mode = 1
        zs = a1
    if a2 < zs:
        mode = 2
        zs = a2
    m = n
    base = mean
    if mode != 0:
        m = n - 1
        base = first
    o[_ST_BASE] = base
    if m == 0:
        return (mode << 6) | 32
    k0 = int(_bitlen_v((2 * zs) // m))
    ka = 0
    if k0 >= 2:
        ka = k0 - 2
    kb = 0
    if k0 >= 1:
        kb = k0 - 1
    c0 = 0
    c1 = 0
    c2 = 0
    mx = 0
    p1 = base
    d1 = 0
    j = a
    for i in range(n):
        v = int(s[j])
        if v >= 32768:
            v -= 65536
        j += 6
        if mode == 0:
            r = v - mean
        elif i == 0:
            continue
        else:
            d = v - p1
            r = d
            if mode == 2 and i > 1:
                r = d - d1
            d1 = d
            p1 = v
        if r >= 0:
            q = r << 1
        else:
            q = ((0 - r) << 1) - 1
        if mode == 0:
            z[i] = q
        else:
            z[i - 1] = q
        if q > mx:
            mx = q
        c0 += q >> ka
        c1 += q >> kb
        c2 += q >> k0
    return (mode << 6) | int(_code_v(m, mx, c0, c1, c2, k0))


@micropython.viper
def _put_bits(ob, st, v: int, w: int):
    # append the w (<= 31) low bits of v >= 0 to the stream, LSB first, in
    # chunks of <= 16 bits (the pending bits stay below 2**24)
    out = ptr8(ob)
    o = ptr32(st)
    pos = int(o[_ST_POS])
    acc = int(o[_ST_ACC])
    nb = int(o[_ST_NB])
    while w > 0:
        c = w
        if c > 16:
            c = 16
        acc |= (v & ((1 << c) - 1)) << nb
        nb += c
        v >>= c
        w -= c
        while nb >= 8:
            out[pos] = acc & 0xFF
            pos += 1
            acc >>= 8
            nb -= 8
    o[_ST_POS] = pos
    o[_ST_ACC] = acc
    o[_ST_NB] = nb


@micropython.viper
def _put_stream(zb, m: int, code: int, ob, st):
    # write zb[0:m] with the given code (see the SAMPLES layout above). The
    # fast paths keep the pending bits below 2**30 (at most 7 + 22).
    z = ptr32(zb)
    out = ptr8(ob)
    o = ptr32(st)
    pos = int(o[_ST_POS])
    acc = int(o[_ST_ACC])
    nb = int(o[_ST_NB])
    if code >= 32:
        w = code - 32
        if w == 0:
            return
        if w > 22:
            for i in range(m):
                _put_bits(ob, st, int(z[i]), w)
            return
        for i in range(m):
            acc |= int(z[i]) << nb
            nb += w
            while nb >= 8:
                out[pos] = acc & 0xFF
                pos += 1
                acc >>= 8
                nb -= 8
    else:
        k = code
        mask = (1 << k) - 1
        for i in range(m):
            v = int(z[i])
            q = v >> k
            if q < _ESC_Q and q + k < 22:
                # q one-bits, a zero-bit, then the k low bits
                acc |= (((1 << q) - 1) | ((v & mask) << (q + 1))) << nb
                nb += q + 1 + k
                while nb >= 8:
                    out[pos] = acc & 0xFF
                    pos += 1
                    acc >>= 8
                    nb -= 8
                continue
            o[_ST_POS] = pos
            o[_ST_ACC] = acc
            o[_ST_NB] = nb
            if q < _ESC_Q:
                _put_bits(ob, st, (1 << q) - 1, q + 1)
                _put_bits(ob, st, v & mask, k)
            else:
                w = int(_bitlen_v(v))
                _put_bits(ob, st, 0xFFFF | (w << 16), 21)
                _put_bits(ob, st, v, w)
            pos = int(o[_ST_POS])
            acc = int(o[_ST_ACC])
            nb = int(o[_ST_NB])
    o[_ST_POS] = pos
    o[_ST_ACC] = acc
    o[_ST_NB] = nb

# -- reader --


def _bits(data, bp, endbit, w):
    # w bits at bit bp, LSB first; returns (value, new bp)
    if bp + w > endbit:
        raise ValueError("bit stream too short")
    v = 0
    got = 0
    while got < w:
        off = bp & 7
        take = 8 - off
        if take > w - got:
            take = w - got
        v |= ((data[bp >> 3] >> off) & ((1 << take) - 1)) << got
        got += take
        bp += take
    return v, bp


def _decode_stream(data, bp, endbit, m, code):
    """m values from the bit stream at bit bp; returns (list, new bp)."""
    if code >= 32:
        w = code - 32
        if w == 0:
            return [0] * m, bp
        vals = []
        for _ in range(m):
            v, bp = _bits(data, bp, endbit, w)
            vals.append(v)
        return vals, bp
    if code > _MAX_K:
        raise ValueError("bad stream code")
    k = code
    vals = []
    for _ in range(m):
        q = 0
        while q < _ESC_Q:
            if bp >= endbit:
                raise ValueError("bit stream too short")
            bit = (data[bp >> 3] >> (bp & 7)) & 1
            bp += 1
            if not bit:
                break
            q += 1
        if q < _ESC_Q:
            v, bp = _bits(data, bp, endbit, k)
            v |= q << k
        else:
            w, bp = _bits(data, bp, endbit, 5)
            v, bp = _bits(data, bp, endbit, w)
        vals.append(v)
    return vals, bp


def _unzig(v):
    return -((v + 1) >> 1) if v & 1 else v >> 1


def decode_block(payload):
    """SAMPLES payload -> list of (seq, t_ms, ax, ay, az, gx, gy, gz)."""
    if len(payload) < _BLOCK_FIXED:
        raise ValueError("samples block too short")
    seq0, t0, n, _flags, dmin, tcode = struct.unpack_from("<IIBBiB", payload, 0)
    if n == 0:
        raise ValueError("empty samples block")
    endbit = len(payload) * 8
    bp = _BLOCK_FIXED * 8
    dts, bp = _decode_stream(payload, bp, endbit, n - 1, tcode & 63)
    ts = [t0]
    if tcode >> 6 == 0:
        t = t0
        for d in dts:
            t = (t + d + dmin) & _TICKS_MASK
            ts.append(t)
    elif tcode >> 6 == 1:
        for i in range(1, n):
            ts.append((t0 + _unzig(dts[i - 1]) + (i * dmin + 500) // 1000) & _TICKS_MASK)
    else:
        raise ValueError("bad time mode")
    axes = []
    for a in range(6):
        base, mc = struct.unpack_from("<hB", payload, 15 + 3 * a)
        mode = mc >> 6
        code = mc & 63
        if mode == 0:
            zs, bp = _decode_stream(payload, bp, endbit, n, code)
            col = [base + _unzig(v) for v in zs]
        elif mode < 3:
            zs, bp = _decode_stream(payload, bp, endbit, n - 1, code)
            col = [base]
            p2 = 0
            p1 = base
            for i in range(1, n):
                r = _unzig(zs[i - 1])
                v = p1 + r if (mode == 1 or i == 1) else r + 2 * p1 - p2
                col.append(v)
                p2 = p1
                p1 = v
        else:
            raise ValueError("bad predictor mode")
        for v in col:
            if v < -32768 or v > 32767:
                raise ValueError("sample out of int16 range")
        axes.append(col)
    c0, c1, c2, c3, c4, c5 = axes
    out = []
    for i in range(n):
        out.append(((seq0 + i) & 0xFFFFFFFF, ts[i], c0[i], c1[i], c2[i], c3[i], c4[i], c5[i]))
    return out


def _hex(b):
    return " ".join("%02x" % x for x in b)


def read_header(data):
    """The header dict of a log from its first bytes (None if not yet complete).

    Raises LogFormatError if data does not start like a session log."""
    r = LogReader(data, header_only=True)
    return r.header


class LogReader:
    """Decode a session log from its bytes.

    Attributes: header (dict or None), version, records (list of
    (kind, offset, value) tuples, also what iteration yields), truncated (the
    data ends inside a record), truncated_bytes, skipped_bytes (bytes of bad
    records and garbage passed over), errors (one message per problem),
    complete (an END record was read).
    kinds and values: "header" dict; "samples" list of (seq, t_ms, ax, ay, az,
    gx, gy, gz); "event" str; "side" (side, t_ms); "gap" (first_seq, count,
    reason name); "note" (t_ms, text); "end" (t_ms, samples); "unknown"
    (type, bytes).
    Raises LogFormatError if the data is not a session log at all.
    """

    def __init__(self, data, header_only=False):
        if not isinstance(data, bytes):
            data = bytes(data)
        self.header = None
        self.version = None
        self.records = []
        self.truncated = False
        self.truncated_bytes = 0
        self.skipped_bytes = 0
        self.errors = []
        self.complete = False
        n = len(data)
        if n < 5 and MAGIC.startswith(data[:4]):
            self.truncated = True
            self.truncated_bytes = n
            self.errors.append("file ends inside the file header (%d bytes)" % n)
            return
        if data[:4] == MAGIC and data[4] == FORMAT_VERSION:
            self.version = FORMAT_VERSION
            self._parse(data, 5, header_only)
        else:
            self._damaged_start(data, header_only)
        if self.header is None and not header_only:
            self.errors.append("no readable header record")

    def _damaged_start(self, data, header_only):
        # The 5-byte file header is not HDLG + a version this reader knows:
        # a newer format, a damaged file header, or not a log at all. The
        # records say which: each has its own framing and CRC, and the
        # HEADER record (written twice) carries "format" since this change.
        if len(data) < 5:
            raise LogFormatError("not a heeldrop session log (no HDLG magic)")
        diff = 0
        for i in range(4):
            x = data[i] ^ MAGIC[i]
            while x:
                diff += x & 1
                x >>= 1
        if diff > 2:
            raise LogFormatError("not a heeldrop session log (no HDLG magic)")
        v = data[4]
        self._parse(data, 5, False)
        fmt = self.header.get("format") if self.header is not None else None
        if isinstance(fmt, int) and fmt > FORMAT_VERSION:
            raise LogFormatError("session log format %d, this reader knows format %d (update heeldrop)"
                                 % (fmt, FORMAT_VERSION))
        if not self.records:
            if diff == 0 and v > FORMAT_VERSION:
                raise LogFormatError("session log format %d (or a damaged file header), this reader knows format %d "
                                     "(update heeldrop if the file is new)" % (v, FORMAT_VERSION))
            raise LogFormatError("not a readable session log: damaged file header and no whole record")
        self.version = fmt if isinstance(fmt, int) else FORMAT_VERSION
        self.errors.insert(0, "file header damaged (%s read as %s); records read by their own framing"
                           % (_hex(MAGIC + bytes((FORMAT_VERSION,))), _hex(data[:5])))
        if header_only:
            del self.records[1:]

    def _parse(self, data, p, header_only):
        n = len(data)
        skip_from = -1
        skip_why = ""
        first_header = None
        while p < n:
            if header_only and self.header is not None:
                return
            ok = False
            why = ""
            if data[p] == _SYNC0 and (p + 1 >= n or data[p + 1] == _SYNC1):
                if p + 5 > n:
                    why = "short"
                else:
                    rtype, plen = struct.unpack_from("<BH", data, p + 2)
                    if plen > MAX_PAYLOAD:
                        why = "bad length"
                    elif p + 9 + plen > n:
                        why = "short"
                    else:
                        (c,) = struct.unpack_from("<I", data, p + 5 + plen)
                        if c != crc32(data, p + 2, p + 5 + plen):
                            why = "bad CRC"
                        else:
                            payload = data[p + 5:p + 5 + plen]
                            try:
                                rec = self._decode(rtype, p, payload)
                                ok = True
                            except Exception as e:  # noqa: BLE001 (struct.error on CPython is not a ValueError)
                                why = "undecodable (%s)" % e
            else:
                why = "no sync"
            if ok:
                if skip_from >= 0:
                    self._skipped(skip_from, p, skip_why)
                    skip_from = -1
                if rec[0] == "header":
                    if first_header is None:
                        first_header = payload
                        self.header = rec[2]
                    elif payload == first_header:
                        p += 9 + plen
                        continue
                if rec[0] == "end":
                    self.complete = True
                self.records.append(rec)
                p += 9 + plen
                continue
            if why == "short" and not self._whole_record_after(data, p + 1):
                # the data ends inside this record: power cut while writing
                if skip_from >= 0:
                    self._skipped(skip_from, p, skip_why)
                self.truncated = True
                self.truncated_bytes = n - p
                self.errors.append("file ends inside a record at offset %d (%d bytes lost)" % (p, n - p))
                return
            if skip_from < 0:
                skip_from = p
                skip_why = why if why != "short" else "bad length"
            q = data.find(SYNC, p + 1)
            if q < 0:
                q = n - 1 if data[n - 1] == _SYNC0 and n - 1 > p else n
            p = q
        if skip_from >= 0:
            self._skipped(skip_from, n, skip_why)

    def _whole_record_after(self, data, p):
        # is there a complete record with a good CRC anywhere from p on?
        n = len(data)
        while True:
            p = data.find(SYNC, p)
            if p < 0 or p + 9 > n:
                return False
            rtype, plen = struct.unpack_from("<BH", data, p + 2)
            if plen <= MAX_PAYLOAD and p + 9 + plen <= n:
                (c,) = struct.unpack_from("<I", data, p + 5 + plen)
                if c == crc32(data, p + 2, p + 5 + plen):
                    return True
            p += 1

    def _skipped(self, a, b, why):
        self.skipped_bytes += b - a
        self.errors.append("skipped %d bytes at offset %d (%s)" % (b - a, a, why))

    def _decode(self, rtype, off, payload):
        if rtype == REC_SAMPLES:
            return ("samples", off, decode_block(payload))
        if rtype == REC_EVENT:
            return ("event", off, payload.decode())
        if rtype == REC_HEADER:
            h = loads(payload)
            if not isinstance(h, dict):
                raise ValueError("header is not a JSON object")
            return ("header", off, h)
        if rtype == REC_SIDE:
            s, t = struct.unpack("<BI", payload)
            return ("side", off, (SIDES[s] if s < 2 else "unknown", t))
        if rtype == REC_GAP:
            a, c, r = struct.unpack("<IIB", payload)
            return ("gap", off, (a, c, GAP_REASONS[r] if r < len(GAP_REASONS) else "other"))
        if rtype == REC_NOTE:
            if len(payload) < 4:
                raise ValueError("note too short")
            (t,) = struct.unpack_from("<I", payload, 0)
            return ("note", off, (t, payload[4:].decode()))
        if rtype == REC_END:
            t, c = struct.unpack("<II", payload)
            return ("end", off, (t, c))
        return ("unknown", off, (rtype, payload))

    def __iter__(self):
        return iter(self.records)

    def _values(self, kind):
        return [r[2] for r in self.records if r[0] == kind]

    def samples(self):
        """All samples in file order: list of (seq, t_ms, ax, ay, az, gx, gy, gz)."""
        out = []
        for r in self.records:
            if r[0] == "samples":
                out.extend(r[2])
        return out

    def events(self):
        """The recorded event JSON lines, in file order."""
        return self._values("event")

    def gaps(self):
        """GAP records: list of (first_seq, count, reason name)."""
        return self._values("gap")

    def sides(self):
        """SIDE records: list of (side, t_ms)."""
        return self._values("side")

    def notes(self):
        """NOTE records: list of (t_ms, text)."""
        return self._values("note")
