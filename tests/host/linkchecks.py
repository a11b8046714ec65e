"""Link checks shared by the end-to-end tests on the virtual device
(test_e2e_pty.py) and the hardware-in-the-loop tests (tests/hil)."""
import os
import subprocess
import sys
import time

from heelcore import proto
from heeldrop.transport import open_device

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


class Capture:
    """Every sample received (seq -> counts) and the transport's counters."""

    def __init__(self):
        self.samples = {}
        self.order = []
        self.recording = False
        self.stopped = False  # the device stopped recording (the sim's trace ended)

    def __call__(self, f):
        if getattr(f, "bad", None):
            return
        if f.type in (proto.T_SAMPLES, proto.T_SAMPLES_PACKED):
            for s in f.samples:
                self.samples[s[0]] = tuple(s[2:8])
                self.order.append(s[0])
        elif f.type == proto.T_STATUS:
            try:
                st = proto.parse_json(f.payload)
            except ValueError:
                return
            if isinstance(st, dict):
                if st.get("recording"):
                    self.recording = True
                elif self.recording or st.get("phase") == "idle":
                    self.stopped = True


def stopped(cap):
    return cap.stopped


def live_capture(t, until=stopped, timeout=300.0, tail=1.0):
    """Read frames from an open transport until until(capture) is true (then tail s more)."""
    cap = Capture()
    for f in list(t._backlog):
        cap(f)
    t.discard_backlog()
    end = time.monotonic() + timeout
    done_at = None
    while time.monotonic() < end:
        f = t.next_frame(0.2)
        if f is not None:
            cap(f)
        if done_at is None and until(cap):
            done_at = time.monotonic()
        if done_at is not None and time.monotonic() - done_at > tail:
            break
    return cap


def log_samples(path_or_bytes):
    from heelcore.record import LogReader
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    return LogReader(data).samples()


def mpremote(port, *args, timeout=120, cwd=None):
    exe = [MPREMOTE] if os.path.exists(MPREMOTE) else [sys.executable, "-m", "mpremote"]
    return subprocess.run(exe + ["connect", port, "resume"] + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def open_port(port, timeout=10.0):
    return open_device(port, timeout=timeout)
