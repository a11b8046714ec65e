"""A pseudo-terminal relay that injects garbage into a serial stream (tests).

    with GarbageProxy(sim.port, every=4000) as px:
        t = SerialTransport(px.path)     # sees the device's bytes plus noise

Device-to-host: after about every `every` bytes, one piece of noise (a REPL
banner, a traceback line, random bytes, a stray frame start) is inserted at
whatever point the stream is, so it may cut a frame in two. Host-to-device:
with to_device, noise (never a Ctrl-C) goes in before some writes as well.
"""
import os
import random
import select
import threading
import tty

NOISE = (
    b"\r\nMicroPython v1.24.1 on 2024-11-29; ESP32 module with ESP32\r\nType \"help()\" for more information.\r\n>>> ",
    b"Traceback (most recent call last):\r\n  File \"main.py\", line 1\r\nOSError: [Errno 5] EIO\r\n",
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
    b"\xc0\x01\x02\x07",  # a frame start cut off
)


class GarbageProxy:
    def __init__(self, port, every=4000, seed=1, to_device=False):
        self.up = os.open(port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.up)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.every = every
        self.rnd = random.Random(seed)
        self.to_device = to_device
        self.injected = 0
        self._stop = False
        self._th = threading.Thread(target=self._run, daemon=True)

    def _noise(self, to_device=False):
        k = self.rnd.randrange(len(NOISE) + 1)
        if k == len(NOISE):
            data = bytes(self.rnd.randrange(256) for _ in range(self.rnd.randrange(1, 40)))
        else:
            data = NOISE[k]
        if to_device:
            data = data.replace(b"\x03", b"")
        self.injected += len(data)
        return data

    def _run(self):
        count = 0
        writes = 0
        while not self._stop:
            try:
                r, _, _ = select.select([self.up, self.master], [], [], 0.2)
            except (OSError, ValueError):
                return
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    self._stop = True
                    break
                try:
                    if fd == self.up:
                        count += len(data)
                        if count >= self.every:
                            count = 0
                            cut = self.rnd.randrange(len(data) + 1)
                            data = data[:cut] + self._noise() + data[cut:]
                        os.write(self.master, data)
                    else:
                        writes += 1
                        if self.to_device and writes % 7 == 0:
                            data = self._noise(True) + data
                        os.write(self.up, data)
                except OSError:
                    self._stop = True
                    break

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._th.join(2)
        for fd in (self.up, self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        return False
