"""The host side of the serial protocol (docs/PROTOCOL.md), library first.

    from heeldrop.transport import SerialTransport, FileTransport, open_device

    t = SerialTransport("/dev/ttyACM0")      # DTR/RTS low before opening: no ESP32 reset
    hello = t.connect()                      # HELLO checked: firmware there, protocol version
    t.command("side", {"side": "right"})     # -> result dict; DeviceError on an error reply
    f = t.next_frame(timeout=1.0)            # SAMPLES/EVENT/STATUS frames, or None
    t.stats()                                # garbage bytes, bad frames, resyncs, sample gaps
    t.close()

Framing is heelcore.proto's (the firmware's own code). A Transport reads
frames from a byte stream that may also carry boot messages, REPL text and
damaged bytes: the decoder resynchronises on the next frame and counts what
it skipped. Samples carry sequence numbers; SampleTracker finds the gaps.

Errors are typed, all TransportError (a UserError: the CLI prints one line):
PortError (no/busy/wrong port), NoFirmwareError (nothing speaks the protocol),
VersionError (older/newer protocol), DisconnectedError (unplugged),
CommandTimeout (no answer), DeviceError (an error REPLY: .name, .status).
"""
import collections
import errno
import os
import time

from heelcore import proto
from heeldrop.errors import UserError

# USB vendor (and product) ids of the boards and USB-serial chips we know.
USB_IDS = (
    (0x2E8A, None, "Raspberry Pi RP2040/RP2350 (Pico)", True),
    (0x303A, None, "Espressif ESP32 (native USB)", True),
    (0x10C4, 0xEA60, "Silicon Labs CP210x USB-serial (ESP32 DevKit)", True),
    (0x1A86, 0x7523, "WCH CH340 USB-serial (ESP32 boards)", True),
    (0x1A86, 0x55D4, "WCH CH9102 USB-serial (ESP32 boards)", True),
    (0x0403, None, "FTDI USB-serial", True),
)

NO_FIRMWARE_HINT = "flash it with `heeldrop deploy`"
DAMAGED = object()  # command(watch_bad=...): the answer arrived damaged


class TransportError(UserError):
    """Any problem talking to the device (one line for the user)."""

    def __init__(self, message, code=3):
        super().__init__(message, code)


class PortError(TransportError):
    """The port cannot be found or opened (wrong path, busy, no permission)."""

    def __init__(self, message):
        super().__init__(message, 2)


class NoFirmwareError(TransportError):
    pass


class VersionError(TransportError):
    pass


class DisconnectedError(TransportError):
    def __init__(self, message):
        super().__init__(message, 4)


class CommandTimeout(TransportError):
    def __init__(self, message):
        super().__init__(message, 4)


class DeviceError(TransportError):
    """The device answered a command with an error status."""

    def __init__(self, command, status, result):
        self.command = command
        self.status = status
        self.result = result if isinstance(result, dict) else {}
        self.name = self.result.get("error") or (
            proto.ERROR_NAMES[status] if status < len(proto.ERROR_NAMES) else "error %d" % status)
        msg = self.result.get("message") or ""
        if status == proto.E_UNKNOWN_CMD:
            text = "the firmware does not know the command %r (older firmware): update it with `heeldrop deploy`" % command
        else:
            text = "%s: %s%s" % (command, self.name, (": " + msg) if msg else "")
        super().__init__(text, 1)


class SampleTracker:
    """Counts samples by sequence number and lists the gaps: samples lost on
    the link (lost, gaps) apart from those the device itself lost (sensor
    FIFO overflow, I2C errors, unplugged: announced by GAP frames before the
    samples that follow them; device_lost, device_gaps)."""

    def __init__(self):
        self.received = 0
        self.lost = 0
        self.gaps = []  # (first missing seq, count) lost on the link
        self.device_lost = 0
        self.device_gaps = []  # (first seq, count, reason) the device announced
        self.restarts = 0  # the sequence went back (device restarted)
        self.next = None
        self._announced = []  # device gaps not yet matched by a jump in seq

    def device_gap(self, first, count, reason=0):
        """A GAP frame: the device lost count samples from seq first."""
        if count <= 0:
            return
        self.device_gaps.append((first, count, reason))
        self.device_lost += count
        self._announced.append((first & 0xFFFFFFFF, count))
        del self._announced[:-64]

    def _link_part(self, a, d):
        # samples of the seq range [a, a + d) the device did not announce as its own loss
        own = 0
        keep = []
        for first, count in self._announced:
            lo = (first - a) & 0xFFFFFFFF
            if lo >= 0x80000000:
                lo -= 1 << 32  # began before a
            hi = lo + count
            own += max(0, min(hi, d) - max(lo, 0))
            if hi > d:
                keep.append((first, count))
        self._announced = keep
        return max(0, d - own)

    def feed(self, samples):
        for s in samples:
            seq = s[0]
            if self.next is not None and seq != self.next:
                d = (seq - self.next) & 0xFFFFFFFF
                if d < 0x80000000:
                    k = self._link_part(self.next, d)
                    if k:
                        self.gaps.append((self.next, k))
                        self.lost += k
                else:
                    self.restarts += 1
            self.next = (seq + 1) & 0xFFFFFFFF
            self.received += 1

    def describe(self, limit=5):
        out = []
        if not self.gaps:
            out.append("no samples lost on the link")
        else:
            shown = ", ".join("%d at seq %d" % (n, a) for a, n in self.gaps[:limit])
            more = " and %d more gaps" % (len(self.gaps) - limit) if len(self.gaps) > limit else ""
            out.append("%d samples lost on the link in %d gap%s (%s%s)" % (
                self.lost, len(self.gaps), "" if len(self.gaps) == 1 else "s", shown, more))
        if self.device_gaps:
            from heelcore.record import GAP_REASONS
            why = sorted(set(GAP_REASONS[r] if r < len(GAP_REASONS) else "other" for _, _, r in self.device_gaps))
            out.append("the sensor itself lost %d samples in %d gap%s (%s; in the device's log too)" % (
                self.device_lost, len(self.device_gaps), "" if len(self.device_gaps) == 1 else "s",
                ", ".join(w.replace("_", " ") for w in why)))
        return "; ".join(out)


def _printable(data, limit=70):
    text = bytes(data).decode("utf-8", "replace")
    k = text.rfind("MicroPython v")  # a REPL banner says the most: show it
    if k >= 0:
        text = text[k:].split("\n")[0]
    text = " ".join("".join(c if (c.isprintable() and c != "\ufffd") else " " for c in text).split())
    return text[-limit:]


class Transport:
    """Frames over some byte stream. Subclasses supply _read(timeout) and _write(data)."""

    name = "device"

    def __init__(self):
        self.decoder = proto.FrameDecoder()
        self.samples = SampleTracker()
        self.hello = None
        self.tx_seq = 0
        self.req_id = int.from_bytes(os.urandom(2), "little") or 1
        self.eof = False
        self.rx_bytes = 0
        self.rx_tail = bytearray()  # the last bytes received (to show what a non-heeldrop board printed)
        self.device_errors = []  # (code, message) from ERROR frames
        self.other_versions = collections.Counter()  # frames of protocol versions we do not speak
        self._pending = collections.deque()  # frames decoded, not yet looked at
        self._backlog = collections.deque(maxlen=20000)  # frames set aside while awaiting a reply
        self.timeouts = 0
        self.retries = 0
        # frames (and the samples in them) the device's own serial write
        # could not send while this host listened: STATUS tx_dropped,
        # tx_dropped_samples, counted from the first STATUS (device_tx)
        self.tx_dropped = 0
        self.tx_dropped_samples = 0
        self._tx_prev = None

    # -- byte level (subclasses)
    def _read(self, timeout):
        raise NotImplementedError

    def _write(self, data):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- frames
    def send(self, ftype, payload):
        frame = proto.encode_frame(ftype, self.tx_seq, payload)
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF
        self._write(frame)

    def _read_frames(self, timeout):
        data = self._read(timeout)
        if not data:
            return
        self.rx_bytes += len(data)
        self.rx_tail += data
        if len(self.rx_tail) > 4096:
            del self.rx_tail[:-2048]
        for f in self.decoder.feed(data):
            if f.version != proto.PROTOCOL_VERSION:
                self.other_versions[f.version] += 1
                continue
            t = f.type
            try:
                if t == proto.T_SAMPLES:
                    f.samples = proto.parse_samples(f.payload)
                    self.samples.feed(f.samples)
                elif t == proto.T_SAMPLES_PACKED:
                    f.samples = proto.parse_samples_packed(f.payload)
                    self.samples.feed(f.samples)
                elif t == proto.T_GAP:
                    f.gap = proto.parse_gap(f.payload)
                    self.samples.device_gap(*f.gap)
                elif t == proto.T_HELLO:
                    self.hello = proto.parse_json(f.payload)
                elif t == proto.T_STATUS:
                    f.status = proto.parse_json(f.payload)
                    self.device_tx(f.status)
                elif t == proto.T_ERROR:
                    self.device_errors.append(proto.parse_error(f.payload))
                    del self.device_errors[:-20]
            except (ValueError, IndexError, UnicodeError) as e:
                # a frame with a good CRC but a payload we cannot read: count it
                self.decoder.bad_frames += 1
                f.bad = str(e)
            self._pending.append(f)

    def device_tx(self, d):
        """A STATUS's tx_dropped / tx_dropped_samples: counted since boot
        on the device; here what it dropped since the first STATUS this host
        read (a device that restarted counts from 0 again)."""
        if not isinstance(d, dict):
            return
        fr, sm = d.get("tx_dropped"), d.get("tx_dropped_samples")
        if not isinstance(fr, int) or not isinstance(sm, int) or isinstance(fr, bool) or isinstance(sm, bool):
            return  # older firmware: it does not say
        prev = self._tx_prev
        if prev is not None:
            if fr >= prev[0] and sm >= prev[1]:
                self.tx_dropped += fr - prev[0]
                self.tx_dropped_samples += sm - prev[1]
            else:  # the device restarted: its counts began again
                self.tx_dropped += fr
                self.tx_dropped_samples += sm
        self._tx_prev = (fr, sm)

    def next_frame(self, timeout=1.0):
        """The next frame, or None when none arrived within timeout (or the stream ended)."""
        if self._backlog:
            return self._backlog.popleft()
        return self._next_new(timeout)

    def _next_new(self, timeout, watch_bad=None):
        """The next frame decoded, or None after timeout; with watch_bad (a
        frame type), DAMAGED as soon as a damaged frame of that type (or of
        chunk size) is seen."""
        if self._pending:
            return self._pending.popleft()
        deadline = time.monotonic() + timeout
        d = self.decoder
        bad0 = d.bad_frames
        while True:
            self._read_frames(max(0.0, deadline - time.monotonic()))
            if self._pending:
                return self._pending.popleft()
            if watch_bad is not None and d.bad_frames != bad0:
                bad0 = d.bad_frames
                if d.last_bad_type == watch_bad or d.last_bad_len > 600:
                    return DAMAGED
            if self.eof or time.monotonic() >= deadline:
                return None

    def discard_backlog(self):
        """Forget the frames set aside while commands were answered (e.g. after a download)."""
        self._backlog.clear()

    def command(self, name, args=None, timeout=1.0, retries=2, on_frame=None, watch_bad=None):
        """Send a command; return its result (dict), or the CHUNK dict for read_session.

        Frames that are not the answer are passed to on_frame (or dropped).
        Retries after `timeout` s without an answer (the device answers a
        retried command as the first time: PROTOCOL.md). With watch_bad (a
        frame type, e.g. T_CHUNK): returns DAMAGED at once when a damaged
        frame of that type arrives, so the caller asks again without waiting."""
        self.req_id = (self.req_id + 1) & 0xFFFF
        req = self.req_id
        payload = proto.cmd_payload(req, name, args)
        for attempt in range(retries + 1):
            if attempt:
                self.retries += 1
            self.send(proto.T_CMD, payload)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                f = self._next_new(left, watch_bad)
                if f is DAMAGED:
                    return DAMAGED
                if f is None:
                    if self.eof:
                        raise DisconnectedError("%s: the stream ended while waiting for %s" % (self.name, name))
                    break
                if f.type == proto.T_REPLY:
                    try:
                        rreq, status, result = proto.parse_reply(f.payload)
                    except ValueError:
                        continue
                    if rreq != req:
                        continue  # a late answer to an earlier try
                    if status == proto.OK:
                        return result if result is not None else {}
                    if status == proto.E_VERSION:
                        raise VersionError("%s: the firmware does not speak protocol %d: %s" % (
                            self.name, proto.PROTOCOL_VERSION, _versions_hint()))
                    raise DeviceError(name, status, result)
                if f.type == proto.T_CHUNK:
                    try:
                        c = proto.parse_chunk(f.payload)
                    except ValueError:
                        self.decoder.bad_frames += 1
                        continue
                    if c["req"] == req:
                        return c
                    continue
                if name == "hello" and f.type == proto.T_HELLO and not getattr(f, "bad", None):
                    return self.hello  # an unsolicited HELLO (the app starting) answers it as well
                if on_frame is not None:
                    on_frame(f)
                else:
                    self._backlog.append(f)  # next_frame() hands it out later
            self.timeouts += 1
        raise CommandTimeout("%s: no answer to '%s' after %d tries of %.1f s" % (self.name, name, retries + 1, timeout))

    def connect(self, timeout=3.0, on_frame=None):
        """Wait for HELLO (asking with the hello command) and check the protocol version.

        Returns the HELLO dict; NoFirmwareError or VersionError otherwise."""
        deadline = time.monotonic() + timeout
        asked = 0
        while self.hello is None and time.monotonic() < deadline:
            if asked == 1:
                # no answer: a Ctrl-B makes a MicroPython REPL (friendly or raw) print its banner, so the
                # message can say what is there; our firmware ignores the byte (it is not in a frame)
                self._write(b"\x02")
            asked += 1
            try:
                r = self.command("hello", timeout=min(1.0, max(0.05, deadline - time.monotonic())), retries=0,
                                 on_frame=on_frame)
                if isinstance(r, dict) and "protocol" in r:
                    self.hello = r
            except CommandTimeout:
                pass
            except DisconnectedError:
                if self.eof:  # a recorded stream that ended
                    break
                raise
            except DeviceError:
                break
        if self.hello is None:
            if self.other_versions:
                v = max(self.other_versions)
                raise VersionError("%s: the firmware speaks protocol %d, this heeldrop speaks %d: %s" % (
                    self.name, v, proto.PROTOCOL_VERSION, _versions_hint(v)))
            said = _printable(self.rx_tail)
            text = bytes(self.rx_tail).decode("utf-8", "replace")
            # a REPL prompt, or our own command echoed back (a REPL echoes what is typed; the name
            # "hello" is in clear in the CMD frame), or readline's erase-line sequence
            repl = ">>>" in text or "raw REPL" in text or "\x1b[K" in text or "hello" in text
            if "MicroPython v" not in said and repl:
                raise NoFirmwareError(
                    "no heeldrop firmware answered on %s: a MicroPython REPL is there (the heeldrop app is not "
                    "running); reset the board (mpremote connect %s reset) or flash it with `heeldrop deploy`" % (
                        self.name, self.name))
            raise NoFirmwareError("no heeldrop firmware answered on %s%s; %s" % (
                self.name, (" (it printed: %r)" % said) if said else " (it printed nothing)", NO_FIRMWARE_HINT))
        check_hello(self.hello, self.name)
        return self.hello

    def stats(self):
        d = self.decoder
        return {"rx_bytes": self.rx_bytes, "garbage_bytes": d.garbage_bytes, "bad_frames": d.bad_frames,
                "resyncs": d.resyncs, "missed_frames": d.missed, "samples": self.samples.received,
                "samples_lost": self.samples.lost, "sample_gaps": len(self.samples.gaps),
                "device_lost": self.samples.device_lost, "device_gaps": len(self.samples.device_gaps),
                "retries": self.retries, "device_tx_dropped": self.tx_dropped,
                "device_tx_dropped_samples": self.tx_dropped_samples}

    def describe_stats(self):
        s = self.stats()
        parts = ["%d samples, %s" % (s["samples"], self.samples.describe())]
        if s["garbage_bytes"] or s["bad_frames"]:
            parts.append("%d bytes of other output (REPL, boot messages) and %d damaged frames skipped" % (
                s["garbage_bytes"], s["bad_frames"]))
        if s["device_tx_dropped"]:
            parts.append(describe_tx_dropped(s["device_tx_dropped"], s["device_tx_dropped_samples"]))
        if s["retries"]:
            parts.append("%d commands repeated" % s["retries"])
        return "; ".join(parts)


def describe_tx_dropped(frames, samples):
    """What the device said it could not send (STATUS tx_dropped)."""
    return ("the device dropped %d frame%s (%d samples) it could not send: its serial port was full "
            "(the host did not read in time)" % (frames, "" if frames == 1 else "s", samples))


def _versions_hint(device_version=None):
    if device_version is not None and device_version > proto.PROTOCOL_VERSION:
        return "update the host tools (git pull && make setup, or pip install -U heeldrop)"
    return "update the firmware with `heeldrop deploy`"


def check_hello(hello, name):
    """VersionError when the HELLO names a protocol other than ours."""
    v = hello.get("protocol")
    if not isinstance(v, int):
        raise VersionError("%s: the firmware's HELLO names no protocol version; update it with `heeldrop deploy`" % name)
    if v != proto.PROTOCOL_VERSION:
        older = v < proto.PROTOCOL_VERSION
        raise VersionError("%s: firmware %s speaks protocol %d, this heeldrop speaks %d: the firmware is %s; %s" % (
            name, hello.get("firmware", "?"), v, proto.PROTOCOL_VERSION, "older" if older else "newer",
            _versions_hint(v)))


class SerialTransport(Transport):
    """A USB serial port (pyserial). DTR and RTS are set low before the port is
    opened, so that opening it does not reset an ESP32 (RTS low = EN high)."""

    def __init__(self, port, baud=115200, exclusive=True):
        super().__init__()
        self.name = port
        try:
            import serial
        except ImportError:
            raise TransportError("pyserial is not installed: pip install pyserial (or make setup)")
        self._serial_mod = serial
        s = serial.Serial()
        s.port = port
        s.baudrate = baud
        s.timeout = 0.1
        s.write_timeout = 5
        s.dtr = False
        s.rts = False
        if exclusive:
            try:
                s.exclusive = True
            except (AttributeError, ValueError):
                pass
        self._timeout = 0.1
        try:
            s.open()
        except (serial.SerialException, OSError, ValueError) as e:
            raise port_error(port, e)
        self.ser = s

    def _read(self, timeout):
        s = self.ser
        try:
            if timeout != self._timeout:
                s.timeout = timeout
                self._timeout = timeout
            data = s.read(1)  # blocks until a byte or the timeout
            if data:
                n = s.in_waiting
                if n:
                    data += s.read(n)
            return data
        except (self._serial_mod.SerialException, OSError, TypeError, AttributeError) as e:
            raise DisconnectedError("%s: the board went away (unplugged or reset?): %s" % (self.name, _one(e)))

    def _write(self, data):
        try:
            self.ser.write(data)
        except (self._serial_mod.SerialException, OSError, TypeError, AttributeError) as e:
            raise DisconnectedError("%s: the board went away (unplugged or reset?): %s" % (self.name, _one(e)))

    def close(self):
        s = getattr(self, "ser", None)
        if s is not None:
            try:
                s.close()
            except Exception:
                pass
            self.ser = None


def _one(e):
    return " ".join(str(e).split()) or type(e).__name__


def port_error(port, e):
    """PortError with one line for pyserial's (or the OS's) failure to open port."""
    no = getattr(e, "errno", None)
    text = _one(e)
    if no in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in text.lower() or "busy" in text.lower():
        return PortError("%s is busy: another program (a serial monitor, mpremote, another heeldrop) has it open; "
                         "close that program and try again" % port)
    if no == errno.ENOENT or "No such file" in text or "FileNotFoundError" in text:
        return PortError("%s: no such port; `heeldrop ports` lists the boards connected" % port)
    if no == errno.EACCES or "ermission" in text:
        return PortError("%s: permission denied; on Linux add yourself to the dialout group "
                         "(sudo usermod -aG dialout $USER, then log in again)" % port)
    if no in (errno.ENOTTY, errno.EINVAL) or "Inappropriate ioctl" in text or "not a terminal" in text.lower():
        return PortError("%s is not a serial port; `heeldrop ports` lists the boards connected" % port)
    if no == errno.EISDIR or os.path.isdir(port):
        return PortError("%s is a folder, not a serial port" % port)
    return PortError("%s: cannot open the port: %s" % (port, text))


class FileTransport(Transport):
    """A recorded byte stream (a file or bytes): for replays and tests. What is
    written goes to .written."""

    def __init__(self, source, chunk=4096, name=None):
        super().__init__()
        if isinstance(source, (bytes, bytearray)):
            self._data = bytes(source)
            self.name = name or "<bytes>"
        else:
            self.name = name or os.fspath(source)
            try:
                with open(source, "rb") as f:
                    self._data = f.read()
            except OSError as e:
                raise PortError("%s: cannot read (%s)" % (self.name, e.strerror or e))
        self._pos = 0
        self._chunk = chunk
        self.written = bytearray()

    def _read(self, timeout):
        if self._pos >= len(self._data):
            self.eof = True
            return b""
        data = self._data[self._pos:self._pos + self._chunk]
        self._pos += len(data)
        return data

    def _write(self, data):
        self.written += data


# -- finding the board

def list_ports():
    """[(device, description, vid, pid, serial_number, known_name, likely_board)] of the serial ports."""
    try:
        from serial.tools import list_ports as lp
    except ImportError:
        raise TransportError("pyserial is not installed: pip install pyserial (or make setup)")
    out = []
    for p in sorted(lp.comports(), key=lambda p: p.device):
        known, likely = None, False
        if p.vid is not None:
            for vid, pid, nm, lk in USB_IDS:
                if p.vid == vid and (pid is None or p.pid == pid):
                    known, likely = nm, lk
                    break
        out.append((p.device, p.description or "", p.vid, p.pid, p.serial_number, known, likely))
    return out


def add_port_argument(p):
    p.add_argument("--port", "-p", metavar="PORT", default=os.environ.get("HEELDROP_PORT") or None,
                   help="serial port of the board (default: $HEELDROP_PORT, else the one board found)")


def pick_port(port=None):
    """The port to use: the one given, else the one likely board found."""
    if port:
        return port
    ports = list_ports()
    boards = [p for p in ports if p[6]]
    if not boards:
        boards = [p for p in ports if p[2] is not None]  # any USB serial port
    if len(boards) == 1:
        return boards[0][0]
    if not boards:
        raise PortError("no board found: plug one in (a data cable, not a charge-only one), or pass --port PORT "
                        "(or set HEELDROP_PORT); with no hardware, `heeldrop sim --pty` makes a virtual one")
    raise PortError("%d boards found (%s): choose one with --port PORT or HEELDROP_PORT" % (
        len(boards), ", ".join("%s %s" % (b[0], b[5] or b[1]) for b in boards)))


def open_device(port=None, connect=True, timeout=3.0):
    """SerialTransport on the chosen port, with its HELLO checked (connect=True)."""
    t = SerialTransport(pick_port(port))
    if connect:
        try:
            t.connect(timeout=timeout)
        except BaseException:
            t.close()
            raise
    return t
