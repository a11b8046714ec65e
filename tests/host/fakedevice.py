"""A small fake device speaking the heeldrop protocol (heelcore.proto) behind a
pseudo terminal, for the host transport tests. A test helper, not a product:
the real virtual device is `heeldrop sim --pty`.

    dev = FakeDevice(sessions={1: log_bytes}).start()
    t = SerialTransport(dev.path); t.connect() ...
    dev.stop()
"""
import os
import threading
import time
import tty
import hashlib

from heelcore import proto


class FakeDevice:
    def __init__(self, sessions=None, hello=None, version=proto.PROTOCOL_VERSION, banner=b"",
                 silent=False, repl=False, samples=None, rate_hz=100, batch=10, drop_seqs=(), garbage_every=0,
                 die_after_chunks=None, board="fake", corrupt_chunks=(), uid_prefix="0123abcd-5e55101d-",
                 corrupt_frames=(), states=None):
        self.sessions = dict(sessions or {})
        self.uid_prefix = uid_prefix  # the sessions' identity: uid_prefix + id (None: older firmware)
        self.corrupt_frames = set(corrupt_frames)  # chunk numbers whose frame is damaged on the wire (CRC-16)
        self.states = dict(states or {})  # id -> "cut" / "recording" (default "complete")
        self.hello = hello or {"protocol": 1, "firmware": "0.1.0", "board": board, "imu": "mpu6050",
                               "rate_hz": rate_hz, "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5,
                               "max_payload": proto.MAX_PAYLOAD}
        self.version = version
        self.banner = banner
        self.silent = silent
        self.repl = repl
        self.samples = samples  # list of (seq, t_ms, ax..gz) streamed at rate_hz (in batches)
        self.rate_hz = rate_hz
        self.batch = batch
        self.drop_seqs = set(drop_seqs)
        self.garbage_every = garbage_every
        self.die_after_chunks = die_after_chunks
        self.corrupt_chunks = set(corrupt_chunks)  # chunk numbers sent with data not matching its CRC-32
        self.config = {"side": "left", "hold_target_s": 30}
        self.chunks_sent = 0
        self.deleted = []
        self.commands = []
        self.seq = 0
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []
        self.alive = True

    # -- output
    def _send(self, ftype, payload):
        frame = proto.encode_frame(ftype, self.seq, payload)
        self.seq = (self.seq + 1) & 0xFFFF
        if self.version != proto.PROTOCOL_VERSION:
            # re-frame with another version byte: same layout, different meaning
            body = bytes((self.version, ftype)) + frame_body(frame)[2:-2]
            frame = reframe(body)
        self._write(frame)

    def _write(self, data):
        with self._lock:
            if not self.alive:
                return
            try:
                os.write(self.master, data)
            except OSError:
                self.alive = False

    def start(self):
        if self.banner and not self.repl:
            self._write(self.banner)
        if not self.silent and not self.repl:
            self._send(proto.T_HELLO, proto.json_payload(self.hello))
        th = threading.Thread(target=self._rx, daemon=True)
        th.start()
        self._threads.append(th)
        if self.samples:
            th = threading.Thread(target=self._stream, daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def unplug(self):
        with self._lock:
            if self.alive:
                self.alive = False
                os.close(self.master)

    def stop(self):
        self._stop.set()
        self.unplug()
        for th in self._threads:
            th.join(2)
        try:
            os.close(self.slave)
        except OSError:
            pass

    # -- the sample stream
    def _stream(self):
        b = proto.SampleBatch(self.batch)
        t0 = time.monotonic()
        period = 1.0 / self.rate_hz
        n = 0
        for i, s in enumerate(self.samples):
            if self._stop.is_set() or not self.alive:
                return
            if s[0] in self.drop_seqs:
                continue
            if not b.add(*s):
                self._send(proto.T_SAMPLES, bytes(b.payload()))
                n += 1
                if self.garbage_every and n % self.garbage_every == 0:
                    self._write(b"\r\nW (1234) boot: noise \xff\xfe\x03 MicroPython v1.24\r\n>>> ")
                b.clear()
                b.add(*s)
                due = t0 + (i + 1) * period
                d = due - time.monotonic()
                if d > 0:
                    time.sleep(d)
        if b.n:
            self._send(proto.T_SAMPLES, bytes(b.payload()))

    # -- commands
    def _rx(self):
        dec = proto.FrameDecoder()
        while not self._stop.is_set() and self.alive:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            if self.repl:  # a board at the MicroPython REPL without our firmware
                if b"\x02" in data:  # Ctrl-B: the friendly REPL prints its banner
                    self._write(b"\r\n" + (self.banner or b"MicroPython v1.24.1\r\n") + b">>> ")
                elif b"\x03" in data or b"\r" in data:
                    self._write(b"\r\n>>> ")
                else:
                    self._write(bytes(b for b in data if 32 <= b < 127))  # the REPL echoes what is typed
                continue
            if self.silent:
                continue
            for f in dec.feed(data):
                if f.type != proto.T_CMD:
                    continue
                req, name, args = proto.parse_cmd(f.payload)
                self.commands.append(name)
                self._handle(req, name, args)

    def _reply(self, req, result):
        self._send(proto.T_REPLY, proto.reply_payload(req, proto.OK, result))

    def _handle(self, req, name, args):
        if self.version != proto.PROTOCOL_VERSION:
            self._send(proto.T_REPLY, proto.error_reply(req, proto.E_VERSION, "protocol"))
            return
        if name == "hello":
            self._reply(req, self.hello)
        elif name == "list_sessions":
            self._reply(req, {"sessions": [{"id": k, "size": len(v), "started": None, "side": "left", "complete": self.states.get(k, "complete") == "complete",
                                            "state": self.states.get(k, "complete"), "uid": self.uid_prefix + str(k) if self.uid_prefix else None}
                                           for k, v in sorted(self.sessions.items())]})
        elif name == "read_session":
            sid, off, ln = args.get("id"), args.get("offset", 0), min(args.get("length", 1024), proto.MAX_CHUNK)
            if sid not in self.sessions:
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_NOT_FOUND, "no session %s" % sid))
                return
            data = self.sessions[sid]
            if off > len(data):
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_RANGE, "offset"))
                return
            if self.die_after_chunks is not None and self.chunks_sent >= self.die_after_chunks:
                self.unplug()
                return
            self.chunks_sent += 1
            pl = bytearray(proto.chunk_payload(req, sid, off, data[off:off + ln], len(data)))
            if self.chunks_sent in self.corrupt_chunks and len(pl) > 21:
                pl[21] ^= 0x10  # damaged on the device side: the frame is fine, the chunk CRC is not
            if self.chunks_sent in self.corrupt_frames:
                frame = bytearray(proto.encode_frame(proto.T_CHUNK, self.seq, bytes(pl)))
                self.seq = (self.seq + 1) & 0xFFFF
                frame[len(frame) // 2] ^= 0x41 if frame[len(frame) // 2] not in (0xC0 ^ 0x41, 0xDB ^ 0x41) else 0x02
                self._write(bytes(frame))  # line noise: the frame's CRC-16 fails
                return
            self._send(proto.T_CHUNK, bytes(pl))
        elif name == "session_hash":
            sid, ln = args.get("id"), args.get("length", -1)
            if sid not in self.sessions:
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_NOT_FOUND, "no session %s" % sid))
                return
            data = self.sessions[sid]
            if ln > len(data):
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_RANGE, "length"))
                return
            ln = len(data) if ln < 0 else ln
            self._reply(req, {"id": sid, "length": ln, "sha256": hashlib.sha256(data[:ln]).hexdigest(), "size": len(data)})
        elif name == "delete_session":
            sid = args.get("id")
            if sid not in self.sessions:
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_NOT_FOUND, "no session %s" % sid))
                return
            data = self.sessions[sid]
            if ("size" in args and args["size"] != len(data)) or ("sha256" in args and args["sha256"] != hashlib.sha256(data).hexdigest()):
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_MISMATCH, "differs: not deleted"))
                return
            del self.sessions[sid]
            self.deleted.append(sid)
            self._reply(req, {"deleted": sid})
        elif name == "free_space":
            self._reply(req, {"free_kb": 900, "total_kb": 1024, "sessions": len(self.sessions)})
        elif name == "config_get":
            keys = args.get("keys")
            self._reply(req, {k: v for k, v in self.config.items() if not keys or k in keys})
        elif name == "config_set":
            bad = [k for k in args if k not in self.config]
            if bad:
                self._send(proto.T_REPLY, proto.error_reply(req, proto.E_BAD_ARGS, "unknown key %s" % bad[0]))
                return
            self.config.update(args)
            self._reply(req, {"changed": sorted(args)})
        elif name == "side":
            self.config["side"] = args.get("side")
            self._reply(req, {"side": args.get("side")})
        elif name == "calibrate":
            self._reply(req, {"started": True})
            self._send(proto.T_EVENT, b'{"type":"calibrated","t_ms":5,"rep":0}')
        elif name == "set_clock":
            self._reply(req, {"utc": args.get("utc")})
        else:
            self._send(proto.T_REPLY, proto.error_reply(req, proto.E_UNKNOWN_CMD, name))


def frame_body(frame):
    """Unstuffed body (version..crc) of one encoded frame."""
    out = bytearray()
    esc = False
    for b in frame[1:]:
        if esc:
            out.append(b ^ 0x20)
            esc = False
        elif b == proto.ESC:
            esc = True
        else:
            out.append(b)
    return bytes(out)


def reframe(body_wo_crc):
    """Frame an arbitrary body (version, type, seq, len, payload) with a good CRC."""
    from heelcore.crc import crc16
    c = crc16(body_wo_crc, 0, len(body_wo_crc))
    body = body_wo_crc + bytes((c & 0xFF, c >> 8))
    out = bytearray(b"\xc0")
    for b in body:
        if b in proto.RESERVED:
            out += bytes((proto.ESC, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def make_log(n_samples=3000, board="fake", trace=None):
    """A real session log (heelcore.record) of the first n samples of a corpus trace."""
    import os

    from heelcore.record import LogWriter
    from heeldrop.replay import to_counts
    from heeldrop.traceio import read_trace
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tr = read_trace(trace or os.path.join(root, "tests", "traces", "demo_session.csv"))
    buf = bytearray()
    w = LogWriter(buf.extend, {"firmware": "0.1.0", "board": board, "imu": "mpu6050", "rate_hz": 100,
                               "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "side": "left", "started": None})
    cs = [c for c in to_counts(tr) if c is not None][:n_samples]
    for i, c in enumerate(cs):
        w.add_sample(i, *c)
    w.close(cs[-1][0])
    return bytes(buf)
