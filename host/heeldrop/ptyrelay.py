"""The virtual device's serial port: two pseudo terminals joined by a relay
(as socat does), used by `heeldrop sim --pty` (cmd_sim.serve_pty).

    relay = PtyRelay(m_dev, m_cli, cli_path)
    while device_alive():
        relay.step(0.2)

m_dev is the master of the pty the firmware's stdin/stdout is (raw); m_cli
the master of the pty clients open (cli_path, the port heeldrop and mpremote
use). The relay keeps no descriptor of the client's side open, so it sees
whether a client has the port open (the master polls POLLHUP when none has):

- A client has the port open: nothing is lost either way. The relay holds at
  most one read (4 KB) it could not pass on yet, and reads no more from a
  side until the other side took it: a client that stops reading fills the
  client pty's buffer (about 12 KB), then the relay's, then the device's pty,
  and then the firmware's write to its stdout blocks, as a board's USB write
  waits while the host is not reading. The firmware's virtual clock does not
  move while it waits (firmware/sim/runner.py: host load changes the pace,
  never the data), so a starved client slows the device down and costs no
  sample, no byte and no frame. Input goes the same way to the device.
- Nobody has the port open: the device's output is read and thrown away (a
  board whose USB port no host has open never blocks on it; nobody is there
  to lose it), counted in `discarded`. When the last client closes, the
  bytes it had not read yet go too (what was queued for it in the relay and
  in the port), so the next client starts on fresh output, as after
  reopening a board's port.
"""
import errno
import os
import select

CHUNK = 4096


class PtyRelay:
    def __init__(self, dev, cli, cli_path):
        self.dev = dev
        self.cli = cli
        self.cli_path = cli_path
        os.set_blocking(dev, False)
        os.set_blocking(cli, False)
        self.to_cli = bytearray()  # read from the device, not yet taken by the client's pty
        self.to_dev = bytearray()  # read from the client, not yet taken by the device's pty
        self.client = False  # a client has the port open
        self.dev_closed = False
        # device bytes thrown away: read while no client had the port open, or
        # held in the relay for a client that closed (not counted: what that
        # client left unread in the port itself, flushed too)
        self.discarded = 0
        self.relayed = 0  # device bytes passed on to a client
        self.opened = 0  # how many times a client opened the port
        self._probe = select.poll()
        self._probe.register(cli, select.POLLIN)

    # ------------------------------------------------------------ client presence
    def _present(self):
        """True while some process has the client side of the port open."""
        for _fd, ev in self._probe.poll(0):
            if ev & select.POLLHUP:
                return False
        return True

    def _update_client(self):
        present = self._present()
        if present and not self.client:
            self.client = True
            self.opened += 1
        elif not present and self.client:
            self.client = False
            while self._read_cli():  # what it wrote before it closed still reaches the device
                pass
            self.discarded += len(self.to_cli)
            self.to_cli = bytearray()
            self._flush_port()

    def _flush_port(self):
        """Drop what the last client left unread in the port (the kernel keeps
        a slave's input across a close while the master is open)."""
        try:
            fd = os.open(self.cli_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            import termios

            termios.tcflush(fd, termios.TCIFLUSH)
        except (OSError, ImportError):
            pass
        finally:
            os.close(fd)

    # ------------------------------------------------------------ moving bytes
    def _read_dev(self):
        try:
            data = os.read(self.dev, CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: the device's side is closed (the process ended)
            data = b""
        if not data:
            self.dev_closed = True
            return
        if self.client:
            self.to_cli += data
        else:
            self.discarded += len(data)

    def _read_cli(self):
        """Read what the client sent (one chunk); returns the bytes read."""
        try:
            data = os.read(self.cli, CHUNK)
        except (BlockingIOError, OSError):  # EIO: no client (any more)
            return 0
        self.to_dev += data
        return len(data)

    def _write(self, fd, buf):
        """Write what the pty takes now; returns the bytes written."""
        if not buf:
            return 0
        try:
            n = os.write(fd, buf)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno in (errno.EIO, errno.EAGAIN):
                return 0
            raise
        del buf[:n]
        return n

    def step(self, timeout):
        """Wait up to timeout seconds for something to move, move it."""
        self._update_client()
        p = select.poll()
        dev_ev = 0
        # read the device only when what it sent last was taken (backpressure)
        if not self.dev_closed and not self.to_cli:
            dev_ev |= select.POLLIN
        if self.to_dev:
            dev_ev |= select.POLLOUT
        if dev_ev:
            p.register(self.dev, dev_ev)
        wait = timeout
        if self.client:
            cli_ev = (0 if self.to_dev else select.POLLIN) | (select.POLLOUT if self.to_cli else 0)
            p.register(self.cli, cli_ev)  # POLLHUP wakes it when the client closes
        else:
            wait = min(timeout, 0.02)  # look for a client opening the port now and then
        ready = dict(p.poll(int(wait * 1000)))
        dev_r = ready.get(self.dev, 0)
        cli_r = ready.get(self.cli, 0)
        if dev_r & (select.POLLIN | select.POLLHUP | select.POLLERR) and dev_ev & select.POLLIN:
            self._read_dev()
        if dev_r & (select.POLLOUT | select.POLLERR):
            self._write(self.dev, self.to_dev)
        if self.client:
            if cli_r & select.POLLIN and not self.to_dev:
                self._read_cli()
                self._write(self.dev, self.to_dev)
            if self.to_cli:
                self.relayed += self._write(self.cli, self.to_cli)
            if cli_r & select.POLLHUP:
                self._update_client()
