# The serial protocol, device side (docs/PROTOCOL.md; framing in
# heelcore/proto.py). Streams HELLO, SAMPLES batches, EVENT, STATUS and ERROR
# frames and answers the host's CMD frames with one REPLY (or CHUNK) each.
#
#   link = Link(StdioStream())        # board: USB serial / UART stdio
#   link.attach(app)                  # app.App: commands act on it
#   link.send_hello()
#   ... link.poll(now) every loop pass; the app calls send_event(line),
#   send_status(dict), send_error(code, msg), batch.add(...)/send_batch()
#
# The byte stream is injected: anything with read_into(buf) -> n (never
# blocks; 0 when nothing is there) and write(bytes-like) -> bytes sent.
# StdioStream is the board's (and the unix port's) sys.stdin/sys.stdout;
# tests use MemStream.
#
# A write that sends less than the whole frame (a short count, 0 or None: a
# board's USB serial gives up on a host that does not read) is not retried:
# the loop must go on. The frame is counted as dropped (tx_dropped; the
# samples it carried in tx_dropped_samples), reported in each STATUS; the
# part of it that went out is cut off by the next frame's 0xC0, which the
# host's decoder counts as one bad frame, nothing more (PROTOCOL.md).
#
# Input that is not a frame (REPL noise, a terminal's typing, boot text) is
# ignored by the decoder, which resynchronises on the next 0xC0. A 0x03
# byte (Ctrl-C) raises KeyboardInterrupt: frames never contain one (byte
# stuffing), so it is always a real Ctrl-C (mpremote sends \r\x03\x03 before
# its raw REPL). On a board the port's own keyboard interrupt usually gets
# there first; on the unix port behind a raw pty this check is what stops
# the app.
#
# Memory: one output buffer for the largest usual frame (a CHUNK: 2.2 KB),
# the decoder's 1.5 KB and a 256-byte input buffer, allocated once. SAMPLES frames are
# encoded into the output buffer without allocation; replies and events
# allocate their payloads (rare).
from heelcore import proto
from heelcore.proto import (
    E_BAD_ARGS, E_BAD_FRAME, E_BUSY, E_INTERNAL, E_IO, E_MISMATCH, E_NOT_FOUND, E_RANGE, E_UNKNOWN_CMD,
    E_VERSION, MAX_CHUNK, MAX_PAYLOAD, OK, PROTOCOL_VERSION, T_CHUNK, T_CMD, T_ERROR, T_EVENT,
    T_GAP, T_HELLO, T_REPLY, T_SAMPLES, T_STATUS, FrameDecoder, SampleBatch, encode_frame, max_frame_size,
)
from heelcore.record import read_header
from json import dumps as _dumps
from heelcore.ticks import ticks_add, ticks_diff

try:
    import micropython
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import micropython

_CTRL_C = 3
_MAX_IN = 1536  # largest CMD payload taken
_OUT_PAYLOAD = MAX_CHUNK + 64  # payload that fits the preallocated output buffer

class CommandError(Exception):
    """A command failed with a protocol error code (proto.E_*)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class StdioStream:
    """sys.stdin / sys.stdout as a non-blocking byte stream (select.poll)."""

    def __init__(self, inp=None, out=None):
        import select
        import sys

        self._in = inp if inp is not None else sys.stdin.buffer
        self._out = out if out is not None else sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._one = bytearray(1)
        self._ipoll = getattr(self._poll, "ipoll", None)
        self.eof = False

    def _ready(self):
        if self._ipoll is not None:
            for _ in self._ipoll(0):
                return True
            return False
        return bool(self._poll.poll(0))

    def read_into(self, buf):
        if self.eof:
            return 0
        n = 0
        one = self._one
        while n < len(buf) and self._ready():
            try:
                k = self._in.readinto(one)
            except OSError:  # the port went away (pty closed: EIO)
                k = 0
            if not k:
                self.eof = True  # the other end closed: stop polling
                break
            buf[n] = one[0]
            n += 1
            if one[0] == _CTRL_C:
                # stop here: what follows (mpremote's Ctrl-A for the raw
                # REPL) stays unread, for the REPL that takes over
                break
        return n

    def write(self, data):
        # the count the port's write returns: a board's USB CDC write gives
        # up after MICROPY_HW_USB_CDC_TX_TIMEOUT (500 ms on rp2) when the
        # host does not read, and drops what did not fit (a short count); a
        # non-blocking stream that would block returns None
        try:
            return self._out.write(data)
        except OSError:
            return 0  # nobody listening (closed pipe): the app must go on


class MemStream:
    """In-memory stream for tests: feed(bytes) what the host sends; .out
    collects what the device wrote."""

    def __init__(self):
        self.inbox = bytearray()
        self.out = bytearray()

    def feed(self, data):
        self.inbox += data

    def read_into(self, buf):
        n = min(len(buf), len(self.inbox))
        buf[:n] = self.inbox[:n]
        self.inbox = self.inbox[n:]
        return n

    def write(self, data):
        self.out += data
        return len(data)


class Link:
    def __init__(self, stream, app=None, board=None, batch_n=10):
        self.stream = stream
        self.app = app
        self.board = board
        # Host commands are small (config_set with every key ~1 KB); the
        # largest frame the device sends is a CHUNK (MAX_CHUNK + 20 bytes).
        # Bigger payloads (none today) get a buffer of their own.
        self.dec = FrameDecoder(_MAX_IN)
        self._out = bytearray(max_frame_size(_OUT_PAYLOAD))
        self._mv = memoryview(self._out)
        self._in = bytearray(256)
        self._inv = memoryview(self._in)
        self._seq = 0
        self.batch = SampleBatch(batch_n)
        self.streaming = True  # SAMPLES frames on (the host reads them or ignores them)
        self.commands = 0
        self._bad_seen = 0
        self._next_err = 0
        self.frames_out = 0
        self.tx_dropped = 0  # frames the stream's write did not take whole (send)
        self.tx_dropped_samples = 0  # the samples in those frames (send_batch)
        self._last_cmd = None  # payload of the last state-changing CMD (proto.REPLAYED)
        self._last_reply = None  # and the REPLY payload sent for it
        self.replayed = 0

    def attach(self, app):
        self.app = app

    def set_batch(self, n):
        if n != self.batch.max_n:
            self.batch = SampleBatch(n)

    # ------------------------------------------------------------ output
    @micropython.native
    def send(self, ftype, payload):
        """Frame payload and write it; False (and counted in tx_dropped)
        when the stream took less than the whole frame."""
        buf = self._out
        mv = self._mv
        if len(payload) > _OUT_PAYLOAD:  # rare (none today): a buffer of its own
            buf = bytearray(max_frame_size(len(payload)))
            mv = memoryview(buf)
        n = encode_frame(ftype, self._seq, payload, buf)
        self._seq = (self._seq + 1) & 0xFFFF
        self.frames_out += 1
        if self.stream.write(mv[:n]) != n:
            # short, 0 or None; its seq is spent all the same: the host sees
            # the frame missing
            self.tx_dropped += 1
            return False
        return True

    def send_batch(self):
        b = self.batch
        if b.n:
            if not self.send(T_SAMPLES, b.payload()):
                self.tx_dropped_samples += b.n
            b.clear()

    @micropython.native
    def stream_samples(self, seq, ts, src, n):
        """n samples from arrays (seq of the first, ticks ts, counts src, as
        SampleBatch.add_many) into SAMPLES frames, each sent when full."""
        b = self.batch
        i = 0
        while i < n:
            i += b.add_many(seq + i, ts, src, i, n)
            if i < n or b.n >= b.max_n:
                self.send_batch()

    def send_event(self, line):
        self.send_batch()  # samples before the event they explain
        self.send(T_EVENT, line.encode() if isinstance(line, str) else line)

    def send_gap(self, first_seq, count, reason):
        """The device lost samples itself (FIFO overflow, I2C error, sensor
        unplugged): after the samples before them, so the host can tell
        these from samples lost on the link."""
        self.send_batch()
        self.send(T_GAP, proto.gap_payload(first_seq, count, reason))

    def send_status(self, d):
        # once a second and at each phase change: the port's C json (20x
        # faster than heelcore's minijson, which keeps the log and event
        # text identical on every interpreter; a STATUS is only displayed)
        d["tx_dropped"] = self.tx_dropped  # frames the serial port did not take (send)
        d["tx_dropped_samples"] = self.tx_dropped_samples
        self.send(T_STATUS, _dumps(d, separators=(",", ":")).encode())

    def send_error(self, code, message):
        self.send(T_ERROR, proto.error_payload(code, message))

    def send_hello(self):
        if self.app is not None:
            self.send(T_HELLO, proto.json_payload(self.app.hello()))

    # ------------------------------------------------------------ input
    def poll(self, now):
        """Read what arrived, answer complete commands; returns the number of
        bytes read. Raises KeyboardInterrupt on a Ctrl-C byte."""
        # kept this small (its frame fits the C stack: no heap frame on each
        # idle poll); the work is in _input
        n = self.stream.read_into(self._in)
        return self._input(n, now) if n else 0

    def _input(self, n, now):
        data = self._inv[:n]
        for i in range(n):
            if data[i] == _CTRL_C:
                raise KeyboardInterrupt
        for f in self.dec.feed(bytes(data)):
            self._frame(f)
        bad = self.dec.bad_frames
        if bad != self._bad_seen and ticks_diff(now, self._next_err) >= 0:
            self._bad_seen = bad
            self._next_err = ticks_add(now, 1000)
            self.send_error(E_BAD_FRAME, "bad frames received: %d" % bad)
        return n

    def _frame(self, f):
        if f.type != T_CMD:
            return  # the device ignores frame types it does not take
        if f.version != PROTOCOL_VERSION:
            req = (f.payload[0] | (f.payload[1] << 8)) if len(f.payload) >= 2 else 0
            self.send(T_REPLY, proto.error_reply(
                req, E_VERSION, "protocol version %d not supported (device speaks %d)" % (f.version, PROTOCOL_VERSION)))
            return
        try:
            req, name, args = proto.parse_cmd(f.payload)
        except (ValueError, UnicodeError) as e:
            req = (f.payload[0] | (f.payload[1] << 8)) if len(f.payload) >= 2 else 0
            self.send(T_REPLY, proto.error_reply(req, E_BAD_ARGS, "malformed command: %s" % (e,)))
            return
        if self._last_cmd is not None and f.payload == self._last_cmd:
            # the host retried a command whose reply it lost: same answer,
            # the command is not run twice (a retried start is not "busy")
            self.replayed += 1
            self.send(T_REPLY, self._last_reply)
            return
        self.commands += 1
        try:
            res = self.handle(req, name, args)
        except CommandError as e:
            out = proto.error_reply(req, e.code, e.message)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # a bug in a handler must not stop the app
            out = proto.error_reply(req, E_INTERNAL, "%s: %s" % (type(e).__name__, e))
        else:
            if res is None:
                return
            out = proto.reply_payload(req, OK, res)
        if name in proto.REPLAYED:
            self._last_cmd = bytes(f.payload)
            self._last_reply = out
        self.send(T_REPLY, out)

    # ------------------------------------------------------------ commands
    def handle(self, req, name, args):
        """Run command name; returns the REPLY result (None when the answer
        was sent otherwise, e.g. a CHUNK). Raises CommandError."""
        fn = getattr(self, "_c_" + name, None)
        if fn is None or name not in proto.COMMANDS:
            raise CommandError(E_UNKNOWN_CMD, "unknown command '%s'" % (name,))
        app = self.app
        if app is None:
            raise CommandError(E_BUSY, "the app is not running")
        return fn(req, args)

    def _c_hello(self, req, args):
        return self.app.hello()

    def _c_start(self, req, args):
        _only(args, ("side", "record"))
        side = args.get("side")
        if side is not None and side not in ("left", "right"):
            raise CommandError(E_BAD_ARGS, "side must be 'left' or 'right', got %r" % (side,))
        record = args.get("record", True)
        if not isinstance(record, bool):
            raise CommandError(E_BAD_ARGS, "record must be true or false, got %r" % (record,))
        app = self.app
        if app.running:
            raise CommandError(E_BUSY, "already running (session %s); send stop first" % (app.session,))
        sid = app.start(side, record)
        return {"session": sid}

    def _c_stop(self, req, args):
        return self.app.stop()

    def _c_side(self, req, args):
        _only(args, ("side",))
        side = args.get("side")
        if side not in ("left", "right"):
            raise CommandError(E_BAD_ARGS, "side must be 'left' or 'right', got %r" % (side,))
        return {"side": self.app.switch_side(side)}

    def _c_calibrate(self, req, args):
        self.app.calibrate()
        return {"started": True}

    def _c_config_get(self, req, args):
        _only(args, ("keys",))
        keys = args.get("keys")
        if keys is not None and not isinstance(keys, list):
            raise CommandError(E_BAD_ARGS, "keys must be a list of setting names")
        try:
            return self.app.config_get(keys)
        except ValueError as e:
            raise CommandError(E_BAD_ARGS, str(e))

    def _c_config_set(self, req, args):
        if not args:
            raise CommandError(E_BAD_ARGS, "config_set needs at least one KEY: VALUE")
        try:
            changed = self.app.config_set(args)
        except ValueError as e:  # heelcore.config.ConfigError is a ValueError
            raise CommandError(E_BAD_ARGS, str(e))
        except OSError as e:
            raise CommandError(E_IO, "config saved in memory only: %s" % (e,))
        return {"changed": changed}

    def _c_set_clock(self, req, args):
        _only(args, ("utc",))
        try:
            return {"utc": self.app.set_clock(args.get("utc"))}
        except ValueError as e:
            raise CommandError(E_BAD_ARGS, str(e))

    def _store(self):
        st = self.app.store
        if st is None:
            raise CommandError(E_IO, "this device has no session store")
        return st

    def _c_list_sessions(self, req, args):
        st = self._store()
        try:
            items = st.list()
        except OSError as e:
            raise CommandError(E_IO, "cannot list sessions: %s" % (e,))
        out = []
        for it in items:
            sid = it["id"]
            started = side = uid = None
            try:
                h = read_header(st.read_chunk(sid, 0, 2048))
            except (OSError, ValueError):
                h = None
            if h is not None:
                started = h.get("started")
                side = h.get("side")
                uid = h.get("uid")
            state = it.get("state") or ("complete" if it.get("closed") else "cut")
            out.append({"id": sid, "size": it["size"], "started": started, "side": side, "uid": uid,
                        "state": state, "complete": state == "complete"})
        return {"sessions": out}

    def _sid_arg(self, args):
        sid = args.get("id")
        if isinstance(sid, bool) or not isinstance(sid, int) or sid < 0:
            raise CommandError(E_BAD_ARGS, "id must be a session number, got %r" % (sid,))
        return sid

    def _c_read_session(self, req, args):
        _only(args, ("id", "offset", "length"))
        sid = self._sid_arg(args)
        off = args.get("offset", 0)
        ln = args.get("length", MAX_CHUNK)
        if isinstance(off, bool) or not isinstance(off, int) or off < 0:
            raise CommandError(E_BAD_ARGS, "offset must be a byte offset >= 0, got %r" % (off,))
        if isinstance(ln, bool) or not isinstance(ln, int) or not 0 <= ln <= MAX_CHUNK:
            raise CommandError(E_BAD_ARGS, "length must be 0..%d, got %r" % (MAX_CHUNK, ln))
        st = self._store()
        self._flush_current(sid)
        try:
            total = st.size(sid)
            if off > total:
                raise CommandError(E_RANGE, "offset %d beyond the end of session %d (%d bytes)" % (off, sid, total))
            data = st.read_chunk(sid, off, ln)
        except OSError as e:
            if e.args and e.args[0] == 2:
                raise CommandError(E_NOT_FOUND, "no session %d" % sid)
            raise CommandError(E_IO, "cannot read session %d: %s" % (sid, e))
        self.send(T_CHUNK, proto.chunk_payload(req, sid, off, data, total))
        return None

    def _flush_current(self, sid):
        app = self.app
        if app.log is not None and app.session == sid:
            app.log.poll(app.now())  # hand what is recorded so far to the file

    def _c_session_hash(self, req, args):
        _only(args, ("id", "length"))
        sid = self._sid_arg(args)
        ln = args.get("length", -1)
        if isinstance(ln, bool) or not isinstance(ln, int) or ln < -1:
            raise CommandError(E_BAD_ARGS, "length must be a byte count >= 0 (or absent: the whole file), got %r" % (ln,))
        st = self._store()
        self._flush_current(sid)
        try:
            d, size = st.digest(sid, ln)
        except ValueError as e:
            raise CommandError(E_RANGE, str(e))
        except OSError as e:
            if e.args and e.args[0] == 2:
                raise CommandError(E_NOT_FOUND, "no session %d" % sid)
            raise CommandError(E_IO, "cannot read session %d: %s" % (sid, e))
        return {"id": sid, "length": size if ln < 0 else ln, "sha256": d, "size": size}

    def _c_delete_session(self, req, args):
        _only(args, ("id", "size", "sha256"))
        sid = self._sid_arg(args)
        size = args.get("size")
        sha = args.get("sha256")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise CommandError(E_BAD_ARGS, "size must be an integer >= 0, got %r" % (size,))
        if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
            raise CommandError(E_BAD_ARGS, "sha256 must be 64 hex digits, got %r" % (sha,))
        app = self.app
        if app.log is not None and app.session == sid:
            raise CommandError(E_BUSY, "session %d is being recorded; stop first" % sid)
        st = self._store()
        try:
            st.delete(sid, size, sha)
        except ValueError as e:
            raise CommandError(E_MISMATCH, str(e))
        except OSError as e:
            if e.args and e.args[0] == 2:
                raise CommandError(E_NOT_FOUND, "no session %d" % sid)
            if e.args and e.args[0] == 16:
                raise CommandError(E_BUSY, "session %d is being recorded; stop first" % sid)
            raise CommandError(E_IO, "cannot delete session %d: %s" % (sid, e))
        return {"deleted": sid}

    def _c_free_space(self, req, args):
        st = self._store()
        try:
            free = st.free_bytes()
            total = st.total_bytes()
            n = len(st.list())
        except OSError as e:
            raise CommandError(E_IO, "cannot read the flash: %s" % (e,))
        return {"free_kb": free // 1024, "total_kb": total // 1024, "sessions": n}


def _only(args, known):
    for k in args:
        if k not in known:
            raise CommandError(E_BAD_ARGS, "unknown argument '%s' (known: %s)" % (k, ", ".join(known)))
