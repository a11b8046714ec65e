"""The host transport: robust framing over noisy streams, gaps, DTR/RTS, errors."""
import sys
import types

import pytest

from heelcore import proto
from heeldrop import transport as tp
from heeldrop.transport import FileTransport, SampleTracker, SerialTransport

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from fakedevice import FakeDevice, frame_body, reframe  # noqa: E402

HELLO = {"protocol": 1, "firmware": "0.1.0", "board": "pico", "imu": "mpu6050", "rate_hz": 100,
         "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "max_payload": 2048}


def samples_frames(first_seq, count, per=10, seq0=0, skip=()):
    """SAMPLES frames for samples first_seq.. (skipping the seqs in skip)."""
    out = []
    b = proto.SampleBatch(per)
    fseq = seq0
    for i in range(count):
        s = first_seq + i
        if s in skip:
            if b.n:
                out.append(proto.encode_frame(proto.T_SAMPLES, fseq, bytes(b.payload())))
                fseq += 1
                b.clear()
            continue
        if not b.add(s, 10 * s, 1, 2, 8192, -3, 4, 5):
            out.append(proto.encode_frame(proto.T_SAMPLES, fseq, bytes(b.payload())))
            fseq += 1
            b.clear()
            b.add(s, 10 * s, 1, 2, 8192, -3, 4, 5)
    if b.n:
        out.append(proto.encode_frame(proto.T_SAMPLES, fseq, bytes(b.payload())))
    return out


def drain(t):
    # every frame of a recorded stream, however slow the machine (a None
    # before the end of the stream is only a timeout)
    frames = []
    while True:
        f = t.next_frame(0.01)
        if f is None:
            if t.eof:
                break
            continue
        frames.append(f)
    return frames


def test_clean_stream_all_samples():
    data = b"".join(samples_frames(0, 1000))
    t = FileTransport(data, chunk=97)
    drain(t)
    assert t.samples.received == 1000
    assert t.samples.lost == 0
    assert t.stats()["garbage_bytes"] == 0 and t.stats()["bad_frames"] == 0


def test_boot_banner_and_repl_noise_are_skipped_and_counted():
    banner = (b"ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET),boot:0x13\r\nMicroPython v1.24.1 on 2024-11-29; "
              b"ESP32 module with ESP32\r\nType \"help()\" for more information.\r\n>>> \x1b[K")
    frames = samples_frames(0, 200)
    data = banner + b"".join(frames[:5]) + b"Traceback (most recent call last):\r\n  oops\r\n" + b"".join(frames[5:])
    t = FileTransport(data, chunk=13)
    drain(t)
    s = t.stats()
    assert t.samples.received == 200 and t.samples.lost == 0
    assert s["garbage_bytes"] == len(banner) + len(b"Traceback (most recent call last):\r\n  oops\r\n")
    assert s["resyncs"] >= 1
    assert "bytes of other output" in t.describe_stats()


def test_corrupted_frames_resync_and_report():
    frames = samples_frames(0, 300)
    bad = bytearray(frames[3])
    bad[len(bad) // 2] ^= 0x55  # damaged in transit
    if bad[len(bad) // 2] in proto.RESERVED:
        bad[len(bad) // 2] = 0x41
    cut = frames[7][: len(frames[7]) // 2]  # a frame cut off (a reset mid-frame)
    data = b"".join(frames[:3]) + bytes(bad) + b"".join(frames[4:7]) + cut + b"".join(frames[8:])
    t = FileTransport(data, chunk=64)
    drain(t)
    assert t.stats()["bad_frames"] == 2
    assert t.samples.received == 300 - 20
    assert t.samples.gaps == [(30, 10), (70, 10)]
    assert t.samples.lost == 20


def test_random_garbage_never_raises():
    import random
    rnd = random.Random(7)
    frames = samples_frames(0, 500)
    parts = []
    for f in frames:
        parts.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 30))))
        parts.append(f)
    t = FileTransport(b"".join(parts), chunk=31)
    drain(t)
    # garbage can at worst cut a frame (a stray 0xC0 before its end is not possible: it comes between frames)
    assert t.samples.received == 500 and t.samples.lost == 0
    assert t.stats()["garbage_bytes"] > 0


def test_dropped_sample_seqs_reported():
    t = FileTransport(b"".join(samples_frames(0, 100, skip={17, 18, 19, 60})))
    drain(t)
    assert t.samples.gaps == [(17, 3), (60, 1)]
    assert t.samples.lost == 4
    assert "4 samples lost on the link in 2 gaps" in t.samples.describe()


def test_sample_tracker_wraps_u32():
    st = SampleTracker()
    st.feed([(0xFFFFFFFE,), (0xFFFFFFFF,), (0,), (2,)])
    assert st.gaps == [(1, 1)] and st.lost == 1
    st.feed([(0,)])  # went back: a restart, not a gap
    assert st.restarts == 1 and st.lost == 1


def test_payload_with_good_crc_but_bad_content_is_counted_not_raised():
    f = proto.encode_frame(proto.T_SAMPLES, 0, b"\x00\x01\x02")  # too short a batch
    t = FileTransport(f + b"".join(samples_frames(0, 10, seq0=1)))
    frames = drain(t)
    assert t.stats()["bad_frames"] == 1
    assert t.samples.received == 10
    assert any(getattr(x, "bad", None) for x in frames)


def test_other_protocol_version_is_ignored_and_reported():
    f = proto.encode_frame(proto.T_HELLO, 0, proto.json_payload(dict(HELLO, protocol=2)))
    body = frame_body(f)
    f2 = reframe(bytes((2,)) + body[1:-2])
    t = FileTransport(f2)
    with pytest.raises(tp.VersionError) as e:
        t.connect(timeout=0.2)
    assert "protocol 2" in str(e.value) and "update the host tools" in str(e.value)


def test_hello_version_checks():
    tp.check_hello(HELLO, "X")
    with pytest.raises(tp.VersionError, match="older.*heeldrop deploy"):
        tp.check_hello(dict(HELLO, protocol=0), "X")
    with pytest.raises(tp.VersionError, match="newer.*host tools"):
        tp.check_hello(dict(HELLO, protocol=7), "X")


def test_no_firmware_message_quotes_what_the_board_printed():
    t = FileTransport(b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040\r\n>>> ", name="/dev/ttyACM0")
    with pytest.raises(tp.NoFirmwareError) as e:
        t.connect(timeout=0.2)
    msg = str(e.value)
    assert msg.startswith("no heeldrop firmware answered on /dev/ttyACM0")
    assert "MicroPython v1.24.1" in msg and "heeldrop deploy" in msg
    assert "\n" not in msg


def test_command_over_file_transport_and_hello_frame():
    hello = proto.encode_frame(proto.T_HELLO, 0, proto.json_payload(HELLO))
    t = FileTransport(hello)
    assert t.connect(timeout=0.5)["board"] == "pico"
    assert t.written  # it asked


# -- DTR/RTS: set low before the port is opened (mock pyserial)

class _FakeSerial:
    log = []

    def __init__(self, *a, **kw):
        assert not a and not kw, "must be created unopened"
        self.is_open = False
        self.__dict__["_attrs"] = {}

    def __setattr__(self, k, v):
        if k in ("dtr", "rts", "port", "baudrate", "exclusive"):
            _FakeSerial.log.append((k, v, self.is_open))
        object.__setattr__(self, k, v)

    def open(self):
        _FakeSerial.log.append(("open", None, False))
        self.is_open = True

    def close(self):
        self.is_open = False


def _fake_serial_module(serial_cls):
    m = types.ModuleType("serial")
    m.Serial = serial_cls

    class SerialException(OSError):
        pass

    m.SerialException = SerialException
    return m


def test_dtr_rts_low_before_open(monkeypatch):
    _FakeSerial.log = []
    monkeypatch.setitem(sys.modules, "serial", _fake_serial_module(_FakeSerial))
    t = SerialTransport("/dev/ttyUSB0")
    log = _FakeSerial.log
    names = [x[0] for x in log]
    assert ("dtr", False, False) in log and ("rts", False, False) in log
    assert names.index("dtr") < names.index("open") and names.index("rts") < names.index("open")
    assert ("port", "/dev/ttyUSB0", False) in log
    t.close()


@pytest.mark.parametrize("exc,expect", [
    (OSError(2, "could not open port /dev/x: [Errno 2] No such file or directory"), "no such port"),
    (OSError(16, "could not open port: [Errno 16] Device or resource busy"), "is busy"),
    (OSError(11, "Could not exclusively lock port /dev/x: [Errno 11] Resource temporarily unavailable"), "is busy"),
    (OSError(13, "could not open port: [Errno 13] Permission denied"), "dialout"),
    (OSError(25, "Inappropriate ioctl for device"), "not a serial port"),
    (OSError(5, "weird"), "cannot open the port"),
])
def test_open_errors_are_one_line(monkeypatch, exc, expect):
    class Failing(_FakeSerial):
        def open(self):
            raise exc

    monkeypatch.setitem(sys.modules, "serial", _fake_serial_module(Failing))
    with pytest.raises(tp.PortError) as e:
        SerialTransport("/dev/x")
    assert expect in str(e.value) and "\n" not in str(e.value)
    assert e.value.code == 2


def test_unplug_mid_read_is_disconnected_error():
    dev = FakeDevice().start()
    t = SerialTransport(dev.path)
    try:
        t.connect(timeout=2)
        dev.unplug()
        with pytest.raises(tp.DisconnectedError) as e:
            for _ in range(50):
                t.command("free_space", timeout=0.2, retries=0)
        assert "went away" in str(e.value) and e.value.code == 4
    except tp.CommandTimeout:
        pytest.fail("an unplug must be reported as such, not as a timeout")
    finally:
        t.close()
        dev.stop()


def test_commands_over_a_pty():
    dev = FakeDevice(sessions={3: b"HDLG\x01" + bytes(range(256)) * 10}).start()
    t = SerialTransport(dev.path)
    try:
        assert t.connect(timeout=2)["board"] == "fake"
        assert t.command("list_sessions")["sessions"][0]["id"] == 3
        c = t.command("read_session", {"id": 3, "offset": 0, "length": 1024})
        assert c["ok"] and c["offset"] == 0 and len(c["data"]) == 1024 and c["total"] == 2565
        with pytest.raises(tp.DeviceError) as e:
            t.command("read_session", {"id": 9, "offset": 0, "length": 10})
        assert e.value.name == "not_found"
        with pytest.raises(tp.DeviceError, match="older firmware"):
            t.command("frobnicate")
    finally:
        t.close()
        dev.stop()


def test_pick_port(monkeypatch):
    ports = []
    monkeypatch.setattr(tp, "list_ports", lambda: ports)
    with pytest.raises(tp.PortError, match="no board found"):
        tp.pick_port(None)
    ports.append(("/dev/ttyACM0", "Board in FS mode", 0x2E8A, 0x0005, "e66", "Raspberry Pi RP2040/RP2350 (Pico)", True))
    ports.append(("/dev/ttyS0", "ttyS0", None, None, None, None, False))
    assert tp.pick_port(None) == "/dev/ttyACM0"
    ports.append(("/dev/ttyUSB0", "CP2102", 0x10C4, 0xEA60, "01", "Silicon Labs CP210x", True))
    with pytest.raises(tp.PortError, match="2 boards found.*ttyACM0.*ttyUSB0"):
        tp.pick_port(None)
    assert tp.pick_port("/dev/ttyUSB0") == "/dev/ttyUSB0"


def test_frames_arriving_during_a_command_are_kept_for_next_frame():
    hello = proto.encode_frame(proto.T_HELLO, 5, proto.json_payload(HELLO))
    t = FileTransport(b"".join(samples_frames(0, 30)) + hello)
    t.connect(timeout=0.5)
    got = [f for f in drain(t) if f.type == proto.T_SAMPLES]
    assert sum(len(f.samples) for f in got) == 30


def test_the_devices_own_gaps_are_not_link_losses():
    # issue 13.16: GAP frames announce what the sensor lost; only the rest of
    # a jump in seq is lost on the link
    from heeldrop.transport import SampleTracker

    t = SampleTracker()
    t.feed([(i,) for i in range(10)])
    t.device_gap(10, 250, 3)  # unplugged: 250 samples never made
    t.feed([(i,) for i in range(260, 270)])
    assert t.lost == 0 and t.device_lost == 250 and t.gaps == []
    t.feed([(i,) for i in range(275, 280)])  # 5 lost on the wire
    assert t.lost == 5 and t.gaps == [(270, 5)]
    t.feed([(i,) for i in range(280, 290)])
    t.device_gap(290, 4, 1)
    t.feed([(i,) for i in range(296, 300)])  # 6 missing: 4 the device's, 2 the link's
    assert t.lost == 7 and t.device_lost == 254
    text = t.describe()
    assert "7 samples lost on the link" in text and "sensor itself lost 254 samples in 2 gaps" in text
    assert "sensor unplugged" in text and "fifo overflow" in text
    # across the u32 wrap
    t = SampleTracker()
    t.feed([(0xFFFFFFFE,)])
    t.device_gap(0xFFFFFFFF, 3, 2)
    t.feed([(2,)])
    assert t.lost == 0 and t.device_lost == 3


def test_gap_frames_reach_the_tracker():
    from heelcore import proto
    from heeldrop.transport import FileTransport

    b = proto.SampleBatch(5)
    stream = bytearray()
    seq = 0
    for first in (0, 5):
        b.clear()
        for i in range(first, first + 5):
            b.add(i, i * 10, 1, 2, 3, 4, 5, 6)
        stream += proto.encode_frame(proto.T_SAMPLES, seq, bytes(b.payload()))
        seq += 1
    stream += proto.encode_frame(proto.T_GAP, seq, proto.gap_payload(10, 40, 1))
    b.clear()
    for i in range(50, 55):
        b.add(i, i * 10, 1, 2, 3, 4, 5, 6)
    stream += proto.encode_frame(proto.T_SAMPLES, seq + 1, bytes(b.payload()))
    t = FileTransport(bytes(stream))
    while t.next_frame(0.1) is not None:
        pass
    assert t.samples.received == 15 and t.samples.lost == 0 and t.samples.device_lost == 40


def test_the_devices_own_dropped_frames_are_counted_from_the_first_status():
    # STATUS tx_dropped runs since the device's boot (a board with no host
    # on its port may have counted many): the host counts what the device
    # dropped while it listened, goes on across a device restart (the counts
    # start again from 0) and ignores a firmware that does not say
    def status(seq, **kw):
        d = dict({"phase": "idle"}, **kw)
        return proto.encode_frame(proto.T_STATUS, seq, proto.json_payload(d))

    data = b"".join([
        status(0, tx_dropped=500, tx_dropped_samples=4000),  # before this host: not counted
        status(1, tx_dropped=502, tx_dropped_samples=4010),
        status(2),  # no counts (another firmware): nothing changes
        status(3, tx_dropped=503, tx_dropped_samples=4010),  # a STATUS frame itself dropped: no samples
        status(4, tx_dropped=1, tx_dropped_samples=10),  # restarted, then dropped one more
    ])
    t = FileTransport(data, chunk=11)
    frames = drain(t)
    assert [f.status["phase"] for f in frames] == ["idle"] * 5
    s = t.stats()
    assert (s["device_tx_dropped"], s["device_tx_dropped_samples"]) == (4, 20)
    assert "the device dropped 4 frames (20 samples) it could not send" in t.describe_stats()
    t = FileTransport(status(0, tx_dropped=3, tx_dropped_samples=30))
    drain(t)
    assert t.stats()["device_tx_dropped"] == 0 and "could not send" not in t.describe_stats()


def test_live_says_at_once_what_the_device_could_not_send():
    import io

    from heeldrop.cmd_live import ingest
    from heeldrop.liveview import LiveView

    def status(seq, fr, sm):
        return proto.encode_frame(proto.T_STATUS, seq, proto.json_payload(
            {"phase": "top", "tx_dropped": fr, "tx_dropped_samples": sm}))

    data = status(0, 2, 20) + status(1, 2, 20) + status(2, 3, 30) + status(3, 3, 30)
    out = io.StringIO()
    view = LiveView(plain=True, out=out)
    ingest(FileTransport(data, chunk=7), view)
    notes = [line for line in out.getvalue().splitlines() if "could not send" in line]
    assert len(notes) == 1 and "the device dropped 1 frame (10 samples)" in notes[0], out.getvalue()
    assert view.tx_dropped == 1
