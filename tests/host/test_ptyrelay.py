"""The virtual device's serial port relay (heeldrop.ptyrelay, behind
`heeldrop sim --pty`), on two real pseudo terminals with a thread playing the
firmware's stdio: lossless both ways while a client has the port open (a
client that reads nothing holds the writer back), output thrown away only
while nobody has the port open, nothing stale for the next client.
No timed assertions: byte counts and contents only (the waits are guards)."""
import os
import pty
import select
import threading
import time
import tty

import pytest

from heeldrop.ptyrelay import PtyRelay

TOTAL = 1024 * 1024  # far more than the ptys and the relay hold together (about 40 KB here; 140 KB
# with the 64 KB pty buffers of some kernels)


def pattern(n, salt=0):
    return bytes((i * 7 + (i >> 8) + salt) & 0xFF for i in range(n))


def wait_for(cond, what, timeout=30.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


class Rig:
    """The two ptys of cmd_sim.serve_pty, the relay stepping in a thread;
    self.dev is the firmware's stdin/stdout (blocking, as the unix port's)."""

    def __init__(self):
        self.m_dev, self.dev = pty.openpty()
        self.m_cli, s_cli = pty.openpty()
        tty.setraw(self.dev)
        tty.setraw(s_cli)
        self.path = os.ttyname(s_cli)
        os.close(s_cli)
        self.relay = PtyRelay(self.m_dev, self.m_cli, self.path)
        self._stop = False
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self._stop:
                self.relay.step(0.05)
        except Exception as e:  # reported by close()
            self.error = e

    def open_client(self):
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
        wait_for(lambda: self.relay.client, "the relay to see the client")
        return fd

    def close(self):
        self._stop = True
        self.thread.join(10)
        for fd in (self.dev, self.m_dev, self.m_cli):
            os.close(fd)
        assert self.error is None, self.error


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


class Writer(threading.Thread):
    """Writes data to fd in 1 KB blocking writes, counting what it got rid of."""

    def __init__(self, fd, data):
        super().__init__(daemon=True)
        self.fd, self.data, self.done = fd, data, 0

    def run(self):
        mv = memoryview(self.data)
        while self.done < len(self.data):
            self.done += os.write(self.fd, mv[self.done:self.done + 1024])


def read_exactly(fd, n, timeout=60.0):
    """n bytes from fd (fewer if they do not come within timeout: a guard)."""
    out = bytearray()
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        if select.select([fd], [], [], 0.5)[0]:
            out += os.read(fd, n - len(out))
    return bytes(out)


def test_a_client_that_stops_reading_holds_the_writer_back_and_gets_every_byte(rig):
    cli = rig.open_client()
    data = pattern(TOTAL)
    w = Writer(rig.dev, data)
    w.start()
    head = read_exactly(cli, 1000)
    # the client reads nothing: the ptys and the relay fill, then the writer
    # blocks (a board's USB write waiting for the host)
    wait_for(lambda: rig.relay.relayed >= 8 * 1024, "the client's pty to fill")
    time.sleep(1.0)  # a pause of the client's, not a bound: the counts below are what is checked
    held = w.done
    assert held < TOTAL // 2, held  # held back: it got rid of less than half (what the buffers hold)
    rest = read_exactly(cli, TOTAL - 1000)
    w.join(30)
    assert head + rest == data  # every byte, in order, none doubled
    assert w.done == TOTAL and rig.relay.discarded == 0
    os.close(cli)


def test_input_from_the_client_reaches_a_device_that_is_slow_to_read(rig):
    cli = rig.open_client()
    data = pattern(TOTAL, salt=3)
    w = Writer(cli, data)
    w.start()
    wait_for(lambda: w.done > 8 * 1024, "the client to write")
    time.sleep(1.0)  # the device reads nothing for a while
    assert w.done < TOTAL // 2, w.done
    got = read_exactly(rig.dev, TOTAL)
    w.join(30)
    assert got == data
    os.close(cli)


def test_with_no_client_the_output_is_thrown_away_and_the_writer_never_blocks(rig):
    data = pattern(TOTAL, salt=5)
    w = Writer(rig.dev, data)
    w.start()
    w.join(60)
    assert w.done == TOTAL  # never held back with nobody on the port
    wait_for(lambda: rig.relay.discarded == TOTAL, "the relay to read it all")
    assert rig.relay.relayed == 0 and not rig.relay.client


def test_the_next_client_gets_nothing_the_last_one_left_unread(rig):
    a = rig.open_client()
    os.write(rig.dev, b"A" * 3000)
    wait_for(lambda: rig.relay.relayed == 3000, "the bytes to reach client A's pty")
    os.close(a)  # with the 3000 bytes unread
    wait_for(lambda: not rig.relay.client, "the relay to see the client go")
    b = rig.open_client()
    os.write(rig.dev, b"B" * 100)
    got = read_exactly(b, 100)
    assert got == b"B" * 100, got[:20]
    os.set_blocking(b, False)
    with pytest.raises(BlockingIOError):
        os.read(b, 1)  # and nothing more
    os.close(b)
    assert rig.relay.opened == 2


def test_what_a_client_writes_before_it_closes_still_reaches_the_device(rig):
    a = rig.open_client()
    os.write(a, b"\x03hello")  # e.g. a Ctrl-C, then the port closed at once
    os.close(a)
    assert read_exactly(rig.dev, 6) == b"\x03hello"
