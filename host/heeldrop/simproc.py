"""Start and stop the virtual device (`heeldrop sim --pty`) as a child process.

    with SimProcess(trace, speed=8, flash=dir) as sim:
        sim.port            # the pseudo terminal's path, as the sim printed it
        ...                 # SerialTransport(sim.port), mpremote connect sim.port resume ...
    # the process (and the MicroPython port under it) is stopped on exit

Used by `heeldrop demo`, the end-to-end tests and the link bench.
"""
import os
import re
import select
import signal
import subprocess
import sys
import time

from heeldrop.errors import UserError

_PTY_RE = re.compile(r"(/dev/(?:pts/\d+|tty[A-Za-z0-9]+)|/\S*pty\S*)")


class SimProcess:
    def __init__(self, trace, speed=None, flash=None, extra=(), start_timeout=30.0, log=None):
        self.trace = trace
        self.speed = speed
        self.flash = flash
        self.extra = list(extra)
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.lines = []
        self.log = log

    def argv(self):
        exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
        base = [exe] if os.path.exists(exe) else [sys.executable, "-m", "heeldrop.cli"]
        a = base + ["sim", "--pty", "--trace", self.trace]
        a += ["--speed", "max" if self.speed is None else ("%g" % self.speed)]
        if self.flash:
            a += ["--flash", self.flash]
        return a + self.extra

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while self.port is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise UserError("the virtual device did not print its port within %.0f s: %s" % (
                    self.start_timeout, " | ".join(self.lines[-3:]) or "no output"), 1)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                self.stop()
                raise UserError("the virtual device stopped at start: %s" % (" | ".join(self.lines[-3:]) or "no output"), 1)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").rstrip()
                self.lines.append(text)
                m = _PTY_RE.search(text)
                if m and os.path.exists(m.group(1)):
                    self.port = m.group(1)
                    break
        # keep draining its output so the child never blocks on a full pipe
        import threading
        self._drain = threading.Thread(target=self._reader, args=(buf,), daemon=True)
        self._drain.start()
        return self

    def _reader(self, rest):
        try:
            for line in ([rest] if rest else []) + list(iter(self.proc.stdout.readline, b"")):
                text = line.decode("utf-8", "replace").rstrip()
                if text:
                    self.lines.append(text)
                    del self.lines[:-200]
                    if self.log:
                        self.log(text)
        except (ValueError, OSError):
            pass

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """Kill it hard (an unplug): SIGKILL to its process group."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        try:
            self.proc.stdout.close()
        except (OSError, ValueError):
            pass

    def __enter__(self):
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
